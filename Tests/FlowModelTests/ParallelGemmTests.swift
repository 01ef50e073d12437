#if arch(x86_64)
import Testing
import TensorKernels
import TensorKernelsAVX512
@testable import FlowModel

/// The AVX-512 GEMM split over threads (and `run` on one, which calls it directly) computes
/// bitwise what it computes on one thread, for
/// every transpose, column and row splits (narrow n), edges and beta.
@Suite("AVX-512 GEMM over several threads",
       .enabled(if: KernelVariant.cpuSupportsX86_64_v4, "this CPU cannot run x86-64-v4 code"))
struct ParallelGemmTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [(100, 200, 70), (300, 40, 33), (7, 5, 3), (64, 192, 192)]

    @Test(arguments: shapes, [1, 2, 3])
    func sameBitsAsOneThread(shape: (m: Int, n: Int, k: Int), threads: Int) {
        let (m, n, k) = shape
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                for beta: Float in [0, 1] {
                    let a = (0..<(m * k)).map { Float(($0 * 37) % 101) / 50 - 1 }
                    let b = (0..<(k * n)).map { Float(($0 * 53) % 97) / 48 - 1 }
                    let start = (0..<(m * n)).map { Float(($0 * 29) % 89) / 44 - 1 }
                    var one = start, many = start
                    AVX512Gemm.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                                     a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n,
                                     beta: beta, c: &one, ldc: n)
                    many.withUnsafeMutableBufferPointer { c in
                        ParallelGemm.shared.run(threads: threads, transposeA: transposeA, transposeB: transposeB,
                                                m: m, n: n, k: k, a: a, lda: transposeA ? m : k,
                                                b: b, ldb: transposeB ? k : n, beta: beta, c: c.baseAddress!, ldc: n)
                    }
                    #expect(one.map(\.bitPattern) == many.map(\.bitPattern),
                            "\(m)×\(n)×\(k) tA \(transposeA) tB \(transposeB) β \(beta) on \(threads) threads")
                    if beta == 0 {
                        let bias = (0..<n).map { Float($0 % 7) - 3 }
                        var oneBias = start, manyBias = start
                        AVX512Gemm.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                                         a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n,
                                         beta: 0, c: &oneBias, ldc: n, bias: bias)
                        manyBias.withUnsafeMutableBufferPointer { c in
                            ParallelGemm.shared.run(threads: threads, transposeA: transposeA, transposeB: transposeB,
                                                    m: m, n: n, k: k, a: a, lda: transposeA ? m : k,
                                                    b: b, ldb: transposeB ? k : n, beta: 0, c: c.baseAddress!, ldc: n,
                                                    bias: bias)
                        }
                        #expect(oneBias.map(\.bitPattern) == manyBias.map(\.bitPattern), "with bias")
                    }
                }
            }
        }
    }
}
#endif
