import TensorKernels

/// Where a training run is in its data: the epoch and the number of global batches of that epoch
/// already consumed. Saved in checkpoints (`/trainer` attributes `epoch`, `batch_in_epoch`) and
/// restored to continue with exactly the next batch.
public struct DataPosition: Hashable, Codable, Sendable, CustomStringConvertible {
    public var epoch: Int
    public var batchInEpoch: Int

    public init(epoch: Int = 0, batchInEpoch: Int = 0) {
        precondition(epoch >= 0 && batchInEpoch >= 0, "DataPosition(epoch: \(epoch), batchInEpoch: \(batchInEpoch)) must not be negative")
        self.epoch = epoch
        self.batchInEpoch = batchInEpoch
    }

    /// The position after one more batch, moving to batch 0 of the next epoch after the last one.
    public func advanced(batchesPerEpoch: Int) -> DataPosition {
        precondition(batchesPerEpoch > 0, "batchesPerEpoch must be positive")
        return batchInEpoch + 1 >= batchesPerEpoch
            ? DataPosition(epoch: epoch + 1, batchInEpoch: 0)
            : DataPosition(epoch: epoch, batchInEpoch: batchInEpoch + 1)
    }

    public var description: String { "epoch \(epoch) batch \(batchInEpoch)" }
}

/// The training data order of docs/FORMATS.md, "Data order", for one rank.
///
/// - Epoch e's order is TensorKernels' `permutation(count: N, seed: seed, epoch: e)`.
/// - Global batch k of epoch e is order[k·B ..< (k+1)·B] (B = global batch size), the same set
///   for every world size; batches per epoch = ⌊N / B⌋, the samples past the last full batch are
///   dropped for that epoch (a different set each epoch).
/// - Rank r of W reads order[k·B + r·B/W ..< k·B + (r+1)·B/W] (B must be a multiple of W).
///
/// Caches the permutation of the last epoch asked for (one [N] array of Int).
public final class TrainingOrder {
    public let sampleCount: Int
    public let globalBatchSize: Int
    public let worldSize: Int
    public let rank: Int
    public let seed: UInt64

    private var cachedEpoch = -1
    private var cachedPermutation: [Int] = []     // [N]

    /// Throws when the split has fewer samples than one global batch.
    public init(sampleCount: Int, globalBatchSize: Int, worldSize: Int = 1, rank: Int = 0,
                seed: UInt64, splitName: String = "split") throws {
        precondition(globalBatchSize > 0, "global batch size must be positive, got \(globalBatchSize)")
        precondition(worldSize > 0 && rank >= 0 && rank < worldSize, "rank \(rank) is not in 0..<\(worldSize)")
        precondition(globalBatchSize % worldSize == 0,
                     "global batch \(globalBatchSize) is not a multiple of the world size \(worldSize)")
        guard sampleCount >= globalBatchSize else {
            throw DatasetError("\(splitName): \(sampleCount) samples, fewer than one global batch of \(globalBatchSize)")
        }
        self.sampleCount = sampleCount
        self.globalBatchSize = globalBatchSize
        self.worldSize = worldSize
        self.rank = rank
        self.seed = seed
    }

    /// ⌊N / B⌋ global batches per epoch.
    public var batchesPerEpoch: Int { sampleCount / globalBatchSize }

    /// B / W samples per rank per global batch.
    public var localBatchSize: Int { globalBatchSize / worldSize }

    /// The sample order of `epoch` ([N] sample indices).
    public func permutation(epoch: Int) -> [Int] {
        if epoch != cachedEpoch {
            cachedPermutation = TensorKernels.permutation(count: sampleCount, seed: seed, epoch: epoch)
            cachedEpoch = epoch
        }
        return cachedPermutation
    }

    /// The B sample indices of the global batch at `position`, in order.
    public func globalBatch(at position: DataPosition) -> ArraySlice<Int> {
        precondition(position.batchInEpoch < batchesPerEpoch,
                     "batch \(position.batchInEpoch) is past the \(batchesPerEpoch) batches of an epoch")
        let start = position.batchInEpoch * globalBatchSize
        return permutation(epoch: position.epoch)[start ..< start + globalBatchSize]
    }

    /// This rank's B/W sample indices of the global batch at `position`, in order.
    public func localBatch(at position: DataPosition) -> ArraySlice<Int> {
        let global = globalBatch(at: position)
        let start = global.startIndex + rank * localBatchSize
        return global[start ..< start + localBatchSize]
    }
}
