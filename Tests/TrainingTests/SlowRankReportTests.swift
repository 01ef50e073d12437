import Testing
@testable import Training

/// `SlowRankReport`: which rank the others wait for, from every rank's window timings.
@Suite struct SlowRankReportTests {
    /// Rows `[compute, wait, fromLeft, fromRight]` for ranks with the given compute and link times.
    private func rows(compute: [Double], linkIn: [(Double, Double)]) -> [Double] {
        zip(compute, linkIn).flatMap { [$0.0, 0.1, $0.1.0, $0.1.1] }
    }

    @Test func aRankBehindASlowLinkIsNamedWithItsLag() {
        // Ring 0 → 1 → 2 → 0 (and back); node of rank 2 is slow both ways: every transfer into
        // or out of rank 2 takes 0.1 s, the others 0.001 s.
        let slow = 0.1, fast = 0.001
        // fromLeft of r is (r-1 → r), fromRight of r is (r+1 → r).
        let link = [(slow, fast), (fast, slow), (slow, slow)]
        let report = SlowRankReport(rows: rows(compute: [1, 1, 1], linkIn: link), size: 3)
        #expect(report.compute == nil)
        #expect(report.link?.rank == 2)
        // rank 2: 4 slow transfers; ranks 0 and 1: 2 slow + 2 fast each.
        let expected = 4 * slow / (2 * slow + 2 * fast) - 1
        let lag = report.link?.lag ?? .nan
        #expect(abs(lag - expected) <= 1e-12, "lag \(lag), expected \(expected)")
    }

    @Test func theRankWithTheMostComputeIsNamedAboveTenPercent() {
        let even = [(0.001, 0.001), (0.001, 0.001), (0.001, 0.001), (0.001, 0.001)]
        let report = SlowRankReport(rows: rows(compute: [1.0, 1.02, 1.5, 0.98], linkIn: even), size: 4)
        #expect(report.compute == SlowRankReport.Finding(rank: 2, lag: 1.5 / 1.0 - 1))
        #expect(report.link == nil)
        let close = SlowRankReport(rows: rows(compute: [1.0, 1.09, 1.0, 1.0], linkIn: even), size: 4)
        #expect(close.compute == nil, "9% is below the 10% threshold")
    }

    @Test func twoRanksShareOneLinkSoNoLinkIsNamed() {
        let report = SlowRankReport(rows: rows(compute: [1, 1.3], linkIn: [(0.5, 0.5), (0.001, 0.001)]), size: 2)
        #expect(report.link == nil)
        #expect(report.compute?.rank == 1)
    }

    @Test func aNonFiniteTimingNamesNothing() {
        let report = SlowRankReport(rows: rows(compute: [1, .nan, 1], linkIn: [(0, 0), (0, 0), (0, 0)]), size: 3)
        #expect(report.link == nil)
    }

    @Test func lostRanksAreDescribedByHost() {
        #expect(Trainer.describe(lost: [2], hosts: ["a", "b", "c"]) == "rank 2 on c stopped answering")
        #expect(Trainer.describe(lost: [2, 3, 5], hosts: ["a", "a", "b", "b", "c", "c"])
                == "ranks 2, 3 on b and rank 5 on c stopped answering")
    }
}
