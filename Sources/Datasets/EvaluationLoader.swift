/// This rank's evaluation batches (docs/FORMATS.md, "Data order"): its contiguous share of the split in file order,
/// every sample once across ranks, in batches of `batchSize` with a partial last batch. No
/// augmentation. Read ahead on a background thread; `next()` returns nil after the last batch,
/// `restart()` starts another pass.
///
/// Ranks can have different numbers of batches: reduce loss sums and sample counts across ranks,
/// not per-batch means.
public final class EvaluationLoader {
    public let split: DatasetSplit
    public let partition: ValidationPartition
    public let sequenceLength: Int

    private let reader: BatchReader
    private let batches: [Batch]
    private let background: Bool
    private var prefetcher: Prefetcher
    private var waitBeforeRestart = 0.0

    /// - Parameters:
    ///   - sequenceLength: as for `TrainingLoader`.
    ///   - alignedToBatches: share out whole global batches (`ValidationPartition`), for sums
    ///     that are the same bits on any number of ranks.
    public init(split: DatasetSplit, batchSize: Int, worldSize: Int = 1, rank: Int = 0,
                sequenceLength: Int? = nil, prefetch: Bool = true, alignedToBatches: Bool = false) throws {
        let length = try resolvedSequenceLength(split: split, requested: sequenceLength)
        let samples = split.sampleCount(sequenceLength: max(length, 1))
        guard samples > 0 else { throw DatasetError("\(split.displayName): no samples to evaluate") }
        self.split = split
        self.sequenceLength = length
        partition = ValidationPartition(sampleCount: samples, worldSize: worldSize, rank: rank, batchSize: batchSize,
                                        alignedToBatches: alignedToBatches)
        let reader = BatchReader(split: split, capacity: batchSize, sequenceLength: length, augmentation: nil)
        self.reader = reader
        background = prefetch
        let batches = (0 ..< (prefetch ? 2 : 1)).map { _ in reader.makeBatch() }
        self.batches = batches
        prefetcher = EvaluationLoader.makePrefetcher(partition: partition, reader: reader,
                                                     batches: batches, background: prefetch)
    }

    deinit { prefetcher.stop() }

    /// Samples this rank evaluates in one pass.
    public var sampleCount: Int { partition.count }

    /// The next batch of this pass (valid until the following call), or nil at the end.
    public func next() throws -> Batch? { try prefetcher.next() }

    /// Starts a new pass from the first batch.
    public func restart() {
        prefetcher.stop()
        waitBeforeRestart += prefetcher.waitSeconds
        prefetcher = EvaluationLoader.makePrefetcher(partition: partition, reader: reader,
                                                     batches: batches, background: background)
    }

    /// Seconds `next()` has spent waiting for data, since the loader was made.
    public var waitSeconds: Double { waitBeforeRestart + prefetcher.waitSeconds }

    private static func makePrefetcher(partition: ValidationPartition, reader: BatchReader,
                                       batches: [Batch], background: Bool) -> Prefetcher {
        Prefetcher(slots: batches, jobCount: partition.batchCount, background: background) { job, batch in
            try reader.read(partition.batch(job), epoch: 0, position: DataPosition(epoch: 0, batchInEpoch: job),
                            into: batch)
        }
    }
}
