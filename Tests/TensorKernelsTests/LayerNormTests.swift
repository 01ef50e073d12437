import Foundation
import Testing
import TensorKernels

private struct LayerNormProblem {
    var rows: Int, cols: Int
    var x: [Double], weight: [Double], bias: [Double], dy: [Double]

    init(rows: Int, cols: Int, seed: UInt64) {
        self.rows = rows; self.cols = cols
        var generator = TestInputs(seed: seed)
        // An offset and spread per row, as activations have.
        x = (0..<rows).flatMap { _ in
            let offset = generator.uniform(-3, 3), spread = generator.uniform(0.5, 2)
            return generator.array(cols).map { offset + spread * $0 }
        }
        weight = generator.array(cols, 0.5, 1.5)
        bias = generator.array(cols, -0.5, 0.5)
        dy = generator.array(rows * cols)
    }
}

/// LayerNorm forward in Double: (y, mean, rstd).
private func referenceForward(_ p: LayerNormProblem, x: [Double], epsilon: Double = 1e-5) -> ([Double], [Double], [Double]) {
    var y = [Double](repeating: 0, count: p.rows * p.cols), means = [Double](), rstds = [Double]()
    for i in 0..<p.rows {
        let row = x[(i * p.cols)..<((i + 1) * p.cols)]
        let mean = row.reduce(0, +) / Double(p.cols)
        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(p.cols)
        let rstd = 1 / (variance + epsilon).squareRoot()
        for j in 0..<p.cols { y[i * p.cols + j] = (x[i * p.cols + j] - mean) * rstd * p.weight[j] + p.bias[j] }
        means.append(mean); rstds.append(rstd)
    }
    return (y, means, rstds)
}

/// LayerNorm backward in Double from the textbook formula: (dx, dweight, dbias).
private func referenceBackward(_ p: LayerNormProblem) -> ([Double], [Double], [Double]) {
    let (_, means, rstds) = referenceForward(p, x: p.x)
    var dx = [Double](repeating: 0, count: p.rows * p.cols)
    var dweight = [Double](repeating: 0, count: p.cols), dbias = dweight
    let d = Double(p.cols)
    for i in 0..<p.rows {
        let n = (0..<p.cols).map { (p.x[i * p.cols + $0] - means[i]) * rstds[i] }
        let g = (0..<p.cols).map { p.dy[i * p.cols + $0] * p.weight[$0] }
        let meanG = g.reduce(0, +) / d
        let meanGN = zip(g, n).reduce(0) { $0 + $1.0 * $1.1 } / d
        for j in 0..<p.cols {
            dx[i * p.cols + j] = rstds[i] * (g[j] - meanG - n[j] * meanGN)
            dweight[j] += p.dy[i * p.cols + j] * n[j]
            dbias[j] += p.dy[i * p.cols + j]
        }
    }
    return (dx, dweight, dbias)
}

@Suite struct LayerNormTests {
    private func tolerance<Scalar: TensorScalar>(_ type: Scalar.Type) -> Tolerance {
        .forScalar(type, float: Tolerance(absolute: 5e-6, relative: 1e-5), double: Tolerance(absolute: 1e-13, relative: 1e-12))
    }

    private func checkForward<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes {
            let p = LayerNormProblem(rows: rows, cols: cols, seed: UInt64(rows * 100 + cols))
            let x = Tensor<Scalar>(shape: [rows, cols], doubles: p.x)
            let weight = Tensor<Scalar>(shape: [cols], doubles: p.weight), bias = Tensor<Scalar>(shape: [cols], doubles: p.bias)
            let y = Tensor<Scalar>(shape: [rows, cols]), mean = Tensor<Scalar>(shape: [rows]), rstd = Tensor<Scalar>(shape: [rows])
            layerNorm(x.pointer, weight: weight.pointer, bias: bias.pointer, into: y.pointer,
                      mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: cols, epsilon: 1e-5)
            var rounded = p; rounded.weight = weight.doubles; rounded.bias = bias.doubles
            let (expectedY, expectedMean, expectedRstd) = referenceForward(rounded, x: x.doubles)
            expectClose(y.doubles, expectedY, tolerance(type), "layerNorm y \(Scalar.self) \(rows)×\(cols)")
            expectClose(mean.doubles, expectedMean, tolerance(type), "layerNorm mean \(Scalar.self) \(rows)×\(cols)")
            expectClose(rstd.doubles, expectedRstd, tolerance(type), "layerNorm rstd \(Scalar.self) \(rows)×\(cols)")
            // Without saving statistics, in place: the same y.
            layerNorm(x.pointer, weight: weight.pointer, bias: bias.pointer, into: x.pointer,
                      mean: nil, rstd: nil, rows: rows, cols: cols, epsilon: 1e-5)
            #expect(x.array == y.array, "in-place layerNorm \(Scalar.self) \(rows)×\(cols)")
            keepAlive(weight, bias)
        }
    }

    @Test func forwardFloat() { checkForward(Float.self) }
    @Test func forwardDouble() { checkForward(Double.self) }

    private func checkBackward<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes {
            var p = LayerNormProblem(rows: rows, cols: cols, seed: 9 &+ UInt64(rows * 100 + cols))
            let x = Tensor<Scalar>(shape: [rows, cols], doubles: p.x), dy = Tensor<Scalar>(shape: [rows, cols], doubles: p.dy)
            let weight = Tensor<Scalar>(shape: [cols], doubles: p.weight), bias = Tensor<Scalar>(shape: [cols], doubles: p.bias)
            p.x = x.doubles; p.dy = dy.doubles; p.weight = weight.doubles; p.bias = bias.doubles
            let y = Tensor<Scalar>(shape: [rows, cols]), mean = Tensor<Scalar>(shape: [rows]), rstd = Tensor<Scalar>(shape: [rows])
            layerNorm(x.pointer, weight: weight.pointer, bias: bias.pointer, into: y.pointer,
                      mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: cols, epsilon: 1e-5)
            // Gradients accumulate into what is already there.
            let dx = Tensor<Scalar>(shape: [rows, cols], doubles: Array(repeating: 9, count: rows * cols))
            let dweight = Tensor<Scalar>(shape: [cols], doubles: Array(repeating: 1, count: cols))
            let dbias = Tensor<Scalar>(shape: [cols], doubles: Array(repeating: -1, count: cols))
            layerNormBackward(outputGradient: dy.pointer, input: x.pointer, weight: weight.pointer,
                              mean: mean.pointer, rstd: rstd.pointer, inputGradient: dx.pointer,
                              weightGradient: dweight.pointer, biasGradient: dbias.pointer, rows: rows, cols: cols)
            let (expectedDx, expectedDweight, expectedDbias) = referenceBackward(p)
            let t = tolerance(type)
            expectClose(dx.doubles, expectedDx, t, "layerNormBackward dx \(Scalar.self) \(rows)×\(cols)")
            expectClose(dweight.doubles, expectedDweight.map { $0 + 1 }, t, "dweight \(Scalar.self) \(rows)×\(cols)")
            expectClose(dbias.doubles, expectedDbias.map { $0 - 1 }, t, "dbias \(Scalar.self) \(rows)×\(cols)")
            keepAlive(x, dy, weight, bias, y, mean, rstd)
        }
    }

    @Test func backwardFloat() { checkBackward(Float.self) }
    @Test func backwardDouble() { checkBackward(Double.self) }

    /// dx, dweight, dbias against central differences of L = Σ dy ⊙ LayerNorm(x; weight, bias).
    @Test(arguments: [(3, 17), (1, 1), (7, 13), (2, 33)])
    func backwardMatchesFiniteDifferences(rows: Int, cols: Int) {
        let p = LayerNormProblem(rows: rows, cols: cols, seed: 4)
        func loss(x: [Double], weight: [Double], bias: [Double]) -> Double {
            let tx = Tensor<Double>(shape: [rows, cols], doubles: x), ty = Tensor<Double>(shape: [rows, cols])
            let tw = Tensor<Double>(shape: [cols], doubles: weight), tb = Tensor<Double>(shape: [cols], doubles: bias)
            layerNorm(tx.pointer, weight: tw.pointer, bias: tb.pointer, into: ty.pointer,
                      mean: nil, rstd: nil, rows: rows, cols: cols, epsilon: 1e-5)
            keepAlive(tx, tw, tb)
            return weightedSum(ty.doubles, p.dy)
        }
        let x = Tensor<Double>(shape: [rows, cols], doubles: p.x), dy = Tensor<Double>(shape: [rows, cols], doubles: p.dy)
        let weight = Tensor<Double>(shape: [cols], doubles: p.weight), bias = Tensor<Double>(shape: [cols], doubles: p.bias)
        let y = Tensor<Double>(shape: [rows, cols]), mean = Tensor<Double>(shape: [rows]), rstd = Tensor<Double>(shape: [rows])
        let dx = Tensor<Double>(shape: [rows, cols]), dweight = Tensor<Double>(shape: [cols]), dbias = Tensor<Double>(shape: [cols])
        layerNorm(x.pointer, weight: weight.pointer, bias: bias.pointer, into: y.pointer,
                  mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: cols, epsilon: 1e-5)
        layerNormBackward(outputGradient: dy.pointer, input: x.pointer, weight: weight.pointer,
                          mean: mean.pointer, rstd: rstd.pointer, inputGradient: dx.pointer,
                          weightGradient: dweight.pointer, biasGradient: dbias.pointer, rows: rows, cols: cols)
        keepAlive(x, dy, weight, bias, y, mean, rstd)
        let numericX = numericalGradient(at: p.x) { loss(x: $0, weight: p.weight, bias: p.bias) }
        let numericWeight = numericalGradient(at: p.weight) { loss(x: p.x, weight: $0, bias: p.bias) }
        let numericBias = numericalGradient(at: p.bias) { loss(x: p.x, weight: p.weight, bias: $0) }
        if cols == 1 {
            // One column normalises to 0: y = bias, so dx = 0 and dweight = 0 exactly.
            #expect(dx.doubles.allSatisfy { $0 == 0 } && dweight.doubles.allSatisfy { $0 == 0 })
            #expect(numericX.allSatisfy { abs($0) < 1e-9 } && numericWeight.allSatisfy { abs($0) < 1e-9 })
        } else {
            expectGradientMatches(dx.doubles, numericX, "layerNorm dx \(rows)×\(cols)")
            expectGradientMatches(dweight.doubles, numericWeight, "layerNorm dweight \(rows)×\(cols)")
        }
        expectGradientMatches(dbias.doubles, numericBias, "layerNorm dbias \(rows)×\(cols)")
    }
}
