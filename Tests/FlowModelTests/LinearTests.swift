import Testing
import TensorKernels
@testable import FlowModel

@Suite struct LinearTests {
    /// Forward against the naive sum, backward against finite differences; dW and db must be
    /// added to what the gradient buffer already holds, dx written.
    @Test(arguments: [true, false])
    func forwardAndBackward(bias: Bool) {
        let (rows, inFeatures, outFeatures) = (5, 4, 3)
        var table = ParameterTable()
        _ = table.append("before", shape: [2], decays: false)     // the layer need not start at 0
        let layer = Linear.append(to: &table, name: "fc", inFeatures: inFeatures, outFeatures: outFeatures, bias: bias)
        #expect(table["fc.weight"]?.shape == [outFeatures, inFeatures] && table["fc.weight"]?.decays == true)
        #expect(bias ? table["fc.bias"]?.decays == false : table["fc.bias"] == nil)
        var random = SeededRandom(seed: 1)
        let parameters = Tensor<Double>(shape: [table.count], values: random.normals(table.count))
        let x = Tensor<Double>(shape: [rows * inFeatures], values: random.normals(rows * inFeatures))
        let upstream = random.normals(rows * outFeatures)
        let y = Tensor<Double>(rows * outFeatures)

        layer.forward(x.pointer, rows: rows, parameters: parameters.pointer, into: y.pointer)
        var expected = [Double]()
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = bias ? parameters[layer.bias!.offset + o] : 0
                for i in 0..<inFeatures { sum += x[r * inFeatures + i] * parameters[layer.weight.offset + o * inFeatures + i] }
                expected.append(sum)
            }
        }
        #expect(relativeError(y.array, expected) < 1e-14)

        func loss() -> Double {
            layer.forward(x.pointer, rows: rows, parameters: parameters.pointer, into: y.pointer)
            return innerProduct(y.pointer, upstream)
        }
        let previous = random.normals(table.count)   // gradients from an earlier micro-batch
        let gradients = Tensor<Double>(shape: [table.count], values: previous)
        let dx = Tensor<Double>(rows * inFeatures)
        dx.fill(.nan)
        upstream.withUnsafeBufferPointer {
            layer.backward(outputGradient: $0.baseAddress!, input: x.pointer, rows: rows,
                           parameters: parameters.pointer, gradients: gradients.pointer, inputGradient: dx.pointer)
        }
        let dxError = relativeError(dx.array, finiteDifferences(of: x.pointer, count: x.count, loss: loss))
        #expect(dxError < 1e-8, "dx vs finite differences: relative error \(dxError)")
        let added = (0..<table.count).map { gradients[$0] - previous[$0] }
        let numeric = finiteDifferences(of: parameters.pointer, count: table.count, loss: loss)
        let parameterError = relativeError(added, numeric)
        #expect(parameterError < 1e-8, "dW, db vs finite differences: relative error \(parameterError)")
        #expect(added[0] == 0 && added[1] == 0, "a parameter outside the layer got a gradient")
    }
}
