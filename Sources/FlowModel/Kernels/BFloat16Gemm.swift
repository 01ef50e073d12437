// The bf16 matrix product of `train.precision: bf16`: both operands rounded to bfloat16 (nearest
// even), every product exact in fp32, the sums fp32:
//
//     C[m, n] = alpha · Σ_p bf16(op(A)[i, p]) · bf16(op(B)[p, j]) + beta · C   (or + bias, beta 0)
//
// Two ways to compute it, chosen by `KernelVariant.active.usesBFloat16Gemm`:
// - `vdpbf16ps`: the C kernel of `_CBFloat16Gemm` (VDPBF16PS: two bf16 products per fp32 lane per
//   instruction, twice an fp32 FMA's multiply-adds), split over threads by `ParallelGemm`.
// - `portable`: on a CPU without AVX512_BF16 (or FLOWFORMER_KERNELS below x86-64-v4) the operands
//   are rounded into per-thread fp32 copies and multiplied by the fp32 GEMM: the same numbers up
//   to the order of the fp32 sums, and no faster than fp32 (the trainer says so once).
import TensorKernels
import _CBFloat16Gemm
#if canImport(Glibc)
import Glibc
#endif

public enum BFloat16Gemm {
    /// How a bf16 product is computed.
    public enum Path: String, Sendable, CaseIterable {
        /// The VDPBF16PS kernel (AVX512_BF16 CPUs only).
        case vdpbf16ps
        /// bf16-rounded copies of the operands through the fp32 GEMM (any CPU).
        case portable
    }

    /// The path the model takes under the active kernel variant.
    public static var activePath: Path { KernelVariant.active.usesBFloat16Gemm ? .vdpbf16ps : .portable }

    /// One line for the log when bf16 products will not be faster than fp32 (nil when they run on
    /// VDPBF16PS).
    public static var slowPathNotice: String? {
        if activePath == .vdpbf16ps { return nil }
        let reason = KernelVariant.cpuSupportsAVX512BF16
            ? "\(KernelVariant.environmentVariable)=\(KernelVariant.active.rawValue) selects kernels below x86-64-v4"
            : "this CPU has no AVX512_BF16"
        return "precision bf16: \(reason); products use bf16-rounded operands in fp32 arithmetic "
            + "(same rounding, not faster than fp32)"
    }

    /// C = alpha · bf16(op(A)) · bf16(op(B)) + beta · C (or + `bias` [n], beta 0), row-major
    /// with leading dimensions as BLAS sgemm; `threads` > 1 splits the VDPBF16PS product over the
    /// worker threads (bitwise the same result). `path` defaults to `activePath`; `.vdpbf16ps` on a
    /// CPU without AVX512_BF16 is a programmer error.
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                bias: UnsafePointer<Float>? = nil, threads: Int = 1, path: Path? = nil) {
        multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: .values(a),
                 lda: lda, b: .values(b), ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, threads: threads,
                 path: path)
    }

    /// `multiply` with operands stored as Floats (rounded as they are packed) or as bf16 bit
    /// patterns (taken as they are): the same values give the same bits either way.
    static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                         a: ProductOperand<Float>, lda: Int, b: ProductOperand<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>? = nil, threads: Int = 1, path: Path? = nil) {
        precondition(bias == nil || beta == 0, "BFloat16Gemm.multiply: a bias needs beta = 0")
        switch path ?? activePath {
        case .vdpbf16ps:
            precondition(KernelVariant.cpuSupportsAVX512BF16, "BFloat16Gemm: VDPBF16PS path on a CPU without AVX512_BF16")
            #if arch(x86_64)
            if threads > 1 {
                ParallelGemm.shared.run(threads: threads, transposeA: transposeA, transposeB: transposeB, m: m, n: n,
                                        k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                                        bias: bias, kernel: .bfloat16, alpha: alpha)
                return
            }
            #endif
            vdpbf16ps(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                      b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        case .portable:
            portable(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                     b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, threads: threads)
        }
    }

    /// One thread's VDPBF16PS product (`flowformer_bf16_gemm`).
    @inline(__always)
    static func vdpbf16ps(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          a: ProductOperand<Float>, lda: Int, b: ProductOperand<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?) {
        let (aType, aPointer) = a.cOperand, (bType, bPointer) = b.cOperand
        flowformer_bf16_gemm(transposeA ? 1 : 0, aType, transposeB ? 1 : 0, bType, m, n, k, alpha, aPointer, lda,
                             bPointer, ldb, beta, c, ldc, bias)
    }

    /// The portable path: op(A) and op(B) rounded (or, stored as bf16, widened) into this thread's
    /// scratch (stored shapes, packed), then the fp32 product (the AVX-512 GEMM under x86-64-v4,
    /// else BLAS).
    static func portable(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: ProductOperand<Float>, lda: Int, b: ProductOperand<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>?, threads: Int) {
        if m <= 0 || n <= 0 { return }
        // Stored shapes: A [m, k] or [k, m]; B [k, n] or [n, k].
        let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
        let scratch = RoundedOperands.forCurrentThread(count: aRows * aColumns + bRows * bColumns)
        let roundedA = scratch, roundedB = scratch + aRows &* aColumns
        a.roundedCopy(stride: lda, rows: aRows, columns: aColumns, into: roundedA)
        b.roundedCopy(stride: ldb, rows: bRows, columns: bColumns, into: roundedB)
        #if arch(x86_64)
        if KernelVariant.active.usesAVX512Gemm && alpha == 1 {
            ParallelGemm.shared.run(threads: threads, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                    a: roundedA, lda: max(aColumns, 1), b: roundedB, ldb: max(bColumns, 1),
                                    beta: beta, c: c, ldc: ldc, bias: bias)
            return
        }
        #endif
        var beta = beta
        if let bias {
            for r in 0..<m { (c + r &* ldc).update(from: bias, count: n) }
            beta = 1
        }
        TensorKernels.matmul(roundedA, transposeA: transposeA, roundedB, transposeB: transposeB, into: c,
                             m: m, n: n, k: k, lda: max(aColumns, 1), ldb: max(bColumns, 1), ldc: ldc,
                             alpha: alpha, beta: beta)
    }
}

extension ProductOperand where Scalar == Float {
    /// The storage type code and address for `flowformer_bf16_gemm`.
    var cOperand: (type: Int32, pointer: UnsafeRawPointer) {
        switch self {
        case .values(let pointer): return (Int32(FLOWFORMER_BF16_OPERAND_F32), UnsafeRawPointer(pointer))
        case .bfloat16(let bits): return (Int32(FLOWFORMER_BF16_OPERAND_BF16), UnsafeRawPointer(bits))
        }
    }

    /// The rows × columns block (row stride `stride`) as bf16-rounded Floats in `target`
    /// [rows, columns]: Floats rounded, bf16 bits widened (exact).
    func roundedCopy(stride: Int, rows: Int, columns: Int, into target: UnsafeMutablePointer<Float>) {
        switch self {
        case .values(let pointer):
            BFloat16.round(pointer, stride: stride, rows: rows, columns: columns, into: target)
        case .bfloat16(let bits):
            BFloat16.expand(bits, stride: stride, rows: rows, columns: columns, into: target)
        }
    }
}

/// Per-thread Float scratch of the portable path, grown to the largest product seen and reused
/// (nothing allocated once a training step has run), freed when the thread ends.
enum RoundedOperands {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in free(pointer) }
        precondition(status == 0, "BFloat16Gemm: pthread_key_create failed (\(status))")
        return key
    }()

    /// At least `count` Floats of this thread's scratch. Layout: [capacity: Int][Floats…].
    static func forCurrentThread(count: Int) -> UnsafeMutablePointer<Float> {
        let header = MemoryLayout<Int>.stride * 8   // 64 bytes: keeps the Floats 64-byte aligned
        if let block = pthread_getspecific(key), block.load(as: Int.self) >= count {
            return (block + header).assumingMemoryBound(to: Float.self)
        }
        free(pthread_getspecific(key))
        let capacity = max(count, 1)
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, header + capacity * MemoryLayout<Float>.stride) == 0, let memory else {
            fatalError("BFloat16Gemm: cannot allocate \(capacity * 4) bytes of scratch")
        }
        memory.storeBytes(of: capacity, as: Int.self)
        pthread_setspecific(key, memory)
        return (memory + header).assumingMemoryBound(to: Float.self)
    }
}
