import FlowModel
/// One training-throughput measurement: steps of forward + backward (+ gradient all-reduce when
/// ranks > 1) + AdamW on one model configuration.
public struct ModelResult: Codable, Sendable, Equatable {
    /// A short label, e.g. `lm flow 1x1`.
    public var label: String
    /// `lm` or `image` (or `sequence`).
    public var kind: String
    /// `flow`, `softmax` or `linear`.
    public var attention: String
    /// The Linear products' arithmetic: `fp32` or `bf16` (nil in results recorded before it existed).
    public var precision: String?
    /// Tokens per sample seen by the blocks (seq_len, or patches per image).
    public var tokensPerSample: Int
    /// Samples per optimizer step, all ranks together.
    public var globalBatch: Int
    public var ranks: Int
    /// BLAS threads per rank.
    public var threadsPerRank: Int
    /// Gradients all-reduced bucket by bucket during backward (true) or in one call after it (false).
    /// Nil for one rank.
    public var overlap: Bool?
    /// `synthetic` (inputs generated in memory: compute only) or the training split read.
    public var data: String
    public var parameterCount: Int
    public var timedSteps: Int

    /// Wall time per optimizer step (rank 0).
    public var step: TimingSummary
    /// Medians over the timed steps of each phase, seconds (rank 0). `commWait` is the time
    /// from the end of backward until every gradient was reduced; `dataWait` the time `next()`
    /// on the data reader blocked.
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    public var commWaitSeconds: Double
    public var optimizerSeconds: Double
    public var dataWaitSeconds: Double

    /// CPU seconds (user + system, all threads of rank 0's process) per step, median.
    public var stepCpuSeconds: Double
    /// stepCpuSeconds / (median step time × threads per rank): about 1 when the rank had its
    /// cores to itself, lower when other work on the machine took them (then the wall-clock
    /// figures understate the code's speed). BLAS threads that spin while waiting count as busy.
    public var cpuUtilisation: Double

    /// globalBatch / median step time.
    public var samplesPerSecond: Double
    /// samplesPerSecond × tokensPerSample.
    public var tokensPerSecond: Double
    /// `ModelFlops.trainingStep` for the global batch.
    public var flopsPerStep: Double
    /// flopsPerStep / median step time, GFLOP/s (all ranks together).
    public var achievedGflops: Double
    /// The sgemm peak the MFU divides by: 1-thread peak × ranks × threads per rank (nil when no
    /// peak was given).
    public var referencePeakGflops: Double?
    /// achievedGflops / referencePeakGflops.
    public var mfu: Double?
    /// Largest peak resident memory over the ranks, MiB.
    public var peakResidentMebibytes: Double
}
