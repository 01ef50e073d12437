@testable import Benchmarks
import Testing
import Training

@Suite struct TimingTests {
    @Test func medianOfOddAndEvenCounts() {
        let odd = TimingSummary(samples: [5, 1, 3])
        #expect(odd.median == 3)
        #expect(odd.min == 1)
        #expect(odd.count == 3)
        let even = TimingSummary(samples: [4, 1, 3, 10])
        #expect(even.median == 3.5)
        #expect(even.min == 1)
    }

    @Test func measureRunsWarmupThenAtLeastMinRepeats() {
        var calls = 0
        let policy = RepeatPolicy(warmup: 2, minRepeats: 3, maxRepeats: 3, budgetSeconds: 100)
        let summary = measure(policy) { calls += 1 }
        #expect(calls == 5)
        #expect(summary.count == 3)
    }

    @Test func measureStopsAtMaxRepeatsOrBudget() {
        var calls = 0
        // A zero budget stops right after the minimum.
        let summary = measure(RepeatPolicy(warmup: 0, minRepeats: 2, maxRepeats: 50, budgetSeconds: 0)) { calls += 1 }
        #expect(calls == 2)
        #expect(summary.count == 2)
        calls = 0
        // A huge budget stops at the maximum.
        _ = measure(RepeatPolicy(warmup: 0, minRepeats: 1, maxRepeats: 7, budgetSeconds: 1e9)) { calls += 1 }
        #expect(calls == 7)
    }

    @Test func monotonicClockAdvances() {
        let start = monotonicSeconds()
        var x = 0.0
        for i in 0..<100_000 { x += Double(i).squareRoot() }
        #expect(x > 0)
        #expect(monotonicSeconds() >= start)
    }

    @Test func peakResidentMemoryCoversAnAllocationWeTouch() {
        let before = ResidentMemory.peakBytes()
        #expect(before > 0)
        let bytes = 64 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes)
        buffer.initialize(repeating: 1, count: bytes)  // touch every page
        defer { buffer.deallocate() }
        let current = ResidentMemory.currentBytes() ?? 0
        #expect(current >= bytes)
        #expect(ResidentMemory.peakBytes() >= current)
        #expect(ResidentMemory.peakBytes() >= before)
    }
}
