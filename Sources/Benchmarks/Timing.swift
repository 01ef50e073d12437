#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock (`CLOCK_MONOTONIC`): only differences mean anything.
@inline(__always)
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// How many times to run a measured body: `warmup` untimed runs, then timed runs until at least
/// `minRepeats` are done and either `maxRepeats` are done or `budgetSeconds` of timed runs have
/// passed. The machine is shared, so results are reported as medians (see `TimingSummary`).
public struct RepeatPolicy: Sendable, Equatable {
    public var warmup: Int
    public var minRepeats: Int
    public var maxRepeats: Int
    public var budgetSeconds: Double

    public init(warmup: Int, minRepeats: Int, maxRepeats: Int, budgetSeconds: Double) {
        precondition(warmup >= 0, "RepeatPolicy: warmup must be ≥ 0, got \(warmup)")
        precondition(minRepeats >= 1 && maxRepeats >= minRepeats,
                     "RepeatPolicy: need 1 ≤ minRepeats ≤ maxRepeats, got \(minRepeats), \(maxRepeats)")
        precondition(budgetSeconds >= 0, "RepeatPolicy: budget must be ≥ 0 s, got \(budgetSeconds)")
        self.warmup = warmup
        self.minRepeats = minRepeats
        self.maxRepeats = maxRepeats
        self.budgetSeconds = budgetSeconds
    }

    /// One untimed run, then 3…20 timed runs within about 1.5 s.
    public static let standard = RepeatPolicy(warmup: 1, minRepeats: 3, maxRepeats: 20, budgetSeconds: 1.5)
    /// No warm-up, one timed run: for smoke tests (`--quick`), not for figures.
    public static let quick = RepeatPolicy(warmup: 0, minRepeats: 1, maxRepeats: 1, budgetSeconds: 0)

    /// Whether another timed run is due after `done` runs that took `elapsed` seconds in all.
    func wantsAnother(done: Int, elapsed: Double) -> Bool {
        if done < minRepeats { return true }
        if done >= maxRepeats { return false }
        return elapsed < budgetSeconds
    }
}

/// Statistics of repeated timings, in seconds.
public struct TimingSummary: Codable, Sendable, Equatable {
    /// The middle timing (mean of the two middle ones for an even count).
    public var median: Double
    /// The fastest timing: the least disturbed by other work on the machine.
    public var min: Double
    /// Number of timed runs.
    public var count: Int

    /// Summarises `samples` (seconds, at least one).
    public init(samples: [Double]) {
        precondition(!samples.isEmpty, "TimingSummary needs at least one sample")
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted[0]
        count = sorted.count
    }
}

/// Runs `body` as `policy` says and summarises the timed runs' wall times.
public func measure(_ policy: RepeatPolicy, _ body: () throws -> Void) rethrows -> TimingSummary {
    for _ in 0..<policy.warmup { try body() }
    var samples: [Double] = []
    var elapsed = 0.0
    while policy.wantsAnother(done: samples.count, elapsed: elapsed) {
        let start = monotonicSeconds()
        try body()
        let seconds = monotonicSeconds() - start
        samples.append(seconds)
        elapsed += seconds
    }
    return TimingSummary(samples: samples)
}
