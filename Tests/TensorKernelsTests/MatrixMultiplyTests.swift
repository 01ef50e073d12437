import Foundation
import Testing
import TensorKernels

/// A strided matrix view for the tests: `rows`×`cols` logical elements in a buffer with
/// `leading` ≥ cols elements per row; the padding is NaN so that reading it shows up.
private struct StridedMatrix {
    var rows: Int, cols: Int, leading: Int
    var storage: [Double]

    init(rows: Int, cols: Int, leading: Int, generator: inout TestInputs) {
        self.rows = rows; self.cols = cols; self.leading = leading
        storage = [Double](repeating: .nan, count: max(rows * leading, 1))
        for i in 0..<rows { for j in 0..<cols { storage[i * leading + j] = generator.uniform(-1, 1) } }
    }
    subscript(i: Int, j: Int) -> Double { storage[i * leading + j] }
}

/// C = alpha · op(A) · op(B) + beta · C in Double, on the logical elements only.
private func referenceGemm(_ a: StridedMatrix, transposeA: Bool, _ b: StridedMatrix, transposeB: Bool,
                           _ c: StridedMatrix, m: Int, n: Int, k: Int, alpha: Double, beta: Double) -> StridedMatrix {
    var out = c
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += (transposeA ? a[p, i] : a[i, p]) * (transposeB ? b[j, p] : b[p, j]) }
            out.storage[i * c.leading + j] = alpha * s + beta * c[i, j]
        }
    }
    return out
}

@Suite struct MatrixMultiplyTests {
    static let transposeCases: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]
    static let sizes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (7, 13, 5), (3, 17, 33), (13, 1, 31), (16, 16, 16)]

    private func check<Scalar: TensorScalar>(_: Scalar.Type, transposeA: Bool, transposeB: Bool, strided: Bool,
                                             alpha: Double, beta: Double) {
        for (m, n, k) in Self.sizes {
            var generator = TestInputs(seed: UInt64(m * 10_000 + n * 100 + k))
            let pad = strided ? 3 : 0
            // Stored shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k].
            let a = transposeA ? StridedMatrix(rows: k, cols: m, leading: m + pad, generator: &generator)
                               : StridedMatrix(rows: m, cols: k, leading: k + pad, generator: &generator)
            let b = transposeB ? StridedMatrix(rows: n, cols: k, leading: k + pad, generator: &generator)
                               : StridedMatrix(rows: k, cols: n, leading: n + pad, generator: &generator)
            var c = StridedMatrix(rows: m, cols: n, leading: n + pad, generator: &generator)
            c.storage = c.storage.map { $0.isNaN ? 12345 : $0 }  // a sentinel BLAS must not touch
            let expected = referenceGemm(a, transposeA: transposeA, b, transposeB: transposeB, c,
                                         m: m, n: n, k: k, alpha: alpha, beta: beta)
            let ta = Tensor<Scalar>(shape: [a.storage.count], doubles: a.storage)
            let tb = Tensor<Scalar>(shape: [b.storage.count], doubles: b.storage)
            let tc = Tensor<Scalar>(shape: [c.storage.count], doubles: c.storage)
            matmul(ta.pointer, transposeA: transposeA, tb.pointer, transposeB: transposeB, into: tc.pointer,
                   m: m, n: n, k: k,
                   lda: strided ? a.leading : nil, ldb: strided ? b.leading : nil, ldc: strided ? c.leading : nil,
                   alpha: Scalar(alpha), beta: Scalar(beta))
            keepAlive(ta, tb)
            let tolerance = Tolerance.forScalar(Scalar.self, float: Tolerance(absolute: 1e-5, relative: 1e-5),
                                                double: Tolerance(absolute: 1e-13, relative: 1e-13))
            expectClose(tc.doubles, expected.storage, tolerance,
                        "matmul \(Scalar.self) tA=\(transposeA) tB=\(transposeB) strided=\(strided) m=\(m) n=\(n) k=\(k)")
        }
    }

    @Test(arguments: transposeCases.indices)
    func matmulFloat(caseIndex: Int) {
        let (ta, tb) = Self.transposeCases[caseIndex]
        check(Float.self, transposeA: ta, transposeB: tb, strided: false, alpha: 1, beta: 0)
        check(Float.self, transposeA: ta, transposeB: tb, strided: true, alpha: 0.5, beta: -2)
    }

    @Test(arguments: transposeCases.indices)
    func matmulDouble(caseIndex: Int) {
        let (ta, tb) = Self.transposeCases[caseIndex]
        check(Double.self, transposeA: ta, transposeB: tb, strided: false, alpha: 1, beta: 0)
        check(Double.self, transposeA: ta, transposeB: tb, strided: true, alpha: 0.5, beta: -2)
    }

    @Test func emptyInnerDimensionScalesC() {
        let c = Tensor<Double>(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let unused = Tensor<Double>(shape: [1])
        matmul(unused.pointer, unused.pointer, into: c.pointer, m: 2, n: 3, k: 0, beta: 2)
        #expect(c.array == [2, 4, 6, 8, 10, 12])
        matmul(unused.pointer, unused.pointer, into: c.pointer, m: 2, n: 3, k: 0)
        #expect(c.array == [0, 0, 0, 0, 0, 0])
        keepAlive(unused)
    }

    private func checkBatched<Scalar: TensorScalar>(_: Scalar.Type, transposeA: Bool, transposeB: Bool) {
        let count = 3, m = 5, n = 7, k = 3
        let lda = (transposeA ? m : k) + 2, ldb = (transposeB ? k : n) + 1, ldc = n + 4
        let strideA = (transposeA ? k : m) * lda + 5, strideB = (transposeB ? n : k) * ldb, strideC = m * ldc + 1
        var generator = TestInputs(seed: 42)
        let a = generator.array(count * strideA), b = generator.array(count * strideB), c0 = generator.array(count * strideC)
        var expected = c0
        for batch in 0..<count {
            let sa = StridedMatrix(rows: transposeA ? k : m, cols: transposeA ? m : k, leading: lda,
                                   storage: Array(a[(batch * strideA)...]))
            let sb = StridedMatrix(rows: transposeB ? n : k, cols: transposeB ? k : n, leading: ldb,
                                   storage: Array(b[(batch * strideB)...]))
            let sc = StridedMatrix(rows: m, cols: n, leading: ldc, storage: Array(c0[(batch * strideC)...]))
            let product = referenceGemm(sa, transposeA: transposeA, sb, transposeB: transposeB, sc,
                                        m: m, n: n, k: k, alpha: 1, beta: 1)
            for i in 0..<m { for j in 0..<n { expected[batch * strideC + i * ldc + j] = product[i, j] } }
        }
        let ta = Tensor<Scalar>(shape: [a.count], doubles: a), tb = Tensor<Scalar>(shape: [b.count], doubles: b)
        let tc = Tensor<Scalar>(shape: [c0.count], doubles: c0)
        batchedMatmul(count: count, ta.pointer, strideA: strideA, transposeA: transposeA,
                      tb.pointer, strideB: strideB, transposeB: transposeB,
                      into: tc.pointer, strideC: strideC, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, beta: 1)
        keepAlive(ta, tb)
        let tolerance = Tolerance.forScalar(Scalar.self, float: Tolerance(absolute: 1e-5, relative: 1e-5),
                                            double: Tolerance(absolute: 1e-13, relative: 1e-13))
        expectClose(tc.doubles, expected, tolerance, "batchedMatmul \(Scalar.self) tA=\(transposeA) tB=\(transposeB)")
    }

    @Test(arguments: transposeCases.indices)
    func batchedMatmulBothTypes(caseIndex: Int) {
        let (ta, tb) = Self.transposeCases[caseIndex]
        checkBatched(Float.self, transposeA: ta, transposeB: tb)
        checkBatched(Double.self, transposeA: ta, transposeB: tb)
    }
}

private extension StridedMatrix {
    init(rows: Int, cols: Int, leading: Int, storage: [Double]) {
        self.rows = rows; self.cols = cols; self.leading = leading; self.storage = storage
    }
}
