import Testing
@testable import Benchmarks

@Suite struct TrainerMetricsTests {
    static let metrics = """
        {"event": "train", "step": 1, "samples_per_second": 1.0, "tokens_per_second": 1024.0, "data_wait_share": 0.5, "comm_wait_share": 0.5}
        {"event": "train", "step": 2, "samples_per_second": 4.0, "tokens_per_second": 4096.0, "data_wait_share": 0.0, "comm_wait_share": 0.1}
        {"event": "eval", "step": 2, "val_loss": 3.0}
        {"event": "train", "step": 3, "samples_per_second": 2.0, "tokens_per_second": 2048.0, "data_wait_share": 0.02, "comm_wait_share": 0.3}
        {"event": "train", "step": 4, "samples_per_second": 3, "tokens_per_second": 3072.0, "data_wait_share": 0.01, "comm_wait_share": 0.2}
        {"event": "train", "step": 5, "samples_per_
        """

    @Test func mediansOfTrainingRecordsAfterTheFirst() throws {
        let result = try TrainerResult.summarise(metricsText: Self.metrics, label: "run", ranks: 2, threadsPerRank: 1,
                                                 overlap: true)
        // Steps 2, 3, 4 (step 1 is start-up; the eval record and the torn last line are skipped).
        #expect(result.records == 3)
        #expect(result.samplesPerSecond == 3)
        #expect(result.tokensPerSecond == 3072)
        #expect(result.dataWaitShare == 0.01)
        #expect(result.commWaitShare == 0.2)
        #expect(result.ranks == 2 && result.overlap)
    }

    @Test func noTrainingRecordsIsAnErrorNamingTheRun() {
        #expect(throws: BenchError.self) {
            try TrainerResult.summarise(metricsText: "{\"event\": \"eval\"}\n", label: "empty-run", ranks: 1,
                                        threadsPerRank: 1, overlap: true)
        }
        do {
            _ = try TrainerResult.summarise(metricsText: "{\"event\": \"train\", \"step\": 1}\n", label: "bad-run",
                                            ranks: 1, threadsPerRank: 1, overlap: true)
            Issue.record("a record without samples_per_second was accepted")
        } catch let error as BenchError {
            #expect(error.description.contains("bad-run") && error.description.contains("samples_per_second"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
