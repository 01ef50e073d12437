import Foundation
import Testing
import TensorKernels

@Suite struct ElementwiseTests {
    private func checkBinaryAndScalarKernels<Scalar: TensorScalar>(_: Scalar.Type) {
        for count in oddCounts {
            var inputs = TestInputs(seed: 10 &+ UInt64(count))
            let a = inputs.array(count), b = inputs.array(count)
            // Exact for both types once the inputs are rounded to Scalar: compare in Scalar.
            let ta = Tensor<Scalar>(shape: [count], doubles: a), tb = Tensor<Scalar>(shape: [count], doubles: b)
            let out = Tensor<Scalar>(shape: [count])
            let sa = ta.array, sb = tb.array

            add(ta.pointer, tb.pointer, into: out.pointer, count: count)
            #expect(out.array == zip(sa, sb).map { $0 + $1 }, "add count \(count)")
            subtract(ta.pointer, tb.pointer, into: out.pointer, count: count)
            #expect(out.array == zip(sa, sb).map { $0 - $1 }, "subtract count \(count)")
            multiply(ta.pointer, tb.pointer, into: out.pointer, count: count)
            #expect(out.array == zip(sa, sb).map { $0 * $1 }, "multiply count \(count)")
            scale(ta.pointer, by: -1.5, into: out.pointer, count: count)
            #expect(out.array == sa.map { -1.5 * $0 }, "scale count \(count)")

            copy(tb.pointer, into: out.pointer, count: count)
            axpy(0.25, ta.pointer, out.pointer, count: count)
            #expect(out.array == zip(sa, sb).map { $1 + 0.25 * $0 }, "axpy count \(count)")

            copy(ta.pointer, into: out.pointer, count: count)
            #expect(out.array == sa, "copy count \(count)")
            fill(out.pointer, with: 3, count: count)
            #expect(out.array.allSatisfy { $0 == 3 }, "fill count \(count)")

            // In place: out = out + b.
            copy(ta.pointer, into: out.pointer, count: count)
            add(out.pointer, tb.pointer, into: out.pointer, count: count)
            #expect(out.array == zip(sa, sb).map { $0 + $1 }, "in-place add count \(count)")
            keepAlive(ta, tb)
        }
    }

    @Test func binaryAndScalarKernelsFloat() { checkBinaryAndScalarKernels(Float.self) }
    @Test func binaryAndScalarKernelsDouble() { checkBinaryAndScalarKernels(Double.self) }

    private func checkBiasRows<Scalar: TensorScalar>(_: Scalar.Type) {
        for (rows, cols) in oddShapes {
            var inputs = TestInputs(seed: UInt64(rows * 100 + cols))
            let x = inputs.array(rows * cols), bias = inputs.array(cols)
            let tx = Tensor<Scalar>(shape: [rows, cols], doubles: x)
            let tb = Tensor<Scalar>(shape: [cols], doubles: bias)
            let sx = tx.array, sb = tb.array
            addBiasToRows(tb.pointer, to: tx.pointer, rows: rows, cols: cols)
            keepAlive(tb)
            let expected = (0..<rows * cols).map { sx[$0] + sb[$0 % cols] }
            #expect(tx.array == expected, "addBiasToRows \(rows)×\(cols)")
        }
    }

    @Test func addBiasToRowsFloat() { checkBiasRows(Float.self) }
    @Test func addBiasToRowsDouble() { checkBiasRows(Double.self) }

    /// The bias gradient is the adjoint of the bias broadcast: for L(b) = Σ w ⊙ (x + 1·bᵀ),
    /// ∂L/∂b = Σ over rows of w, which `sumOverRows(accumulate: true)` adds to db.
    @Test func biasGradientMatchesFiniteDifferences() {
        for (rows, cols) in oddShapes {
            var inputs = TestInputs(seed: 77 &+ UInt64(rows * cols))
            let x = inputs.array(rows * cols), w = inputs.array(rows * cols), bias = inputs.array(cols)
            let loss: ([Double]) -> Double = { b in
                let t = Tensor<Double>(shape: [rows, cols], doubles: x)
                let tb = Tensor<Double>(shape: [cols], doubles: b)
                addBiasToRows(tb.pointer, to: t.pointer, rows: rows, cols: cols)
                keepAlive(tb)
                return weightedSum(t.doubles, w)
            }
            let dy = Tensor<Double>(shape: [rows, cols], doubles: w)
            let db = Tensor<Double>(shape: [cols], doubles: Array(repeating: 0.5, count: cols))
            sumOverRows(dy.pointer, rows: rows, cols: cols, into: db.pointer, accumulate: true)
            keepAlive(dy)
            let analytic = db.doubles.map { $0 - 0.5 }
            expectGradientMatches(analytic, numericalGradient(at: bias, loss), "bias gradient \(rows)×\(cols)")
        }
    }
}
