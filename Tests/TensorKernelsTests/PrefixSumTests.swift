import Foundation
import Testing
import TensorKernels

@Suite struct PrefixSumTests {
    /// The kernels add sequentially along the summed axis, so a sequential reference in the same
    /// Scalar type must agree exactly.
    private func check<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes + [(0, 5), (40, 3)] {
            var generator = TestInputs(seed: UInt64(rows * 100 + cols))
            let x = Tensor<Scalar>(shape: [rows, cols], doubles: generator.array(rows * cols))
            let v = x.array
            var forward = [Scalar](repeating: 0, count: rows * cols), backward = forward
            for j in 0..<cols {
                var running: Scalar = 0
                for l in 0..<rows { running += v[l * cols + j]; forward[l * cols + j] = running }
                running = 0
                for l in (0..<rows).reversed() { running += v[l * cols + j]; backward[l * cols + j] = running }
            }
            let y = Tensor<Scalar>(shape: [rows, cols])
            cumulativeSumOverRows(x.pointer, into: y.pointer, rows: rows, cols: cols)
            #expect(y.array == forward, "cumulativeSumOverRows \(Scalar.self) \(rows)×\(cols)")
            reverseCumulativeSumOverRows(x.pointer, into: y.pointer, rows: rows, cols: cols)
            #expect(y.array == backward, "reverseCumulativeSumOverRows \(Scalar.self) \(rows)×\(cols)")

            // The same buffer read as one vector of rows·cols elements.
            let n = rows * cols
            var vectorForward = [Scalar](), vectorBackward = [Scalar](repeating: 0, count: n)
            var running: Scalar = 0
            for value in v { running += value; vectorForward.append(running) }
            running = 0
            for l in (0..<n).reversed() { running += v[l]; vectorBackward[l] = running }
            cumulativeSum(x.pointer, into: y.pointer, count: n)
            #expect(y.array == vectorForward, "cumulativeSum \(Scalar.self) \(n)")
            reverseCumulativeSum(x.pointer, into: y.pointer, count: n)
            #expect(y.array == vectorBackward, "reverseCumulativeSum \(Scalar.self) \(n)")

            // In place.
            cumulativeSumOverRows(x.pointer, into: x.pointer, rows: rows, cols: cols)
            #expect(x.array == forward, "in-place cumulativeSumOverRows \(Scalar.self) \(rows)×\(cols)")
            copy(v, into: x.pointer, count: n)
            reverseCumulativeSumOverRows(x.pointer, into: x.pointer, rows: rows, cols: cols)
            #expect(x.array == backward, "in-place reverseCumulativeSumOverRows \(Scalar.self) \(rows)×\(cols)")
        }
    }

    /// Against a Double reference for a sanity check of the values themselves (not only the order).
    @Test func rowsMatchDoubleReference() {
        let rows = 5, cols = 3
        let x = Tensor<Double>(shape: [rows, cols], values: (0..<15).map { Double($0) })
        let y = Tensor<Double>(shape: [rows, cols])
        cumulativeSumOverRows(x.pointer, into: y.pointer, rows: rows, cols: cols)
        // Column j holds j, j+3, j+6, …: partial sums (l+1)·j + 3·l(l+1)/2.
        var expected = [Double]()
        for l in 0..<rows {
            for j in 0..<cols {
                let partialSum: Int = (l + 1) * j + 3 * l * (l + 1) / 2
                expected.append(Double(partialSum))
            }
        }
        #expect(y.doubles == expected)
        keepAlive(x)
    }

    @Test func matchesReferenceFloat() { check(Float.self) }
    @Test func matchesReferenceDouble() { check(Double.self) }

    /// The reverse sums are the backward passes: for L = Σ w ⊙ cumsum(x), ∂L/∂x = reverseCumsum(w).
    @Test func reverseSumsAreTheGradients() {
        let rows = 13, cols = 7
        var generator = TestInputs(seed: 21)
        let x = generator.array(rows * cols), w = generator.array(rows * cols)
        let tw = Tensor<Double>(shape: [rows, cols], doubles: w), gradient = Tensor<Double>(shape: [rows, cols])

        reverseCumulativeSumOverRows(tw.pointer, into: gradient.pointer, rows: rows, cols: cols)
        let rowLoss: ([Double]) -> Double = { input in
            let tx = Tensor<Double>(shape: [rows, cols], doubles: input), ty = Tensor<Double>(shape: [rows, cols])
            cumulativeSumOverRows(tx.pointer, into: ty.pointer, rows: rows, cols: cols)
            keepAlive(tx)
            return weightedSum(ty.doubles, w)
        }
        expectGradientMatches(gradient.doubles, numericalGradient(at: x, rowLoss), "cumulativeSumOverRows backward")

        reverseCumulativeSum(tw.pointer, into: gradient.pointer, count: rows * cols)
        let vectorLoss: ([Double]) -> Double = { input in
            let tx = Tensor<Double>(shape: [rows * cols], doubles: input), ty = Tensor<Double>(shape: [rows * cols])
            cumulativeSum(tx.pointer, into: ty.pointer, count: rows * cols)
            keepAlive(tx)
            return weightedSum(ty.doubles, w)
        }
        expectGradientMatches(gradient.doubles, numericalGradient(at: x, vectorLoss), "cumulativeSum backward")
        keepAlive(tw)
    }
}
