/// What one forward call reads: tokens for `lm` / `sequence`, pixels for `image`.
public enum ModelInput<Scalar> {
    /// Token ids, Int32 [n, seq_len], each in 0 ..< vocab_size.
    case tokens(UnsafePointer<Int32>)
    /// Images, Scalar [n, H·W·C] stored HWC (pixel (y, x, c) at (y·W + x)·C + c), already normalised.
    case pixels(UnsafePointer<Scalar>)
}

/// Where a forward call sits in training: the keys of its dropout masks and whether dropout is on.
///
/// Dropout masks are a pure function of (seed, step, global sample index, layer id), so the same
/// global batch gets the same masks however many ranks or micro-batches share it.
public struct ForwardContext: Sendable, Equatable {
    /// The run's seed.
    public var seed: UInt64
    /// Optimizer step this forward belongs to (all micro-batches of one step share it).
    public var step: Int
    /// Global index, within the step's global batch, of sample 0 of this call.
    public var firstSampleIndex: Int
    /// Dropout is applied only when training (and p > 0).
    public var training: Bool

    public init(seed: UInt64 = 0, step: Int = 0, firstSampleIndex: Int = 0, training: Bool = false) {
        self.seed = seed
        self.step = step
        self.firstSampleIndex = firstSampleIndex
        self.training = training
    }
}

/// Sums over the samples of one forward call; add them across calls and ranks, then divide by
/// `count` for means.
public struct LossSums: Sendable, Equatable {
    /// Σ per-sample loss in nats (lm: each sample's mean next-token cross-entropy over its L tokens;
    /// classifiers: the sample's cross-entropy).
    public var lossSum: Double
    /// Classifiers: samples whose argmax equals the target. lm: Σ over samples of (correctly
    /// predicted tokens / L). Accuracy = correct / count.
    public var correct: Double
    /// Samples summed.
    public var count: Int

    public init(lossSum: Double = 0, correct: Double = 0, count: Int = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.count = count
    }

    public static func + (a: LossSums, b: LossSums) -> LossSums {
        LossSums(lossSum: a.lossSum + b.lossSum, correct: a.correct + b.correct, count: a.count + b.count)
    }

    public static func += (a: inout LossSums, b: LossSums) { a = a + b }

    /// Mean loss per sample, Σ loss / count (0 for no samples).
    public var meanLoss: Double { lossSum / Double(Swift.max(count, 1)) }
    /// correct / count (0 for no samples).
    public var accuracy: Double { correct / Double(Swift.max(count, 1)) }

    /// These sums added over every rank: `sumAcrossRanks` receives them packed as three Doubles
    /// [Σ loss, Σ correct, count] and must replace them by their element-wise sum over the ranks
    /// (an MPI all-reduce with op sum). The buffer lives on the stack: reducing allocates nothing.
    public mutating func reduce(_ sumAcrossRanks: (UnsafeMutableBufferPointer<Double>) throws -> Void) rethrows {
        let packed = (lossSum, correct, Double(count))
        self = try withUnsafeTemporaryAllocation(of: Double.self, capacity: 3) { buffer in
            buffer[0] = packed.0; buffer[1] = packed.1; buffer[2] = packed.2
            try sumAcrossRanks(buffer)
            return LossSums(lossSum: buffer[0], correct: buffer[1], count: Int(buffer[2]))
        }
    }
}
