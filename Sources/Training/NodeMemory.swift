import Foundation

/// Memory this node can still give the job: the smaller of the kernel's `MemAvailable` and
/// what the process's cgroup limit leaves (cgroup v2 `memory.max − memory.current`, or v1
/// `memory.limit_in_bytes − memory.usage_in_bytes`). Read by each rank for its own node.
struct NodeMemory {
    /// Bytes available now.
    let availableBytes: Int
    /// Where the figure comes from, for messages: "MemAvailable" or "cgroup limit".
    let source: String

    static func current() -> NodeMemory {
        var best = NodeMemory(availableBytes: memAvailable() ?? Int.max, source: "MemAvailable")
        if let cgroup = cgroupRemaining(), cgroup < best.availableBytes {
            best = NodeMemory(availableBytes: cgroup, source: "cgroup limit")
        }
        return best
    }

    /// `MemAvailable` of /proc/meminfo, in bytes.
    static func memAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return Int(line.dropFirst("MemAvailable:".count).filter(\.isNumber)).map { $0 * 1024 }
        }
        return nil
    }

    /// Limit minus usage of this process's memory cgroup; nil without a limit.
    static func cgroupRemaining() -> Int? {
        func number(_ path: String) -> Int? {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))   // "max" → nil
        }
        // cgroup v2: the process's own group (from /proc/self/cgroup "0::/path"), else the root.
        var v2Directories = ["/sys/fs/cgroup"]
        if let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let path = String(line.dropFirst(3))
            if path != "/" { v2Directories.insert("/sys/fs/cgroup" + path, at: 0) }
        }
        for directory in v2Directories {
            if let limit = number(directory + "/memory.max"), let used = number(directory + "/memory.current") {
                return max(0, limit - used)
            }
        }
        if let limit = number("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
           let used = number("/sys/fs/cgroup/memory/memory.usage_in_bytes"), limit < (1 << 60) {
            return max(0, limit - used)
        }
        return nil
    }
}

/// `bytes` in GiB with two decimals, or MiB below 1 GiB: "3.21 GiB", "412.5 MiB".
func formatBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    if value.magnitude >= Double(1 << 30) { return String(format: "%.2f GiB", value / Double(1 << 30)) }
    return String(format: "%.1f MiB", value / Double(1 << 20))
}
