import Foundation
import Testing
import TensorKernels

@Suite struct ReductionTests {
    /// Float sums of `terms` values of magnitude ≤ 4 round to within about terms·4·2⁻²⁴.
    private func tolerance<Scalar: TensorScalar>(_ type: Scalar.Type, terms: Int = 64) -> Tolerance {
        .forScalar(type, float: Tolerance(absolute: 1e-6 + 2.4e-7 * Double(terms), relative: 1e-6),
                   double: Tolerance(absolute: 1e-12, relative: 1e-12))
    }

    private func checkWholeBuffer<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for count in oddCounts {
            var inputs = TestInputs(seed: 200 &+ UInt64(count))
            let a = inputs.array(count), b = inputs.array(count)
            let ta = Tensor<Scalar>(shape: [count], doubles: a), tb = Tensor<Scalar>(shape: [count], doubles: b)
            // References from the Scalar-rounded inputs, summed in Double.
            let ra = ta.doubles, rb = tb.doubles
            expectClose([Double(sum(ta.pointer, count: count))], [ra.reduce(0, +)], tolerance(type, terms: count), "sum \(count)")
            expectClose([Double(dot(ta.pointer, tb.pointer, count: count))], [weightedSum(ra, rb)],
                        tolerance(type, terms: count), "dot \(count)")
            #expect(Double(maximum(ta.pointer, count: count)) == (ra.max() ?? -.infinity), "maximum \(count)")
            let squares = ra.reduce(0) { $0 + $1 * $1 }
            expectClose([sumOfSquares(ta.pointer, count: count)], [squares],
                        Tolerance(absolute: 1e-12, relative: 1e-12), "sumOfSquares \(count)")
            let norm = globalL2Norm([(pointer: UnsafePointer(ta.pointer), count: count),
                                     (pointer: UnsafePointer(tb.pointer), count: count)])
            expectClose([norm], [(squares + rb.reduce(0) { $0 + $1 * $1 }).squareRoot()],
                        Tolerance(absolute: 1e-12, relative: 1e-12), "globalL2Norm \(count)")
            keepAlive(ta, tb)
        }
    }

    @Test func wholeBufferReductionsFloat() { checkWholeBuffer(Float.self) }
    @Test func wholeBufferReductionsDouble() { checkWholeBuffer(Double.self) }

    @Test func sumOfSquaresDoesNotOverflowFloat() {
        let x = Tensor<Float>(shape: [3], values: [3e30, 4e30, 0])
        #expect(abs(globalL2Norm([(pointer: x.pointer, count: 3)]) / 5e30 - 1) < 1e-7)
        keepAlive(x)
    }

    private func checkAxisReductions<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, cols) in oddShapes {
            var inputs = TestInputs(seed: 300 &+ UInt64(rows * 64 + cols))
            let x = Tensor<Scalar>(shape: [rows, cols], doubles: inputs.array(rows * cols))
            let v = x.doubles
            let element = { (i: Int, j: Int) in v[i * cols + j] }
            let columnSums = (0..<cols).map { j in (0..<rows).reduce(0.0) { $0 + element($1, j) } }
            let rowSums = (0..<rows).map { i in (0..<cols).reduce(0.0) { $0 + element(i, $1) } }
            let columnMax = (0..<cols).map { j in (0..<rows).map { element($0, j) }.max()! }
            let rowMax = (0..<rows).map { i in (0..<cols).map { element(i, $0) }.max()! }
            let rowArgmax = (0..<rows).map { i in Int32((0..<cols).first { element(i, $0) == rowMax[i] }!) }

            let overRows = Tensor<Scalar>(shape: [cols]), overColumns = Tensor<Scalar>(shape: [rows])
            sumOverRows(x.pointer, rows: rows, cols: cols, into: overRows.pointer)
            expectClose(overRows.doubles, columnSums, tolerance(type), "sumOverRows \(rows)×\(cols)")
            sumOverRows(x.pointer, rows: rows, cols: cols, into: overRows.pointer, accumulate: true)
            expectClose(overRows.doubles, columnSums.map { 2 * $0 }, tolerance(type), "sumOverRows accumulate \(rows)×\(cols)")
            meanOverRows(x.pointer, rows: rows, cols: cols, into: overRows.pointer)
            expectClose(overRows.doubles, columnSums.map { $0 / Double(rows) }, tolerance(type), "meanOverRows \(rows)×\(cols)")
            maxOverRows(x.pointer, rows: rows, cols: cols, into: overRows.pointer)
            #expect(overRows.doubles == columnMax, "maxOverRows \(rows)×\(cols)")

            sumOverColumns(x.pointer, rows: rows, cols: cols, into: overColumns.pointer)
            expectClose(overColumns.doubles, rowSums, tolerance(type), "sumOverColumns \(rows)×\(cols)")
            meanOverColumns(x.pointer, rows: rows, cols: cols, into: overColumns.pointer)
            expectClose(overColumns.doubles, rowSums.map { $0 / Double(cols) }, tolerance(type), "meanOverColumns \(rows)×\(cols)")
            maxOverColumns(x.pointer, rows: rows, cols: cols, into: overColumns.pointer)
            #expect(overColumns.doubles == rowMax, "maxOverColumns \(rows)×\(cols)")

            var argmax = [Int32](repeating: -1, count: rows)
            argmax.withUnsafeMutableBufferPointer {
                argmaxOverColumns(x.pointer, rows: rows, cols: cols, into: $0.baseAddress!)
            }
            #expect(argmax == rowArgmax, "argmaxOverColumns \(rows)×\(cols)")
            keepAlive(x)
        }
    }

    @Test func axisReductionsFloat() { checkAxisReductions(Float.self) }
    @Test func axisReductionsDouble() { checkAxisReductions(Double.self) }

    @Test func argmaxTakesTheFirstOfTies() {
        let x = Tensor<Float>(shape: [2, 4], values: [1, 5, 5, 0, -1, -1, -1, -1])
        var out = [Int32](repeating: -1, count: 2)
        out.withUnsafeMutableBufferPointer { argmaxOverColumns(x.pointer, rows: 2, cols: 4, into: $0.baseAddress!) }
        #expect(out == [1, 0])
        keepAlive(x)
    }
}
