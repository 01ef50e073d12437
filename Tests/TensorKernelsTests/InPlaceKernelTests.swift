import Foundation
import Testing
import TensorKernels

/// Kernels documented as "may run in place" take a separate loop when an output is an input
/// (ElementwiseLoops.swift). Every such path must give exactly the bits of the out-of-place call.
@Suite struct InPlaceKernelTests {
    /// Runs `kernel(inputs…, output)` out of place, then again with the output aliasing input
    /// `aliased`, and expects identical bits.
    private func expectSameInPlace(
        _ name: String, inputs: [[Double]],
        _ kernel: ([UnsafePointer<Float>], UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        let count = inputs[0].count
        let tensors = inputs.map { Tensor<Float>(shape: [count], doubles: $0) }
        let expected = Tensor<Float>(shape: [count])
        kernel(tensors.map { UnsafePointer($0.pointer) }, expected.pointer, count)
        for aliased in inputs.indices {
            let copies = inputs.map { Tensor<Float>(shape: [count], doubles: $0) }
            kernel(copies.map { UnsafePointer($0.pointer) }, copies[aliased].pointer, count)
            let same = zip(copies[aliased].array, expected.array).allSatisfy { $0.bitPattern == $1.bitPattern }
            #expect(same, "\(name): output = input \(aliased), count \(count), differs from out of place")
            withExtendedLifetime(copies) {}
        }
        withExtendedLifetime(tensors) {}
        keepAlive(expected)
    }

    @Test func pointwiseKernelsGiveTheSameBitsInPlace() {
        for count in oddCounts {
            var generator = TestInputs(seed: 300 &+ UInt64(count))
            let x = generator.array(count, -7, 7), y = generator.array(count, 0.01, 0.99)
            let dy = generator.array(count)
            expectSameInPlace("add", inputs: [x, dy]) { add($0[0], $0[1], into: $1, count: $2) }
            expectSameInPlace("subtract", inputs: [x, dy]) { subtract($0[0], $0[1], into: $1, count: $2) }
            expectSameInPlace("multiply", inputs: [x, dy]) { multiply($0[0], $0[1], into: $1, count: $2) }
            expectSameInPlace("scale", inputs: [x]) { scale($0[0], by: 0.3, into: $1, count: $2) }
            expectSameInPlace("exponential", inputs: [x]) { exponential($0[0], into: $1, count: $2) }
            expectSameInPlace("sigmoid", inputs: [x]) { sigmoid($0[0], into: $1, count: $2) }
            expectSameInPlace("sigmoidBackward", inputs: [y, dy]) {
                sigmoidBackward(output: $0[0], outputGradient: $0[1], into: $1, count: $2)
            }
            expectSameInPlace("eluPlusOne", inputs: [x]) { eluPlusOne($0[0], into: $1, count: $2) }
            expectSameInPlace("eluPlusOneBackward", inputs: [x, dy]) {
                eluPlusOneBackward(input: $0[0], outputGradient: $0[1], into: $1, count: $2)
            }
            expectSameInPlace("gelu", inputs: [x]) { gelu($0[0], into: $1, count: $2) }
            expectSameInPlace("geluBackward", inputs: [x, dy]) {
                geluBackward(input: $0[0], outputGradient: $0[1], into: $1, count: $2)
            }
        }
    }

    @Test func rowKernelsGiveTheSameBitsInPlace() {
        for (rows, cols) in oddShapes {
            var generator = TestInputs(seed: UInt64(rows * 100 + cols))
            let x = generator.array(rows * cols, -3, 3), dy = generator.array(rows * cols)
            let weight = Tensor<Float>(shape: [cols], doubles: generator.array(cols, 0.5, 1.5))
            let bias = Tensor<Float>(shape: [cols], doubles: generator.array(cols))
            let mean = Tensor<Float>(shape: [rows]), rstd = Tensor<Float>(shape: [rows])
            let n = rows * cols

            // LayerNorm forward, y = x.
            expectSameInPlace("layerNorm", inputs: [x]) { inputs, y, _ in
                layerNorm(inputs[0], weight: weight.pointer, bias: bias.pointer, into: y, mean: mean.pointer,
                          rstd: rstd.pointer, rows: rows, cols: cols, epsilon: 1e-5)
            }
            // LayerNorm backward, dx = dy, with parameter gradients accumulated the same way.
            let xt = Tensor<Float>(shape: [n], doubles: x), normalized = Tensor<Float>(shape: [n])
            layerNorm(xt.pointer, weight: weight.pointer, bias: bias.pointer, into: normalized.pointer,
                      mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: cols, epsilon: 1e-5)
            var parameterGradients: [[Float]] = []
            expectSameInPlace("layerNormBackward", inputs: [dy]) { inputs, dx, _ in
                let dw = Tensor<Float>(shape: [cols]), db = Tensor<Float>(shape: [cols])
                layerNormBackward(outputGradient: inputs[0], input: xt.pointer, weight: weight.pointer,
                                  mean: mean.pointer, rstd: rstd.pointer, inputGradient: dx,
                                  weightGradient: dw.pointer, biasGradient: db.pointer, rows: rows, cols: cols)
                parameterGradients.append(dw.array + db.array)
            }
            #expect(parameterGradients.count == 2 && parameterGradients[0] == parameterGradients[1],
                    "layerNormBackward in place changes dweight/dbias (\(rows)×\(cols))")

            expectSameInPlace("softmaxRows", inputs: [x]) { inputs, y, _ in
                softmaxRows(inputs[0], into: y, rows: rows, cols: cols)
            }
            let probabilities = Tensor<Float>(shape: [n])
            softmaxRows(xt.pointer, into: probabilities.pointer, rows: rows, cols: cols)
            expectSameInPlace("softmaxRowsBackward", inputs: [dy]) { inputs, dx, _ in
                softmaxRowsBackward(output: probabilities.pointer, outputGradient: inputs[0], into: dx, rows: rows, cols: cols)
            }
            keepAlive(weight, bias, mean, rstd, xt, normalized, probabilities)
        }
    }

    @Test func crossEntropyGradientInPlaceOfLogits() {
        let rows = 5, classes = 37
        var generator = TestInputs(seed: 11)
        let logits = generator.array(rows * classes, -20, 20)
        var targets: [Int32] = (0..<rows).map { Int32($0 * 7 % classes) }
        let z = Tensor<Float>(shape: [rows * classes], doubles: logits), dz = Tensor<Float>(shape: [rows * classes])
        let inPlace = Tensor<Float>(shape: [rows * classes], doubles: logits)
        targets.withUnsafeMutableBufferPointer { t in
            let loss = softmaxCrossEntropy(logits: z.pointer, targets: t.baseAddress!, rows: rows, classes: classes,
                                           logitsGradient: dz.pointer)
            let lossInPlace = softmaxCrossEntropy(logits: inPlace.pointer, targets: t.baseAddress!, rows: rows,
                                                  classes: classes, logitsGradient: inPlace.pointer)
            #expect(loss == lossInPlace)
        }
        #expect(dz.array.map(\.bitPattern) == inPlace.array.map(\.bitPattern), "cross-entropy gradient in place")
        keepAlive(z)
    }
}
