#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's resident memory, as the kernel counts it.
public enum ResidentMemory {
    /// Peak resident set size of this process so far, in bytes: `VmHWM` of `/proc/self/status`
    /// (Linux), else `getrusage(RUSAGE_SELF).ru_maxrss` (kibibytes on Linux, bytes on macOS).
    public static func peakBytes() -> Int {
        if let kibibytes = statusField("VmHWM") { return kibibytes * 1024 }
        var usage = rusage()
#if canImport(Darwin)
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
#else
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
#endif
    }

    /// Current resident set size in bytes (`VmRSS`), or nil where /proc is missing.
    public static func currentBytes() -> Int? {
        statusField("VmRSS").map { $0 * 1024 }
    }

    /// The value in kB of a line `NAME:   1234 kB` of /proc/self/status.
    static func statusField(_ name: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            guard text.hasPrefix(name + ":") else { continue }
            let digits = text.dropFirst(name.count + 1).filter { $0.isNumber }
            return Int(digits)
        }
        return nil
    }
}

/// Bytes → mebibytes (2²⁰ bytes), the unit the reports use.
@inline(__always)
public func mebibytes(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }

/// User + system CPU seconds this process has used so far, all threads together
/// (`getrusage(RUSAGE_SELF)`). Unlike wall time, it does not grow when other work on the machine
/// takes the cores away, so wall / CPU time shows how contended a measurement was.
public func processCPUSeconds() -> Double {
    var usage = rusage()
#if canImport(Darwin)
    getrusage(RUSAGE_SELF, &usage)
#else
    getrusage(RUSAGE_SELF.rawValue, &usage)
#endif
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
