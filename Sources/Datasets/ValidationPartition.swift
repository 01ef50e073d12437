/// How evaluation splits a split among ranks (docs/FORMATS.md, "Data order"): every sample exactly once across ranks, in
/// file order, no shuffling and nothing dropped.
///
/// Rank r of W gets the contiguous range [⌊r·N/W⌋, ⌊(r+1)·N/W⌋) (sizes differ by at most one) and
/// reads it in batches of `batchSize`, the last one possibly partial. Ranks may have different
/// batch counts: reduce sums and counts, not per-batch means.
///
/// `alignedToBatches` (deterministic runs) cuts the split into global batches first — batch k
/// holds samples [k·b, (k+1)·b), the last one partial — and gives rank r the global batches
/// [⌊r·K/W⌋, ⌊(r+1)·K/W⌋) of the K: every batch then holds the same samples for any W, so its
/// sums are the same bits, and adding the K batch sums in order gives the same total.
public struct ValidationPartition: Sendable, Equatable {
    public let sampleCount: Int
    public let worldSize: Int
    public let rank: Int
    public let batchSize: Int
    public let alignedToBatches: Bool

    public init(sampleCount: Int, worldSize: Int = 1, rank: Int = 0, batchSize: Int, alignedToBatches: Bool = false) {
        precondition(sampleCount >= 0, "sampleCount must not be negative")
        precondition(worldSize > 0 && rank >= 0 && rank < worldSize, "rank \(rank) is not in 0..<\(worldSize)")
        precondition(batchSize > 0, "batch size must be positive, got \(batchSize)")
        self.sampleCount = sampleCount
        self.worldSize = worldSize
        self.rank = rank
        self.batchSize = batchSize
        self.alignedToBatches = alignedToBatches
    }

    /// Batches of `batchSize` the whole split makes: ⌈N / batchSize⌉.
    public var globalBatchCount: Int { (sampleCount + batchSize - 1) / batchSize }

    /// With `alignedToBatches`: the global index of this rank's first batch (its batch i is
    /// global batch firstGlobalBatch + i).
    public var firstGlobalBatch: Int {
        precondition(alignedToBatches, "global batch indices need an aligned partition")
        return rank * globalBatchCount / worldSize
    }

    /// The samples rank `rank` evaluates.
    public static func range(sampleCount: Int, worldSize: Int, rank: Int) -> Range<Int> {
        let start = rank * sampleCount / worldSize
        let end = (rank + 1) * sampleCount / worldSize
        return start ..< end
    }

    /// This rank's samples.
    public var samples: Range<Int> {
        guard alignedToBatches else { return Self.range(sampleCount: sampleCount, worldSize: worldSize, rank: rank) }
        let batches = Self.range(sampleCount: globalBatchCount, worldSize: worldSize, rank: rank)
        return min(batches.lowerBound * batchSize, sampleCount) ..< min(batches.upperBound * batchSize, sampleCount)
    }

    /// Samples this rank evaluates.
    public var count: Int { samples.count }

    /// Batches this rank reads: ⌈count / batchSize⌉.
    public var batchCount: Int { (count + batchSize - 1) / batchSize }

    /// Samples of batch `index` of this rank (all but the last have `batchSize`).
    public func batch(_ index: Int) -> Range<Int> {
        precondition(index >= 0 && index < batchCount, "validation batch \(index) is not in 0..<\(batchCount)")
        let start = samples.lowerBound + index * batchSize
        return start ..< min(start + batchSize, samples.upperBound)
    }
}
