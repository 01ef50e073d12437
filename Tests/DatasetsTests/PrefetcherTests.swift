import Foundation
import Testing
@testable import Datasets

@Suite struct PrefetcherTests {
    func batches(_ count: Int) -> [Batch] {
        (0..<count).map { _ in Batch(kind: .sequences, capacity: 1, pixelsPerSample: 0, sequenceLength: 1) }
    }

    /// Fill that stamps the job number into the batch.
    func stamping(sleep seconds: Double = 0, failAt failing: Int? = nil) -> Prefetcher.Fill {
        { job, batch in
            if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
            if job == failing { throw DatasetError("job \(job) failed") }
            batch.labels[0] = Int32(job)
            batch.count = 1
        }
    }

    @Test func deliversJobsInOrderThenNil() throws {
        for background in [true, false] {
            let prefetcher = Prefetcher(slots: batches(background ? 2 : 1), jobCount: 5, background: background,
                                        fill: stamping())
            var seen: [Int32] = []
            while let batch = try prefetcher.next() { seen.append(batch.labels[0]) }
            #expect(seen == [0, 1, 2, 3, 4])
            #expect(try prefetcher.next() == nil)
            prefetcher.stop()
        }
    }

    @Test func aFailedReadIsThrownAndStaysThrown() throws {
        let prefetcher = Prefetcher(slots: batches(2), jobCount: nil, background: true, fill: stamping(failAt: 2))
        #expect(try prefetcher.next()?.labels[0] == 0)
        #expect(try prefetcher.next()?.labels[0] == 1)
        #expect(datasetErrorMessage { _ = try prefetcher.next() } == "job 2 failed")
        #expect(datasetErrorMessage { _ = try prefetcher.next() } == "job 2 failed")
        prefetcher.stop()
    }

    @Test func readingOverlapsTheConsumersWork() throws {
        // Without a thread the consumer waits for every read (4 × 30 ms).
        let inline = Prefetcher(slots: batches(1), jobCount: 4, background: false, fill: stamping(sleep: 0.03))
        while try inline.next() != nil {}
        #expect(inline.waitSeconds >= 0.11)
        // With one, reads of 30 ms hide behind 150 ms of work: only the first read is waited for.
        let ahead = Prefetcher(slots: batches(2), jobCount: 4, background: true, fill: stamping(sleep: 0.03))
        while try ahead.next() != nil { Thread.sleep(forTimeInterval: 0.15) }
        #expect(ahead.waitSeconds >= 0.02 && ahead.waitSeconds < 0.1, "waited \(ahead.waitSeconds) s")
        ahead.stop()
    }

    @Test func stopEndsAnEndlessProducer() {
        let prefetcher = Prefetcher(slots: batches(2), jobCount: nil, background: true, fill: stamping())
        Thread.sleep(forTimeInterval: 0.01)
        prefetcher.stop()      // returns only once the thread has ended
        // The (at most two) batches read before the stop are still handed out, then no more.
        let messages = (0..<3).map { _ in datasetErrorMessage { _ = try prefetcher.next() } }
        #expect(messages.last == "the dataset reader stopped before batch \(messages.filter { $0 == nil }.count)")
    }
}
