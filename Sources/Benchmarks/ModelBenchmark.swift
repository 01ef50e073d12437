import Datasets
import FlowModel
import MPIComm
import Optimizers
import TensorKernels
import Training

/// What one training-throughput run measures.
public struct ModelBenchmarkSettings: Sendable {
    public var config: ModelConfig
    /// Samples per optimizer step, all ranks together; each rank takes globalBatch / ranks.
    public var globalBatch: Int
    /// BLAS threads per rank.
    public var threads: Int
    public var warmupSteps: Int
    public var timedSteps: Int
    /// Start each block's gradient all-reduce as soon as backward has finished it (non-blocking,
    /// polled during the rest of backward) instead of one blocking all-reduce after backward.
    public var overlap: Bool
    /// An lm `tokens` split to read batches from (through `TrainingLoader`, prefetching);
    /// nil: inputs generated in memory once (compute only).
    public var dataFile: String?
    /// Chunk of the causal linear-time products; nil: the model's default.
    public var attentionChunk: Int?
    /// The 1-thread sgemm peak (GFLOP/s) that MFU divides by, × ranks × threads.
    public var singleThreadPeakGflops: Double?
    public var seed: UInt64 = 0
    /// The Linear products' arithmetic (`train.precision`).
    public var precision: MatmulPrecision = .fp32
    /// The gradients' element type on the wire (`train.allreduce_dtype`).
    public var allreduceDtype: AllReduceDtype = .fp32
    /// Size cap of one gradient all-reduce bucket (`train.bucket_mb`; the trainer's default).
    public var bucketBytes = TrainConfig().bucketBytes

    public init(config: ModelConfig, globalBatch: Int, threads: Int, warmupSteps: Int, timedSteps: Int,
                overlap: Bool, dataFile: String? = nil, attentionChunk: Int? = nil,
                singleThreadPeakGflops: Double? = nil) {
        self.config = config
        self.globalBatch = globalBatch
        self.threads = threads
        self.warmupSteps = warmupSteps
        self.timedSteps = timedSteps
        self.overlap = overlap
        self.dataFile = dataFile
        self.attentionChunk = attentionChunk
        self.singleThreadPeakGflops = singleThreadPeakGflops
    }
}

/// Times the trainer's own training step (`Training.TrainingStep`, the code `flowformer train`
/// runs) without logging, evaluation or checkpoints:
///
///     [data]   next batch (real split through the prefetching loader, or inputs made once)
///     forward  one micro-batch = this rank's globalBatch / ranks samples, dropout keys as in training
///     backward lossScale = 1 / globalBatch, so the sum over ranks is the mean gradient
///     [comm]   all-reduce (sum) of the gradients: per block during backward (overlap) or all at
///              once; then of the loss sums
///     update   non-finite check, clipping by global norm 1.0 (`train.clip_grad_norm`'s default),
///              AdamW lr 3e-4, weight decay 0.1
///
/// Every rank runs the same loop; the figures are rank 0's, peak memory the largest over ranks.
public enum ModelBenchmark {
    public static func run(_ settings: ModelBenchmarkSettings, world: Communicator) throws -> ModelResult {
        let config = settings.config
        let ranks = world.size
        guard settings.globalBatch % ranks == 0 else {
            throw BenchError("global batch \(settings.globalBatch) is not a multiple of the \(ranks) ranks")
        }
        let localBatch = settings.globalBatch / ranks
        BLASThreads.set(settings.threads)

        let model = FlowformerModel<Float>(config: config, maxBatch: localBatch,
                                           attentionChunk: settings.attentionChunk ?? defaultCausalChunk,
                                           precision: settings.precision)
        model.initializeParameters(seed: settings.seed)
        let inputs = try StepInputs(config: config, localBatch: localBatch, globalBatch: settings.globalBatch,
                                    world: world, dataFile: settings.dataFile, seed: settings.seed)
        let trainingStep = TrainingStep(model: model, optimizer: AdamW(table: model.table, weightDecay: 0.1),
                                        communicator: world, globalBatch: settings.globalBatch, microBatch: localBatch,
                                        clipNorm: 1.0, bucketBytes: settings.bucketBytes, overlap: settings.overlap,
                                        collectiveTimeout: 300, allreduceDtype: settings.allreduceDtype)

        var phases: [StepPhases] = []
        for step in 0 ..< settings.warmupSteps + settings.timedSteps {
            let start = monotonicSeconds()
            let cpuStart = processCPUSeconds()
            let dataWait = try inputs.advance()
            let result = try trainingStep.run(inputs.batch, stepsDone: step, seed: settings.seed, learningRate: 3e-4)
            let end = monotonicSeconds()
            if step >= settings.warmupSteps {
                phases.append(StepPhases(step: end - start, cpu: processCPUSeconds() - cpuStart, dataWait: dataWait,
                                         inside: result.times))
            }
        }
        let peak = try world.allReduce(mebibytes(ResidentMemory.peakBytes()), op: .max)
        return summarise(settings, phases: phases, ranks: ranks, parameterCount: model.table.count,
                         peakMebibytes: peak)
    }

    static func summarise(_ settings: ModelBenchmarkSettings, phases: [StepPhases], ranks: Int,
                          parameterCount: Int, peakMebibytes: Double) -> ModelResult {
        let config = settings.config
        let step = TimingSummary(samples: phases.map(\.step))
        func median(_ path: KeyPath<StepPhases, Double>) -> Double { TimingSummary(samples: phases.map { $0[keyPath: path] }).median }
        let flops = ModelFlops.trainingStep(config, samples: settings.globalBatch)
        let achieved = flops / step.median / 1e9
        let reference = settings.singleThreadPeakGflops.map { $0 * Double(ranks * settings.threads) }
        let samplesPerSecond = Double(settings.globalBatch) / step.median
        return ModelResult(
            label: "\(config.kind.rawValue) \(config.attention.rawValue) T=\(config.tokensPerSample) "
                + "\(ranks)x\(settings.threads)" + (ranks > 1 ? (settings.overlap ? " overlap" : " no-overlap") : "")
                + (settings.precision == .fp32 ? "" : " \(settings.precision.rawValue)")
                + (ranks > 1 && settings.allreduceDtype != .fp32 ? " wire-\(settings.allreduceDtype.rawValue)" : ""),
            kind: config.kind.rawValue, attention: config.attention.rawValue, precision: settings.precision.rawValue,
            tokensPerSample: config.tokensPerSample, globalBatch: settings.globalBatch, ranks: ranks,
            threadsPerRank: settings.threads, overlap: ranks > 1 ? settings.overlap : nil,
            data: settings.dataFile ?? "synthetic", parameterCount: parameterCount, timedSteps: phases.count,
            step: step, forwardSeconds: median(\.inside.forward), backwardSeconds: median(\.inside.backward),
            commWaitSeconds: median(\.inside.commWait), optimizerSeconds: median(\.inside.optimizer),
            dataWaitSeconds: median(\.dataWait), stepCpuSeconds: median(\.cpu),
            cpuUtilisation: median(\.cpu) / (step.median * Double(settings.threads)), samplesPerSecond: samplesPerSecond,
            tokensPerSecond: samplesPerSecond * Double(config.tokensPerSample), flopsPerStep: flops,
            achievedGflops: achieved, referencePeakGflops: reference, mfu: reference.map { achieved / $0 },
            peakResidentMebibytes: peakMebibytes)
    }
}

/// Wall times of one timed step, seconds.
struct StepPhases {
    var step: Double
    /// CPU seconds of the process during the step.
    var cpu: Double
    var dataWait: Double
    /// The phases inside `TrainingStep.run`.
    var inside: StepTimes
}
