// Per-thread packing buffers of AVX512Gemm: allocated on a thread's first product, reused by
// every later one (no allocation in a training step), freed when the thread ends.
#if arch(x86_64)
#if canImport(Glibc)
import Glibc
#endif

/// The packed A block [⌈MC/MR⌉][KC][MR] (alpha ≠ 1 only), the packed B block [⌈NC/NR⌉][KC][NR],
/// the zero-padded panel of a partial bottom tile [KC][MR] and a scratch micro-tile [MR, NR],
/// 64-byte aligned, of one thread.
struct PackingBuffers {
    let packedA: UnsafeMutablePointer<Float>
    let packedB: UnsafeMutablePointer<Float>
    let edgePanel: UnsafeMutablePointer<Float>
    let scratchTile: UnsafeMutablePointer<Float>

    static let packedACount = AVX512Gemm.mc * AVX512Gemm.kc                      // MC is a multiple of MR
    static let packedBCount = (AVX512Gemm.nc + AVX512Gemm.nr - 1) / AVX512Gemm.nr * AVX512Gemm.nr * AVX512Gemm.kc
    static let edgeCount = AVX512Gemm.kc * AVX512Gemm.mr
    static let scratchCount = AVX512Gemm.mr * AVX512Gemm.nr
    static let totalCount = packedACount + packedBCount + edgeCount + scratchCount

    /// The thread-specific key; its destructor frees a thread's block when the thread exits.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in free(pointer) }
        precondition(status == 0, "AVX512Gemm: pthread_key_create failed (\(status))")
        return key
    }()

    /// This thread's buffers, allocated on its first call.
    static func forCurrentThread() -> PackingBuffers {
        var block = pthread_getspecific(key)
        if block == nil {
            var memory: UnsafeMutableRawPointer?
            let status = posix_memalign(&memory, 64, totalCount &* MemoryLayout<Float>.stride)
            guard status == 0, let memory else {
                fatalError("AVX512Gemm: cannot allocate \(totalCount * 4) bytes of packing buffers")
            }
            pthread_setspecific(key, memory)
            block = memory
        }
        let floats = block!.assumingMemoryBound(to: Float.self)
        return PackingBuffers(packedA: floats, packedB: floats + packedACount,
                              edgePanel: floats + packedACount + packedBCount,
                              scratchTile: floats + packedACount + packedBCount + edgeCount)
    }
}
#endif
