/// Where training stands: everything besides parameters and optimizer moments that a resumed
/// run needs to continue at exactly the same global sample. Stored as attributes of `/trainer`.
public struct TrainerState: Sendable, Equatable {
    /// Optimizer steps done.
    public var step: Int = 0
    /// Epoch of the next global batch, and that batch's index within the epoch.
    public var epoch: Int = 0
    public var batchInEpoch: Int = 0
    /// Training samples consumed so far (step × global batch).
    public var samplesSeen: Int = 0
    /// The run's seed: initialisation, data order, dropout and augmentation are all keyed by it
    /// (counter-based generators, so the seed and the position above are the whole RNG state).
    public var seed: UInt64 = 0
    /// Ranks of the run that wrote the checkpoint (informational: any world size may resume).
    public var worldSize: Int = 1
    /// The validation metric (lower is better: the validation loss) measured at `step`, if any.
    public var validationLoss: Double? = nil
    /// The best validation loss seen so far in the run and the step it was measured at.
    public var bestValidationLoss: Double? = nil
    public var bestStep: Int? = nil

    public init() {}
}

extension TrainerState {
    /// The CRC-32 stored as `/trainer`'s `crc32` attribute: of the little-endian 8-byte values of
    /// `format_version`, `step`, `epoch`, `batch_in_epoch`, `samples_seen`, `seed`, `world_size`,
    /// `best_step` (−1 for none), then the IEEE bit patterns of `validation_loss` and
    /// `best_validation_loss` (NaN for none), in that order. The attributes live in an object
    /// header that HDF5 does not checksum; without this a flipped bit would resume at another
    /// step or sample silently.
    func attributeChecksum(formatVersion: Int) -> UInt32 {
        let integers: [Int64] = [Int64(formatVersion), Int64(step), Int64(epoch), Int64(batchInEpoch),
                                 Int64(samplesSeen), Int64(bitPattern: seed), Int64(worldSize),
                                 Int64(bestStep ?? -1)]
        let reals: [Double] = [validationLoss ?? .nan, bestValidationLoss ?? .nan]
        let words = integers.map { UInt64(bitPattern: $0).littleEndian } + reals.map { $0.bitPattern.littleEndian }
        return words.withUnsafeBytes { CRC32.checksum($0) }
    }
}
