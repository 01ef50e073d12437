import Foundation
import Testing
import TensorKernels

/// Row softmax in Double, over the first `visible(i)` columns of row i (zeros after).
private func referenceSoftmax(_ x: [Double], rows: Int, cols: Int, visible: (Int) -> Int = { _ in .max }) -> [Double] {
    var y = [Double](repeating: 0, count: rows * cols)
    for i in 0..<rows {
        let v = min(cols, visible(i))
        let row = Array(x[(i * cols)..<(i * cols + v)])
        let m = row.max() ?? 0
        let e = row.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        for j in 0..<v { y[i * cols + j] = e[j] / s }
    }
    return y
}

@Suite struct SoftmaxTests {
    private let floatTolerance = Tolerance(absolute: 1e-7, relative: 2e-6)
    private let doubleTolerance = Tolerance(absolute: 1e-16, relative: 1e-13)

    private func checkForward<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes {
            var generator = TestInputs(seed: UInt64(rows * 1000 + cols))
            let tx = Tensor<Scalar>(shape: [rows, cols], doubles: generator.array(rows * cols, -8, 8))
            let ty = Tensor<Scalar>(shape: [rows, cols])
            softmaxRows(tx.pointer, into: ty.pointer, rows: rows, cols: cols)
            let tolerance = Tolerance.forScalar(type, float: floatTolerance, double: doubleTolerance)
            expectClose(ty.doubles, referenceSoftmax(tx.doubles, rows: rows, cols: cols), tolerance,
                        "softmaxRows \(Scalar.self) \(rows)×\(cols)")
            for offset in [0, 2] {
                causalSoftmaxRows(tx.pointer, into: ty.pointer, rows: rows, cols: cols, offset: offset)
                expectClose(ty.doubles, referenceSoftmax(tx.doubles, rows: rows, cols: cols) { $0 + 1 + offset },
                            tolerance, "causalSoftmaxRows \(Scalar.self) \(rows)×\(cols) offset \(offset)")
            }
            // In place.
            softmaxRows(tx.pointer, into: tx.pointer, rows: rows, cols: cols)
            softmaxRows(ty.pointer, into: ty.pointer, rows: 0, cols: cols)
            let rowSums = (0..<rows).map { i in tx.doubles[(i * cols)..<((i + 1) * cols)].reduce(0, +) }
            expectClose(rowSums, Array(repeating: 1, count: rows), Tolerance(absolute: 1e-6, relative: 0), "rows sum to 1")
        }
    }

    @Test func forwardFloat() { checkForward(Float.self) }
    @Test func forwardDouble() { checkForward(Double.self) }

    @Test func largeLogitsDoNotOverflow() {
        let x = Tensor<Float>(shape: [2, 3], values: [1000, 1001, 999, -1e30, 0, 5e30])
        let y = Tensor<Float>(shape: [2, 3])
        softmaxRows(x.pointer, into: y.pointer, rows: 2, cols: 3)
        keepAlive(x)
        #expect(y.array.allSatisfy { $0.isFinite })
        expectClose(Array(y.doubles.prefix(3)), referenceSoftmax([1000, 1001, 999], rows: 1, cols: 3), floatTolerance, "large")
        #expect(Array(y.array.suffix(3)) == [0, 0, 1])
    }

    private func checkBackward<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes {
            var generator = TestInputs(seed: 5 &+ UInt64(rows * 1000 + cols))
            let tx = Tensor<Scalar>(shape: [rows, cols], doubles: generator.array(rows * cols, -3, 3))
            let tdy = Tensor<Scalar>(shape: [rows, cols], doubles: generator.array(rows * cols))
            let ty = Tensor<Scalar>(shape: [rows, cols]), tdx = Tensor<Scalar>(shape: [rows, cols])
            softmaxRows(tx.pointer, into: ty.pointer, rows: rows, cols: cols)
            softmaxRowsBackward(output: ty.pointer, outputGradient: tdy.pointer, into: tdx.pointer, rows: rows, cols: cols)
            let y = ty.doubles, dy = tdy.doubles
            keepAlive(tx)
            var expected = [Double](repeating: 0, count: rows * cols)
            for i in 0..<rows {
                let r = (i * cols)..<((i + 1) * cols)
                let projection = zip(y[r], dy[r]).reduce(0) { $0 + $1.0 * $1.1 }
                for k in r { expected[k] = y[k] * (dy[k] - projection) }
            }
            let tolerance = Tolerance.forScalar(type, float: Tolerance(absolute: 1e-6, relative: 1e-5),
                                                double: Tolerance(absolute: 1e-15, relative: 1e-12))
            expectClose(tdx.doubles, expected, tolerance, "softmaxRowsBackward \(Scalar.self) \(rows)×\(cols)")
        }
    }

    @Test func backwardFloat() { checkBackward(Float.self) }
    @Test func backwardDouble() { checkBackward(Double.self) }

    /// Plain and causal softmax backward against central differences of Σ w ⊙ softmax(x).
    @Test(arguments: [false, true])
    func backwardMatchesFiniteDifferences(causal: Bool) {
        for (rows, cols) in [(3, 17), (7, 13), (1, 1), (5, 8)] {
            var generator = TestInputs(seed: causal ? 11 : 12)
            let x = generator.array(rows * cols, -3, 3), w = generator.array(rows * cols)
            let forward: (Tensor<Double>, Tensor<Double>) -> Void = { input, output in
                if causal {
                    causalSoftmaxRows(input.pointer, into: output.pointer, rows: rows, cols: cols)
                } else {
                    softmaxRows(input.pointer, into: output.pointer, rows: rows, cols: cols)
                }
            }
            let loss: ([Double]) -> Double = { input in
                let ty = Tensor<Double>(shape: [rows, cols])
                forward(Tensor(shape: [rows, cols], doubles: input), ty)
                return weightedSum(ty.doubles, w)
            }
            let ty = Tensor<Double>(shape: [rows, cols]), tdx = Tensor<Double>(shape: [rows, cols])
            let tw = Tensor<Double>(shape: [rows, cols], doubles: w)
            forward(Tensor(shape: [rows, cols], doubles: x), ty)
            softmaxRowsBackward(output: ty.pointer, outputGradient: tw.pointer, into: tdx.pointer, rows: rows, cols: cols)
            keepAlive(ty, tw)
            expectGradientMatches(tdx.doubles, numericalGradient(at: x, loss),
                                  "\(causal ? "causal " : "")softmax backward \(rows)×\(cols)")
        }
    }
}
