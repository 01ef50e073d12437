import Foundation
import Testing
@testable import Benchmarks

@Suite struct BenchReportTests {
    @Test func jsonRoundTripsWithSnakeCaseKeys() throws {
        var report = BenchReport(quick: true)
        report.sgemmPeaks = [SgemmPeak(threads: 1, gflops: 120.5)]
        report.attention = AttentionBenchmark.run(kinds: [.flow], causal: [true], lengths: [8], batch: 1,
                                                  dModel: 8, heads: 2, softmaxMaxLength: 8, policy: .quick)
        let data = try report.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["format_version"] as? Int == 1)
        #expect(object["quick"] as? Bool == true)
        let attention = try #require(object["attention"] as? [[String: Any]])
        #expect(attention.first?["forward_backward_milliseconds"] is Double)
        #expect(attention.first?["d_model"] as? Int == 8)
        let decoded = try BenchReport.decode(data)
        #expect(decoded.sgemmPeaks == report.sgemmPeaks)
        #expect(decoded.attention == report.attention)
    }

    @Test func writeFailsWithOneLineNamingThePath() throws {
        let report = BenchReport(quick: true)
        let path = "/nonexistent-directory-\(UUID().uuidString)/out.json"
        do {
            try report.write(to: path)
            Issue.record("writing into a missing directory succeeded")
        } catch let error as BenchError {
            #expect(error.description.contains(path))
            #expect(!error.description.contains("\n"))
        }
    }
}
