import Checkpoints
import Datasets
import FlowModel
import Foundation
import MPIComm
import Optimizers
import TensorKernels

/// How a training run ended (the command maps these onto exit statuses).
public enum TrainOutcome: Equatable, Sendable {
    /// Every step done, final checkpoint written.
    case completed
    /// A stop signal arrived; every rank stopped at the same step boundary after a checkpoint.
    case stopped(signal: Int32)
}

/// Options of `flowformer train` that are not part of the run configuration.
public struct TrainOptions: Sendable {
    public var configFile: String?
    public var overrides: [String] = []
    public var resume: ResumeMode = .automatic
    /// Seconds a rank waits in a collective before deciding another rank is dead or stopped and
    /// aborting the job.
    public var collectiveTimeout: Double = 300
    /// Fault injection for the end-to-end tests (the hidden options of `flowformer train`);
    /// `.none` in real runs.
    public var hooks: TrainingHooks = .none
    /// Where rank 0's progress and notices go.
    public var print: @Sendable (String) -> Void = { line in
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    public init(configFile: String?, overrides: [String] = [], resume: ResumeMode = .automatic) {
        self.configFile = configFile
        self.overrides = overrides
        self.resume = resume
    }
}

/// Data-parallel training of one run (docs/FORMATS.md: "Data order", "Checkpoint files", "Configuration"). Every rank runs the same loop on its slice
/// of each global batch; gradients are summed with bucketed non-blocking all-reduces that
/// overlap backward; every rank applies the same optimizer step. Rank 0 alone reads and writes
/// checkpoint files and the metrics log, and decides; the others follow its broadcasts.
public final class Trainer {
    let communicator: Communicator
    let options: TrainOptions
    let config: RunConfig
    let model: FlowformerModel<Float>
    let optimizer: any Optimizer
    let schedule: LearningRateSchedule
    let trainLoader: TrainingLoader
    let validationLoader: EvaluationLoader?
    let trainingStep: TrainingStep
    /// ZeRO stage 1 (`train.shard_optimizer` on more than one rank): this rank's shard of the
    /// reduced gradients and the norm; nil when every rank keeps the whole optimizer state.
    let sharded: ShardedGradient?
    /// Moves the sharded optimizer state to and from checkpoints; nil unsharded.
    let shardedState: ShardedState?
    let metrics: MetricsLog?
    let totalSteps: Int
    var state: TrainerState
    /// What the run trains on, recorded in every checkpoint (rank 0; nil on the other ranks).
    let dataRecord: TrainingDataRecord?
    /// Rank 0's hold on the run directory for the life of the job (nil on the other ranks).
    let runLock: RunDirectoryLock?
    /// The memory and time plan made before anything was allocated (this rank's view).
    let plan: RunPlan
    /// Every rank's host, indexed by rank (gathered at start), to name the ones that stop answering.
    let hostNames: [String]
    /// The link probe's buffers and the per-window timings of every rank (`slowRankReport`).
    lazy var rankTimingBuffers = RankTimingBuffers(size: communicator.size)
    /// The checkpoint this run wrote last (every rank knows it), for messages; nil before the first.
    var lastCheckpoint: String?

    var isRoot: Bool { communicator.isRoot }

    /// Sets up a run: configuration, resume decision, data, model, optimizer — all ranks agreeing.
    public init(communicator: Communicator, options: TrainOptions) throws {
        self.communicator = communicator
        self.options = options
        let print = options.print
        let isRoot = communicator.isRoot
        hostNames = try communicator.processorNames()
        StatusFile.recordHosts(hostNames)

        // 1. Configuration and resume decision, on rank 0; broadcast as resolved YAML text.
        var pendingReader: CheckpointReader?
        var runLock: RunDirectoryLock?
        let resolvedYAML = try communicator.rootDecides {
            let requested = try RunConfig.load(file: options.configFile, overrides: options.overrides)
            // One job per run directory: taken before anything in it is read or written.
            runLock = try RunDirectoryLock(directory: requested.checkpoint.dir)
            let plan = try ResumePlan.decide(requested: requested, overrides: options.overrides,
                                             mode: options.resume, warn: { print("warning: " + $0) })
            pendingReader = plan.checkpoint
            return plan.config.yaml
        }
        self.runLock = runLock
        let config = try communicator.allSucceed { try RunConfig(yaml: resolvedYAML, label: "resolved configuration") }
        try communicator.allSucceed { try config.validate(worldSize: communicator.size) }
        self.config = config
        BLASThreads.set(config.train.threads)

        // 2. Data: every rank opens and validates the splits itself (reads only).
        let (trainSplit, validationSplit) = try Trainer.openSplits(config: config, communicator: communicator)

        // What the run trains on, read once here by rank 0 (never in the loop): stored in every
        // checkpoint and, on resume, compared with the checkpoint's record (DataIdentity).
        var dataRecord: TrainingDataRecord?
        _ = try communicator.rootDecides {
            let started = Clock.seconds()
            let record = try DataIdentity.record(of: trainSplit,
                                                 sequenceLength: config.model.kind == .image ? 0 : config.model.seqLen)
            print(DataIdentity.summary(record, seconds: Clock.seconds() - started))
            if let reader = pendingReader {
                let position = DataPosition(epoch: reader.trainer.epoch, batchInEpoch: reader.trainer.batchInEpoch)
                if let line = try DataIdentity.checkResume(saved: try reader.readDataRecord(), current: record,
                                                           position: position, globalBatch: config.train.globalBatch,
                                                           checkpoint: reader.path, allowChange: config.data.allowChange) {
                    print(line)
                }
            }
            dataRecord = record
            return ""
        }
        self.dataRecord = dataRecord

        // 3. The plan: memory per rank, FLOPs, step time, fit on this node — before any allocation.
        let plan = try RunPlan.measure(config: config, trainSplit: trainSplit, validationSplit: validationSplit,
                                       communicator: communicator)
        self.plan = plan
        if isRoot { print(plan.table) }
        try communicator.allSucceed {
            if !plan.fits && config.train.memoryCheck { throw TrainingError(plan.refusal) }
        }
        if !plan.fits && isRoot { print("warning: " + plan.refusal.replacingOccurrences(of: "; or set train.memory_check: false to run anyway", with: "") + " (train.memory_check: false: running anyway)") }

        // 4. Model and optimizer; rank 0 initialises or loads, then broadcasts.
        let model = FlowformerModel<Float>(config: config.model, maxBatch: config.train.microBatch,
                                           precision: config.train.precision)
        let sharded = config.train.shardOptimizer && communicator.size > 1
            ? ShardedGradient(gradients: model.gradients.pointer, count: model.table.count, rank: communicator.rank,
                              worldSize: communicator.size) : nil
        let optimizer = config.train.makeOptimizer(table: model.table, shard: sharded?.shard)
        self.model = model
        self.optimizer = optimizer
        self.sharded = sharded
        let shardedState = sharded.map {
            ShardedState(communicator: communicator, table: model.table, shards: $0.shards, optimizer: optimizer,
                         timeoutSeconds: options.collectiveTimeout)
        }
        self.shardedState = shardedState
        var state = TrainerState()
        state.seed = UInt64(config.train.seed)
        let loadedState = try communicator.rootDecides {
            if let reader = pendingReader {
                try reader.readParameters(table: model.table, into: model.parameters.pointer)
                if sharded == nil {
                    try reader.readOptimizerState(into: optimizer, optimizerName: config.train.optimizer.rawValue,
                                                  table: model.table)
                } else {
                    try reader.requireOptimizerStates(optimizer.stateBuffers.map(\.name),
                                                      optimizerName: config.train.optimizer.rawValue, table: model.table)
                }
                print("resuming from \(reader.path) at step \(reader.trainer.step) (\(reader.trainer.samplesSeen) samples seen)")
                return reader.trainer.broadcastText
            }
            model.initializeParameters(seed: state.seed)
            return state.broadcastText
        }
        // A deterministic run continues with the exponents its checkpoint saved ("" for none).
        let savedExponents = try communicator.rootDecides {
            guard config.train.deterministic, let reader = pendingReader,
                  let exponents = try reader.readGradientExponents(table: model.table) else { return "" }
            if let bad = exponents.first(where: { !FixedPoint.exponentRange.contains($0) }) {
                throw TrainingError("\(reader.path): /trainer/\(CheckpointWriter.gradientExponentsName) holds \(bad), outside \(FixedPoint.exponentRange)")
            }
            return exponents.map(String.init).joined(separator: " ")
        }
        guard let loaded = TrainerState(broadcastText: loadedState) else {
            throw TrainingError("internal: cannot decode the trainer state '\(loadedState)'")
        }
        state = loaded
        optimizer.stepCount = state.step
        try communicator.broadcast(model.parameters.buffer, root: 0)
        if let shardedState {
            // Each rank's shard of the state, entry by entry from rank 0's reader (zeros when fresh).
            let failure = try shardedState.restore(from: pendingReader)
            try communicator.allSucceed { if let failure { throw TrainingError(failure) } }
        } else {
            for buffer in optimizer.stateBuffers { try communicator.broadcast(buffer.buffer.buffer, root: 0) }
        }
        pendingReader = nil
        state.worldSize = communicator.size
        self.state = state

        // 5. Loaders at the saved position.
        let augmentation = config.train.augment && config.model.kind == .image
            ? ImageAugmentation(seed: state.seed) : nil
        let sequenceLength = config.model.kind == .image ? nil : config.model.seqLen
        trainLoader = try communicator.allSucceed {
            try TrainingLoader(split: trainSplit, globalBatchSize: config.train.globalBatch,
                               worldSize: communicator.size, rank: communicator.rank, seed: state.seed,
                               sequenceLength: sequenceLength, augmentation: augmentation,
                               startingAt: DataPosition(epoch: state.epoch, batchInEpoch: state.batchInEpoch))
        }
        validationLoader = try communicator.allSucceed {
            try validationSplit.map {
                try EvaluationLoader(split: $0, batchSize: config.train.microBatch, worldSize: communicator.size,
                                     rank: communicator.rank, sequenceLength: sequenceLength,
                                     alignedToBatches: config.train.deterministic)
            }
        }

        totalSteps = config.train.steps ?? (config.train.epochs ?? 1) * trainLoader.batchesPerEpoch
        schedule = config.train.learningRateSchedule(totalSteps: totalSteps)
        trainingStep = TrainingStep(model: model, optimizer: optimizer, communicator: communicator,
                                    globalBatch: config.train.globalBatch, microBatch: config.train.microBatch,
                                    clipNorm: Float(config.train.clipGradNorm),
                                    bucketBytes: config.train.bucketBytes,
                                    overlap: config.train.overlapComm, collectiveTimeout: options.collectiveTimeout,
                                    deterministic: config.train.deterministic,
                                    gradientExponents: savedExponents.isEmpty ? nil : savedExponents.split(separator: " ").compactMap { Int($0) },
                                    allreduceDtype: config.train.allreduceDtype, hooks: options.hooks, sharded: sharded)
        metrics = try communicator.allSucceed {
            guard isRoot else { return nil }
            try FileManager.default.createDirectory(atPath: config.checkpoint.dir, withIntermediateDirectories: true)
            return try MetricsLog(directory: config.checkpoint.dir)
        }
        shardedState?.abort = { [unowned self] in self.abortForLostRanks($0) }
        try verifyParametersAgree()
        if isRoot {
            print("flowformer train: \(communicator.size) rank(s), \(model.table.count) parameters, "
                  + "\(totalSteps) steps of \(config.train.globalBatch) samples (\(trainingStep.accumulation) micro-batch(es) of \(config.train.microBatch) per rank per step), "
                  + "\(trainLoader.batchesPerEpoch) steps per epoch, \(KernelVariant.active.rawValue) kernels, "
                  + "\(config.train.precision.rawValue) products, \(config.train.allreduceDtype.rawValue) all-reduce"
                  + (config.train.deterministic ? ", deterministic (exact gradient sums)" : ""))
            if config.train.precision == .bf16, let notice = BFloat16Gemm.slowPathNotice { print(notice) }
            print("resolved configuration:\n" + config.yaml)
        }
    }

    /// Checks that every rank holds bit-identical parameters (CRC-32 of the buffer); names the
    /// ranks that differ from rank 0 otherwise.
    func verifyParametersAgree() throws {
        let crc = Int64(CRC32.checksum(UnsafeRawBufferPointer(model.parameters.buffer)))
        let extremes = try allReducedWithTimeout([crc, -crc], op: .max)   // [max crc, −min crc]
        if extremes[0] == -extremes[1] { return }
        let reference = try communicator.broadcast(crc, root: 0)
        var own = [Int32](repeating: 0, count: communicator.size)
        own[communicator.rank] = crc == reference ? 0 : 1
        let differs = try allReducedWithTimeout(own, op: .max)
        let ranks = differs.indices.filter { differs[$0] != 0 }.map(String.init).joined(separator: ", ")
        throw CollectiveFailure("parameters differ across ranks at step \(state.step): rank(s) \(ranks) disagree with rank 0 (checksum of the parameter buffer)")
    }

    /// A blocking all-reduce that gives up after the collective timeout: a dead or stopped rank
    /// then ends the job (`MPI_Abort`) instead of hanging it.
    func allReduceWithTimeout<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: MPIReduceOp) throws {
        guard communicator.size > 1 else { return }
        let request = try communicator.allReduceNonBlocking(buffer, op: op)
        do {
            try request.wait(seconds: options.collectiveTimeout)
        } catch let error as MPIError {
            abortJob(error)
        }
    }

    /// The element-wise reduction of a few values over the ranks, with the collective timeout
    /// (`Communicator.allReducedWithTimeout`: never in an array's own storage); ends the job on a
    /// timeout like `allReduceWithTimeout`.
    func allReducedWithTimeout<T: MPIScalar>(_ values: [T], op: MPIReduceOp) throws -> [T] {
        guard communicator.size > 1 else { return values }
        do {
            return try communicator.allReducedWithTimeout(values, op: op, seconds: options.collectiveTimeout)
        } catch let error as MPIError {
            abortJob(error)
        }
    }

    /// Ends the job after a collective failed or timed out (another rank is dead, stopped or cut
    /// off): names the ranks that stopped answering, status 76 (`abortForLostRanks`).
    func abortJob(_ error: MPIError) -> Never {
        abortForLostRanks(error)
    }
}
