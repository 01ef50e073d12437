/// This rank's training batches in the order of docs/FORMATS.md, "Data order", read ahead on a background thread.
///
/// Each `next()` returns this rank's B/W samples of the next global batch and advances
/// `position`; after the last full batch of an epoch it moves to batch 0 of the next epoch
/// (a new permutation). Save `position` in a checkpoint and pass it back as `startingAt` (or to
/// `seek(to:)`) to continue with exactly the next batch, whatever the world size.
///
/// The `Batch` returned is valid until the following `next()`: the loader owns two batches and
/// fills one while the caller uses the other.
public final class TrainingLoader {
    public let split: DatasetSplit
    public let globalBatchSize: Int
    public let worldSize: Int
    public let rank: Int
    public let seed: UInt64
    /// L for sequences and token windows, 0 for images.
    public let sequenceLength: Int
    public let augmentation: ImageAugmentation?
    /// Samples per epoch before dropping the tail: N, or ⌊(T − 1)/L⌋ windows.
    public let sampleCount: Int
    /// ⌊N / B⌋.
    public let batchesPerEpoch: Int
    /// B / W.
    public var localBatchSize: Int { globalBatchSize / worldSize }
    /// The position of the batch the next `next()` returns.
    public private(set) var position: DataPosition

    private let order: TrainingOrder
    private let reader: BatchReader
    private let batches: [Batch]
    private let background: Bool
    private var prefetcher: Prefetcher
    private var waitBeforeSeek = 0.0

    /// - Parameters:
    ///   - sequenceLength: L; required for a `tokens` stream, must equal the file's L for
    ///     `sequences` if given, ignored for images.
    ///   - augmentation: applied to images only.
    ///   - prefetch: read the next batch on a background thread (false: read in `next()`).
    /// - Throws: `DatasetError` if the split has fewer samples than one global batch or L does not
    ///   match the file.
    public init(split: DatasetSplit, globalBatchSize: Int, worldSize: Int = 1, rank: Int = 0,
                seed: UInt64, sequenceLength: Int? = nil, augmentation: ImageAugmentation? = nil,
                startingAt position: DataPosition = DataPosition(), prefetch: Bool = true) throws {
        let length = try resolvedSequenceLength(split: split, requested: sequenceLength)
        self.split = split
        self.globalBatchSize = globalBatchSize
        self.worldSize = worldSize
        self.rank = rank
        self.seed = seed
        self.sequenceLength = length
        self.augmentation = augmentation
        sampleCount = split.sampleCount(sequenceLength: max(length, 1))
        order = try TrainingOrder(sampleCount: sampleCount, globalBatchSize: globalBatchSize,
                                  worldSize: worldSize, rank: rank, seed: seed, splitName: split.displayName)
        batchesPerEpoch = order.batchesPerEpoch
        guard position.batchInEpoch < batchesPerEpoch else {
            throw DatasetError("\(split.displayName): cannot start at \(position), an epoch has \(batchesPerEpoch) batches")
        }
        self.position = position
        let reader = BatchReader(split: split, capacity: order.localBatchSize, sequenceLength: length,
                             augmentation: augmentation)
        self.reader = reader
        background = prefetch
        let batches = (0 ..< (prefetch ? 2 : 1)).map { _ in reader.makeBatch() }
        self.batches = batches
        prefetcher = TrainingLoader.makePrefetcher(order: order, reader: reader, batches: batches,
                                                   start: position, background: prefetch)
    }

    deinit { prefetcher.stop() }

    /// This rank's part of the global batch at `position`, then `position` advances.
    public func next() throws -> Batch {
        guard let batch = try prefetcher.next() else {
            preconditionFailure("the training loader's job list is endless")
        }
        position = position.advanced(batchesPerEpoch: batchesPerEpoch)
        return batch
    }

    /// Continues from `position` (discarding any batch read ahead).
    public func seek(to position: DataPosition) {
        precondition(position.batchInEpoch < batchesPerEpoch,
                     "\(position) is past the \(batchesPerEpoch) batches of an epoch")
        prefetcher.stop()
        waitBeforeSeek += prefetcher.waitSeconds
        self.position = position
        prefetcher = TrainingLoader.makePrefetcher(order: order, reader: reader, batches: batches,
                                                   start: position, background: background)
    }

    /// Seconds `next()` has spent waiting for data, since the loader was made.
    public var waitSeconds: Double { waitBeforeSeek + prefetcher.waitSeconds }

    /// Job j = the batch j positions after `start`; runs on the prefetch thread, the only user of
    /// `order` and `reader` while it lives.
    private static func makePrefetcher(order: TrainingOrder, reader: BatchReader, batches: [Batch],
                                       start: DataPosition, background: Bool) -> Prefetcher {
        let perEpoch = order.batchesPerEpoch
        let first = start.epoch * perEpoch + start.batchInEpoch
        return Prefetcher(slots: batches, jobCount: nil, background: background) { job, batch in
            let absolute = first + job
            let position = DataPosition(epoch: absolute / perEpoch, batchInEpoch: absolute % perEpoch)
            try reader.read(order.localBatch(at: position), epoch: position.epoch, position: position, into: batch)
        }
    }
}

/// L for reading `split`: the file's for sequences (checked against `requested`), `requested` for
/// a token stream, 0 for images.
func resolvedSequenceLength(split: DatasetSplit, requested: Int?) throws -> Int {
    switch split.kind {
    case .images:
        return 0
    case .sequences:
        if let requested, requested != split.fileSequenceLength {
            throw DatasetError("\(split.displayName): sequences of length \(split.fileSequenceLength), but seq_len is \(requested)")
        }
        return split.fileSequenceLength
    case .tokens:
        guard let requested, requested > 0 else {
            throw DatasetError("\(split.displayName): a token stream needs a positive seq_len to cut windows")
        }
        return requested
    }
}
