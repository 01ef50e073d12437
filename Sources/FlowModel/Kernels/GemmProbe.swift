#if canImport(Glibc)
import Glibc
#endif
import TensorKernels

/// This machine's matrix-multiply rate through the path the model's Linear layers take
/// (`DispatchedKernels.matmul`: the AVX-512 GEMM or BLAS, `train.threads` threads), for the
/// trainer's step-time estimate.
///
/// A product of n×n by n×n (2n³ FLOPs) is timed `repetitions` times after one warm-up call; the
/// fastest call counts (the least disturbed by other work on the core). n = 512 takes about 3 ms
/// per call at 100 GFLOP/s, so the default probe costs well under 0.1 s.
public enum GemmProbe {
    /// GFLOP/s of the fastest of `repetitions` n×n×n products.
    public static func gflops(n: Int = 512, repetitions: Int = 12) -> Double {
        precondition(n > 0 && repetitions > 0, "GemmProbe needs n > 0 and repetitions > 0")
        let a = Tensor<Float>(n, n), b = Tensor<Float>(n, n), c = Tensor<Float>(n, n)   // [n, n] each
        for i in 0 ..< n * n {
            a.pointer[i] = Float(i % 7) * 0.25
            b.pointer[i] = Float(i % 5) * 0.5
        }
        var best = Double.infinity
        for call in 0 ... repetitions {
            let start = monotonicSeconds()
            DispatchedKernels.matmul(a.pointer, b.pointer, into: c.pointer, m: n, n: n, k: n)
            let seconds = monotonicSeconds() - start
            if call > 0 { best = min(best, seconds) }   // call 0 warms caches and packing buffers
        }
        return 2 * Double(n) * Double(n) * Double(n) / max(best, 1e-9) / 1e9
    }

    private static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
