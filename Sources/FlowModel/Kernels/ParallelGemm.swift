#if arch(x86_64)
#if canImport(Glibc)
import Glibc
#endif
import TensorKernelsAVX512

/// The AVX-512 GEMM split over the threads of `WorkerThreads` (for `train.threads` > 1, one rank
/// owning several cores):
///
///     C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C
///
/// Worker w computes a slice of C's columns (or, when n is narrower than two tiles per worker,
/// of its rows), cut at multiples of the kernel's tile (32 columns / 12 rows), as an independent
/// product on sub-matrices. Every element of C is summed exactly as the one-thread product sums
/// it, so results do not depend on the thread count. One product runs at a time (a mutex): the
/// call's operands live in this shared object, and a call allocates nothing.
final class ParallelGemm: WorkerThreadsJob {
    static let shared = ParallelGemm()

    /// Which GEMM the workers run: the fp32 AVX-512 one, or the VDPBF16PS one (BFloat16Gemm.swift;
    /// same 12 × 32 tile, so the same cuts give the same bitwise independence of the thread count).
    enum Kernel { case float32, bfloat16 }

    private var mutex = pthread_mutex_t()
    // The current call (set only while `run` runs).
    private var transposeA = false, transposeB = false
    private var m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0
    private var a: ProductOperand<Float>?
    private var b: ProductOperand<Float>?
    private var c: UnsafeMutablePointer<Float>?
    private var beta: Float = 0
    private var bias: UnsafePointer<Float>?
    private var threads = 1
    private var splitColumns = true
    private var kernel = Kernel.float32
    private var alpha: Float = 1

    private init() { pthread_mutex_init(&mutex, nil) }

    /// C = op(A) · op(B) + beta · C (or + bias, a row vector [n], with beta 0) on `threads`
    /// threads (leading dimensions as in `sgemm`); one thread calls `AVX512Gemm.sgemm` directly.
    func run(threads: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
             kernel: Kernel = .float32, alpha: Float = 1) {
        run(threads: threads, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: .values(a),
            lda: lda, b: .values(b), ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, kernel: kernel, alpha: alpha)
    }

    /// `run` with operands that may be stored as bf16 (the `.bfloat16` kernel only).
    func run(threads: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
             a: ProductOperand<Float>, lda: Int, b: ProductOperand<Float>, ldb: Int,
             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
             kernel: Kernel = .float32, alpha: Float = 1) {
        if threads <= 1 {
            Self.product(kernel, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
            return
        }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        self.transposeA = transposeA
        self.transposeB = transposeB
        (self.m, self.n, self.k, self.lda, self.ldb, self.ldc) = (m, n, k, lda, ldb, ldc)
        (self.a, self.b, self.c, self.beta, self.bias) = (a, b, c, beta, bias)
        (self.kernel, self.alpha) = (kernel, alpha)
        splitColumns = n >= 2 * AVX512Gemm.nr * threads
        self.threads = threads
        WorkerThreads.shared.run(threads: threads, self)
        self.a = nil
        self.b = nil
        self.c = nil
        self.bias = nil
    }

    /// [start, end) of worker `worker`'s share of `count` items, cut at multiples of `tile`.
    private func share(_ worker: Int, of count: Int, tile: Int) -> Range<Int> {
        let tiles = (count + tile - 1) / tile
        let first = tiles * worker / threads, last = tiles * (worker + 1) / threads
        return min(first * tile, count) ..< min(last * tile, count)
    }

    func runWorker(_ worker: Int) {
        guard let a, let b, let c else { return }
        if splitColumns {
            // Columns j ..< j + width of C and op(B).
            let columns = share(worker, of: n, tile: AVX512Gemm.nr)
            if columns.isEmpty { return }
            let bSlice = b.advanced(by: transposeB ? columns.lowerBound &* ldb : columns.lowerBound)
            Self.product(kernel, transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k,
                         alpha: alpha, a: a, lda: lda, b: bSlice, ldb: ldb,
                         beta: beta, c: c + columns.lowerBound, ldc: ldc, bias: bias.map { $0 + columns.lowerBound })
        } else {
            // Rows i ..< i + height of C and op(A).
            let rows = share(worker, of: m, tile: AVX512Gemm.mr)
            if rows.isEmpty { return }
            let aSlice = a.advanced(by: transposeA ? rows.lowerBound : rows.lowerBound &* lda)
            Self.product(kernel, transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k,
                         alpha: alpha, a: aSlice, lda: lda, b: b, ldb: ldb,
                         beta: beta, c: c + rows.lowerBound &* ldc, ldc: ldc, bias: bias)
        }
    }

    /// One thread's product on `kernel`.
    @inline(__always)
    private static func product(_ kernel: Kernel, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, a: ProductOperand<Float>, lda: Int, b: ProductOperand<Float>,
                                ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                bias: UnsafePointer<Float>?) {
        switch kernel {
        case .float32:
            AVX512Gemm.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                             a: a.values(for: "the fp32 GEMM"), lda: lda, b: b.values(for: "the fp32 GEMM"), ldb: ldb,
                             beta: beta, c: c, ldc: ldc, bias: bias)
        case .bfloat16:
            BFloat16Gemm.vdpbf16ps(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        }
    }
}
#endif
