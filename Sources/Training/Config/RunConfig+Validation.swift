import FlowModel
import TensorKernels

extension RunConfig {
    /// Checks every value and combination that needs neither data nor MPI: positive sizes, heads
    /// dividing d_model, patch dividing image_size, micro_batch dividing global_batch, exactly one
    /// of steps / epochs, warmup ≤ steps, ranges of rates and factors, augment only for images.
    /// Enum values are checked when parsed. Throws `.invalidValue` naming the key path.
    public func validate() throws {
        try validate(sourceOf: { _ in nil })
    }

    /// Checks that `global_batch` splits over `worldSize` ranks into whole micro-batches:
    /// global_batch must be a multiple of worldSize × micro_batch. The message gives the numbers
    /// and suggests valid global batches and micro-batches (or world sizes).
    public func validate(worldSize: Int) throws {
        precondition(worldSize >= 1, "world size must be >= 1, got \(worldSize)")
        try validate()
        let global = train.globalBatch, micro = train.microBatch
        let unit = worldSize * micro
        guard global % unit != 0 else { return }
        var suggestions: [String] = []
        let lower = global / unit * unit
        suggestions.append("global_batch " + (lower > 0 ? "\(lower) or \(lower + unit)" : "\(unit)"))
        if global % worldSize == 0 {
            let perRank = global / worldSize
            suggestions.append("micro_batch one of \(divisors(of: perRank).map(String.init).joined(separator: ", "))")
        } else {
            suggestions.append("a world size dividing \(global) (\(divisors(of: global).map(String.init).joined(separator: ", ")))")
        }
        throw ConfigError(.worldSize, keyPath: "train.global_batch",
                          reason: "\(global) samples do not split into \(worldSize) ranks × micro_batch \(micro) "
                              + "(global_batch must be a multiple of \(worldSize) × \(micro) = \(unit)); use "
                              + suggestions.joined(separator: ", or "))
    }

    /// `validate()` with each problem attributed to where its key was set (`sourceOf` returns nil
    /// for a default): among the keys a check involves, the first one that was set names the error.
    func validate(sourceOf: (String) -> ConfigSource?) throws {
        func check(_ condition: Bool, _ keys: String..., reason: @autoclosure () -> String) throws {
            guard !condition else { return }
            let primary = keys.first { sourceOf($0) != nil } ?? keys[0]
            throw ConfigError(.invalidValue, source: sourceOf(primary) ?? .defaults, keyPath: primary, reason: reason())
        }
        func atLeast(_ value: Int, _ minimum: Int, _ key: String) throws {
            try check(value >= minimum, key, reason: "must be >= \(minimum), got \(value)")
        }
        func inRange(_ value: Double, _ key: String, _ range: String, _ ok: Bool) throws {
            try check(ok, key, reason: "must be in \(range), got \(yamlNumber(value))")
        }

        // model
        let m = model
        try atLeast(m.dModel, 1, "model.d_model")
        try atLeast(m.heads, 1, "model.heads")
        try check(m.dModel % m.heads == 0, "model.heads", "model.d_model",
                  reason: "heads \(m.heads) must divide d_model \(m.dModel) (heads could be \(divisors(of: m.dModel).map(String.init).joined(separator: ", ")))")
        try atLeast(m.layers, 1, "model.layers")
        try atLeast(m.ff, 1, "model.ff")
        try inRange(m.dropout, "model.dropout", "[0, 1)", m.dropout >= 0 && m.dropout < 1)
        if m.kind == .lm || m.kind == .sequence {
            try atLeast(m.seqLen, 1, "model.seq_len")
            try atLeast(m.vocabSize, 1, "model.vocab_size")
        }
        if m.kind == .image || m.kind == .sequence {
            try atLeast(m.numClasses, 2, "model.num_classes")
        }
        try check(m.pool == .mean || m.kind == .sequence, "model.pool", "model.kind",
                  reason: "cls (a learned CLS token) is implemented for kind sequence only, not \(m.kind.rawValue)")
        if m.kind == .image {
            try atLeast(m.imageSize, 1, "model.image_size")
            try atLeast(m.channels, 1, "model.channels")
            try atLeast(m.patch, 1, "model.patch")
            try check(m.imageSize % m.patch == 0, "model.patch", "model.image_size",
                      reason: "patch \(m.patch) must divide image_size \(m.imageSize) (patch could be \(divisors(of: m.imageSize).map(String.init).joined(separator: ", ")))")
        }

        // data
        try check(!data.train.isEmpty, "data.train", reason: "required: a file, a glob, or a list of files")
        for (name, list) in [("train", data.train), ("val", data.val), ("test", data.test)] {
            for (index, entry) in list.enumerated() {
                try check(!entry.isEmpty, "data.\(name)", reason: "entry \(index) is an empty path")
            }
        }

        // train
        let t = train
        try atLeast(t.globalBatch, 1, "train.global_batch")
        try atLeast(t.microBatch, 1, "train.micro_batch")
        try check(t.globalBatch % t.microBatch == 0, "train.micro_batch", "train.global_batch",
                  reason: "micro_batch \(t.microBatch) must divide global_batch \(t.globalBatch) (micro_batch could be \(divisors(of: t.globalBatch).map(String.init).joined(separator: ", ")))")
        try check(t.steps != nil || t.epochs != nil, "train.steps", reason: "one of train.steps or train.epochs is required")
        try check(t.steps == nil || t.epochs == nil, "train.epochs", "train.steps",
                  reason: "train.steps and train.epochs are exclusive: give one of them")
        if let steps = t.steps { try atLeast(steps, 1, "train.steps") }
        if let epochs = t.epochs { try atLeast(epochs, 1, "train.epochs") }
        try atLeast(t.seed, 0, "train.seed")
        try check(t.lr > 0, "train.lr", reason: "must be > 0, got \(yamlNumber(t.lr))")
        try check(t.minLr >= 0 && t.minLr <= t.lr, "train.min_lr", "train.lr",
                  reason: "min_lr \(yamlNumber(t.minLr)) must be in [0, lr \(yamlNumber(t.lr))]")
        try inRange(t.weightDecay, "train.weight_decay", "[0, ∞)", t.weightDecay >= 0)
        try check(t.beta1 >= 0 && t.beta1 < 1 && t.beta2 >= 0 && t.beta2 < 1, "train.betas",
                  reason: "each beta must be in [0, 1), got [\(yamlNumber(t.beta1)), \(yamlNumber(t.beta2))]")
        try check(t.eps > 0, "train.eps", reason: "must be > 0, got \(yamlNumber(t.eps))")
        try inRange(t.momentum, "train.momentum", "[0, 1)", t.momentum >= 0 && t.momentum < 1)
        try check(!(t.optimizer == .sgd && t.nesterov && t.momentum == 0), "train.nesterov", "train.momentum",
                  reason: "Nesterov momentum needs train.momentum > 0")
        try atLeast(t.warmupSteps, 0, "train.warmup_steps")
        if let steps = t.steps {
            try check(t.warmupSteps <= steps, "train.warmup_steps", "train.steps",
                      reason: "warmup_steps \(t.warmupSteps) exceeds steps \(steps)")
        }
        try inRange(t.lrGamma, "train.lr_gamma", "(0, 1]", t.lrGamma > 0 && t.lrGamma <= 1)
        try atLeast(t.lrStepSize, 0, "train.lr_step_size")
        try inRange(t.clipGradNorm, "train.clip_grad_norm", "[0, ∞) (0 disables clipping)", t.clipGradNorm >= 0)
        try atLeast(t.evalEvery, 0, "train.eval_every")
        try atLeast(t.evalBatches, 0, "train.eval_batches")
        try atLeast(t.logEvery, 1, "train.log_every")
        try atLeast(t.threads, 1, "train.threads")
        try check(t.bucketMb > 0, "train.bucket_mb", reason: "must be > 0, got \(yamlNumber(t.bucketMb))")
        try check(!(t.deterministic && t.allreduceDtype == .bf16), "train.allreduce_dtype", "train.deterministic",
                  reason: "deterministic runs sum gradients exactly as Int64; use allreduce_dtype: fp32")
        try check(!(t.shardOptimizer && t.deterministic), "train.shard_optimizer", "train.deterministic",
                  reason: "the sharded optimizer reduce-scatters Float gradients; deterministic runs are not sharded yet")
        try check(!(t.shardOptimizer && t.allreduceDtype == .bf16), "train.shard_optimizer", "train.allreduce_dtype",
                  reason: "the sharded optimizer reduce-scatters fp32 gradients; use allreduce_dtype: fp32")
        try atLeast(t.checksumEvery, 0, "train.checksum_every")
        try atLeast(t.maxNanSkips, 0, "train.max_nan_skips")
        try check(!t.augment || m.kind == .image, "train.augment", "model.kind",
                  reason: "augmentation (random crop and flip) is only for model.kind image, not \(m.kind.rawValue)")
        try check(!t.deterministic || t.globalBatch / max(t.microBatch, 1) <= FixedPointExponents.maxTerms,
                  "train.deterministic", "train.global_batch",
                  reason: "exact gradient sums support at most \(FixedPointExponents.maxTerms) micro-batches per step")

        // checkpoint
        try check(!checkpoint.dir.isEmpty, "checkpoint.dir", reason: "required: the directory for checkpoints and metrics")
        try atLeast(checkpoint.every, 0, "checkpoint.every")
        try atLeast(checkpoint.keep, 0, "checkpoint.keep")
    }
}

/// The positive divisors of `n` (n ≥ 1), ascending; at most `limit` of them (the smallest and the
/// largest halves) so that messages stay one short line.
func divisors(of n: Int, limit: Int = 12) -> [Int] {
    guard n >= 1 else { return [] }
    var all: [Int] = []
    var d = 1
    while d * d <= n {
        if n % d == 0 {
            all.append(d)
            if d != n / d { all.append(n / d) }
        }
        d += 1
    }
    all.sort()
    guard all.count > limit else { return all }
    return Array(all.prefix(limit / 2)) + Array(all.suffix(limit - limit / 2))
}
