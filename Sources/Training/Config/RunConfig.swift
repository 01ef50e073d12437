import FlowModel
import Optimizers
import TensorKernels

/// A complete run description (docs/FORMATS.md, "Configuration"): the four sections of the YAML file.
///
/// Plain values with the documented defaults; `RunConfig.load(file:overrides:)` resolves
/// defaults ← file ← `--set` overrides and validates, `yaml` serialises it back (stable key order)
/// for the checkpoint's `/config`. Swift names are the camelCase of the snake_case YAML keys.
/// Every key, its type, default and meaning: `Sources/Training/Config/README.md`.
public struct RunConfig: Sendable, Equatable {
    /// `model:` — the architecture. On resume these keys come from the checkpoint.
    public var model = ModelConfig()
    /// `data:` — dataset files.
    public var data = DataConfig()
    /// `train:` — optimisation, batching, schedule, logging and parallelism.
    public var train = TrainConfig()
    /// `checkpoint:` — where and how often to save.
    public var checkpoint = CheckpointConfig()

    public init() {}
}

/// `data:` — each split is a list of HDF5 files or glob patterns (docs/FORMATS.md, "Dataset files"); YAML may give one
/// string or a list. Globs are expanded by the data loader, not here.
public struct DataConfig: Sendable, Equatable {
    /// `train` — required.
    public var train: [String] = []
    /// `val` — optional; empty means no validation.
    public var val: [String] = []
    /// `test` — optional; used by evaluation tools, never by training.
    public var test: [String] = []
    /// `allow_change` — resume without the warning when the training data differs from what the
    /// checkpoint recorded (a position past the end of the new data is an error all the same).
    public var allowChange = false

    public init() {}
}

/// `train:` — see the README of this folder for the meaning of each key.
public struct TrainConfig: Sendable, Equatable {
    /// `global_batch` — samples per optimizer step, all ranks together.
    public var globalBatch = 64
    /// `micro_batch` — samples per forward/backward on one rank; accumulation steps are
    /// global_batch / (world size × micro_batch).
    public var microBatch = 16
    /// `steps` — optimizer steps in the run; exclusive with `epochs`.
    public var steps: Int? = 1000
    /// `epochs` — passes over the training split; exclusive with `steps`.
    public var epochs: Int? = nil
    /// `seed` — initialisation, data order, dropout and augmentation all derive from it.
    public var seed = 0
    /// `optimizer` — adamw | sgd.
    public var optimizer: OptimizerKind = .adamw
    /// `lr` — peak learning rate.
    public var lr = 3.0e-4
    /// `weight_decay` — AdamW decoupled decay / SGD L2 coefficient, on Linear weights only.
    public var weightDecay = 0.1
    /// `betas[0]` — AdamW β₁.
    public var beta1 = 0.9
    /// `betas[1]` — AdamW β₂.
    public var beta2 = 0.999
    /// `eps` — AdamW ε.
    public var eps = 1.0e-8
    /// `momentum` — SGD μ.
    public var momentum = 0.9
    /// `nesterov` — SGD Nesterov momentum.
    public var nesterov = false
    /// `schedule` — constant | cosine | linear | step | inverse_sqrt.
    public var schedule: ScheduleKind = .cosine
    /// `warmup_steps` — linear warm-up length in optimizer steps.
    public var warmupSteps = 100
    /// `min_lr` — the floor the decaying schedules reach.
    public var minLr = 3.0e-5
    /// `lr_gamma` — factor per decay of the `step` schedule.
    public var lrGamma = 0.1
    /// `lr_step_size` — steps between decays of the `step` schedule; 0 = a third of the decay phase.
    public var lrStepSize = 0
    /// `clip_grad_norm` — global gradient-norm limit; 0 disables clipping.
    public var clipGradNorm = 1.0
    /// `eval_every` — validate every this many optimizer steps (and at the end); 0 = only at the end.
    public var evalEvery = 200
    /// `eval_batches` — batches of `micro_batch` samples each rank evaluates per validation; 0 = the whole split.
    public var evalBatches = 0
    /// `log_every` — print and append a metrics line every this many optimizer steps.
    public var logEvery = 10
    /// `threads` — BLAS threads per rank.
    public var threads = 1
    /// `overlap_comm` — all-reduce gradient buckets while backward continues.
    public var overlapComm = true
    /// `bucket_mb` — size cap of one gradient all-reduce bucket, in MiB. Smaller than PyTorch DDP's 25
    /// because the models trained on CPUs here hold a few to tens of MiB of gradients: 25 would make
    /// one bucket, started only when backward ends.
    public var bucketMb = 4.0
    /// `bucket_mb` in bytes.
    public var bucketBytes: Int { Int(bucketMb * 1_048_576) }
    /// `checksum_every` — check every this many steps that all ranks hold identical parameters; 0 = never.
    public var checksumEvery = 100
    /// `max_nan_skips` — consecutive steps with a non-finite loss or gradient norm that are skipped
    /// (no update) before the run stops with an error; 0 = stop at the first.
    public var maxNanSkips = 0
    /// `augment` — random crop and horizontal flip of training images (image models only).
    public var augment = false
    /// `memory_check` — stop before allocating anything when the run plan's memory per rank,
    /// times the ranks on this node, exceeds what the node has available.
    public var memoryCheck = true
    /// `shard_optimizer` — ZeRO stage 1: each rank keeps the optimizer state of its 1/W of the
    /// parameters; gradients are reduce-scattered, updated parameters all-gathered.
    public var shardOptimizer = false
    /// `deterministic` — the same bits for any number of ranks: micro-batch gradients are summed
    /// exactly in Int64 fixed point, loss and evaluation sums in a fixed order (Training/README.md).
    public var deterministic = false
    /// `precision` — fp32 | bf16: the arithmetic of the Linear layers' products (`MatmulPrecision`).
    public var precision: MatmulPrecision = .fp32
    /// `allreduce_dtype` — fp32 | bf16: the element type of gradients on the wire.
    public var allreduceDtype: AllReduceDtype = .fp32

    public init() {}
}

/// `train.allreduce_dtype`: how gradients travel in the all-reduce.
public enum AllReduceDtype: String, CaseIterable, Sendable {
    /// Float32 values, summed in Float32.
    case fp32
    /// Each value rounded to bfloat16 (half the bytes), summed in Float32.
    case bf16
}

/// `checkpoint:` — checkpoints and `metrics.jsonl` live in `dir`.
public struct CheckpointConfig: Sendable, Equatable {
    /// `dir` — when neither the file nor an override gives it, `runs/<config file name without
    /// extension>` (resolved at load time, so the saved config always holds a path).
    public var dir = ""
    /// `every` — save every this many optimizer steps (and at the end); 0 = only at the end.
    public var every = 200
    /// `keep` — newest checkpoints kept; older ones are deleted; 0 = keep all.
    public var keep = 3
    /// `keep_best` — also keep the checkpoint with the best validation loss.
    public var keepBest = false
    /// `on_error` — what a failed periodic checkpoint write does to the run.
    public var onError: CheckpointErrorPolicy = .stop

    public init() {}
}

/// `checkpoint.on_error`: what happens when writing a periodic checkpoint fails (disk full,
/// file-size limit, permissions). Earlier checkpoints are untouched either way, and the run's last
/// checkpoint (at the end, or before a signal stop) is never skipped: failing it stops the run.
public enum CheckpointErrorPolicy: String, CaseIterable, Sendable {
    /// Stop the run with exit status 1 and a one-line error naming the newest checkpoint on disk.
    case stop
    /// Print a one-line warning and keep training; the next due checkpoint tries again.
    case `continue`
}

extension TrainConfig {
    /// The learning-rate schedule for a run of `totalSteps` optimizer steps (`steps`, or
    /// epochs × full batches per epoch, which only the data loader knows).
    public func learningRateSchedule(totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(kind: schedule, learningRate: lr, minLearningRate: minLr, warmupSteps: warmupSteps,
                             totalSteps: totalSteps, gamma: lrGamma, stepSize: lrStepSize)
    }

    /// The optimizer this section describes, for a parameter buffer laid out as `table`.
    public func makeOptimizer(table: ParameterTable, shard: Range<Int>? = nil) -> any Optimizer {
        switch optimizer {
        case .adamw:
            return AdamW(table: table, betas: (Float(beta1), Float(beta2)), eps: Float(eps),
                         weightDecay: Float(weightDecay), shard: shard)
        case .sgd:
            return SGD(table: table, momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(weightDecay),
                       shard: shard)
        }
    }

    /// Micro-batches each rank runs per optimizer step: global_batch / (worldSize × micro_batch).
    /// Call after `RunConfig.validate(worldSize:)`.
    public func accumulationSteps(worldSize: Int) -> Int {
        precondition(worldSize >= 1 && globalBatch % (worldSize * microBatch) == 0,
                     "global_batch \(globalBatch) does not split into \(worldSize) × \(microBatch); validate first")
        return globalBatch / (worldSize * microBatch)
    }
}
