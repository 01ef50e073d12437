#if canImport(Glibc)
import Glibc
#endif

/// Monotonic wall-clock seconds, for rates and time shares (not for anything that affects results).
enum Clock {
    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
