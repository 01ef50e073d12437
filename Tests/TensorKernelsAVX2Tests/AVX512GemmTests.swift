#if arch(x86_64)
import Testing
import TestSupport
import TensorKernels
import TensorKernelsAVX512

// The AVX-512 GEMM against a naive Double product, on shapes that cover every edge of its
// blocking: partial micro-tiles (MR = 12 rows, NR = 32 columns), several k blocks (KC = 256),
// several row blocks (MC = 144), several column blocks (NC = 2048), all four transposes,
// leading dimensions larger than the rows, alpha and beta (0 with NaN in C, 1, other).

/// Deterministic values in [−1, 1).
private func values(_ count: Int, seed: UInt64) -> [Float] { xorshiftFloats(count, seed: seed) }

struct GemmCase: CustomTestStringConvertible, Sendable {
    var m: Int, n: Int, k: Int
    var transposeA = false, transposeB = false
    var alpha: Float = 1, beta: Float = 0
    var padding = 0   // extra elements per row of every operand (leading dimension − row length)
    var withBias = false   // C = alpha·op(A)·op(B) + bias (beta 0)
    var testDescription: String {
        "\(m)×\(n)×\(k) \(transposeA ? "Aᵀ" : "A")·\(transposeB ? "Bᵀ" : "B") α=\(alpha) β=\(beta) pad \(padding)"
            + (withBias ? " + bias" : "")
    }
}

private let cases: [GemmCase] = {
    var list: [GemmCase] = []
    for (m, n, k) in [(1, 1, 1), (12, 32, 1), (13, 33, 7), (11, 31, 257), (150, 70, 300), (145, 2100, 20),
                      (64, 192, 192), (200, 96, 520)] {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                list.append(GemmCase(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB))
            }
        }
    }
    list.append(GemmCase(m: 37, n: 45, k: 300, beta: 1, padding: 5))
    list.append(GemmCase(m: 37, n: 45, k: 300, transposeA: true, transposeB: true, alpha: 0.5, beta: -2, padding: 3))
    list.append(GemmCase(m: 30, n: 40, k: 0, beta: 0.5))
    list.append(GemmCase(m: 150, n: 70, k: 300, transposeB: true, withBias: true))
    list.append(GemmCase(m: 13, n: 33, k: 7, transposeB: true, padding: 2, withBias: true))
    list.append(GemmCase(m: 5, n: 9, k: 0, withBias: true))
    list.append(GemmCase(m: 30, n: 40, k: 10, alpha: 0, beta: 1))
    return list
}()

@Suite("AVX-512 GEMM against a naive product",
       .enabled(if: KernelVariant.cpuSupportsX86_64_v4, "this CPU cannot run x86-64-v4 code"))
struct AVX512GemmTests {
    @Test(arguments: cases)
    func product(_ g: GemmCase) {
        // Stored shapes: A [m, k] or [k, m]; B [k, n] or [n, k]; C [m, n]; each row padded.
        let (aRows, aCols) = g.transposeA ? (g.k, g.m) : (g.m, g.k)
        let (bRows, bCols) = g.transposeB ? (g.n, g.k) : (g.k, g.n)
        let lda = aCols + g.padding, ldb = bCols + g.padding, ldc = g.n + g.padding
        let a = values(max(aRows * lda, 1), seed: 1), b = values(max(bRows * ldb, 1), seed: 2)
        var c = values(g.m * ldc, seed: 3)
        if g.beta == 0 { for i in c.indices { c[i] = .nan } }   // beta = 0 must ignore C
        let original = c
        let bias = values(g.n, seed: 9)
        bias.withUnsafeBufferPointer { biasBuffer in
            AVX512Gemm.sgemm(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k,
                             alpha: g.alpha, a: a, lda: lda, b: b, ldb: ldb, beta: g.beta, c: &c, ldc: ldc,
                             bias: g.withBias ? biasBuffer.baseAddress : nil)
        }
        var worst = 0.0
        for i in 0..<g.m {
            for j in 0..<ldc {
                let got = Double(c[i * ldc + j])
                if j >= g.n {   // padding columns stay untouched
                    #expect(got.bitPattern == Double(original[i * ldc + j]).bitPattern)
                    continue
                }
                var sum = 0.0, magnitude = 0.0
                for p in 0..<g.k {
                    let x = Double(g.transposeA ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(g.transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let old = g.withBias ? Double(bias[j]) : g.beta == 0 ? 0 : Double(g.beta) * Double(original[i * ldc + j])
                let expected = Double(g.alpha) * sum + old
                // Float rounding of a k-term sum: bounded by k·2⁻²⁴ relative to Σ|terms|.
                let bound = (Double(g.k) + 2) * 6e-8 * (abs(Double(g.alpha)) * magnitude + abs(old)) + 1e-30
                worst = largerError(worst, abs(got - expected) / bound)
            }
        }
        #expect(worst <= 1, "error is \(worst)× the rounding bound")
    }

    @Test("a row's result does not depend on the number of rows (ranks split batches differently)")
    func rowsAreIndependentOfM() {
        let k = 300, n = 70
        let a = values(40 * k, seed: 4), b = values(n * k, seed: 5)
        var all = [Float](repeating: 0, count: 40 * n), few = [Float](repeating: 0, count: 13 * n)
        AVX512Gemm.sgemm(transposeA: false, transposeB: true, m: 40, n: n, k: k, alpha: 1, a: a, lda: k,
                         b: b, ldb: k, beta: 0, c: &all, ldc: n)
        // Rows 20 ..< 33 alone.
        a.withUnsafeBufferPointer { rows in
            AVX512Gemm.sgemm(transposeA: false, transposeB: true, m: 13, n: n, k: k, alpha: 1,
                             a: rows.baseAddress! + 20 * k, lda: k, b: b, ldb: k, beta: 0, c: &few, ldc: n)
        }
        #expect(Array(all[20 * n ..< 33 * n]).map(\.bitPattern) == few.map(\.bitPattern))
    }
}
#endif
