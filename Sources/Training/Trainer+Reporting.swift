import Checkpoints
import Datasets
import FlowModel
import Foundation
import MPIComm
import TensorKernels

/// The timing state of the progress line between two logged steps.
struct ProgressWindow {
    var start: Double
    var dataWait: Double
    var commWait: Double
    var step: Int
    /// Time spent in evaluation and checkpoints inside the window, left out of the rates.
    var excluded: Double = 0
    /// Loss sums of the window's steps, over every rank.
    var sums = LossSums()
}

/// Results of one pass over the validation split, summed over every rank.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var samples: Int
    /// Means of sums over every rank.
    init(_ sums: LossSums) {
        self.init(loss: sums.meanLoss, accuracy: sums.accuracy, samples: sums.count)
    }

    public init(loss: Double, accuracy: Double, samples: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.samples = samples
    }

    /// exp(loss), for language models.
    public var perplexity: Double { Foundation.exp(loss) }
}

/// What rank 0's checkpoint write came to, as every rank learns it.
enum CheckpointWrite: Equatable {
    case written(path: String)
    /// The write failed and `checkpoint.on_error: continue` let training go on without it.
    case skipped

    /// The form rank 0 broadcasts.
    var text: String {
        switch self {
        case .written(let path): return "written " + path
        case .skipped: return "skipped"
        }
    }

    init(text: String) {
        self = text.hasPrefix("written ") ? .written(path: String(text.dropFirst("written ".count))) : .skipped
    }
}

extension Trainer {
    /// Writes the rank-0 progress line and a metrics record.
    ///
    ///     step 120/1000 | loss 2.3456 | acc 41.2% | lr 3.00e-04 | gnorm 0.812 | 5,120 tok/s | data 1% comm 4% | ETA 12m30s
    ///
    /// with, when a rank lags the others by more than 10% (`SlowRankReport`, gathered from every
    /// rank — so every rank calls this), `| slowest rank 2 (node3) +35% compute` and/or
    /// `| slow link rank 2 (node3) +180%` before the ETA.
    func logProgress(window: inout ProgressWindow, learningRate: Float, gradientNorm: Float) {
        let loss = window.sums.meanLoss, accuracy = window.sums.accuracy
        let now = Clock.seconds()
        let elapsed = max(now - window.start - window.excluded, 1e-9)
        let steps = state.step - window.step
        let samplesPerSecond = Double(steps * config.train.globalBatch) / elapsed
        let dataShare = (trainLoader.waitSeconds - window.dataWait) / elapsed
        let commShare = (trainingStep.commWaitSeconds - window.commWait) / elapsed
        let secondsPerStep = elapsed / Double(max(steps, 1))
        let eta = secondsPerStep * Double(totalSteps - state.step)
        let waited = trainingStep.commWaitSeconds - window.commWait
        let slow = slowRankReport(compute: elapsed - waited - (trainLoader.waitSeconds - window.dataWait), wait: waited)
        // The next window starts after the probe: its transfers are reporting, not training.
        window = ProgressWindow(start: Clock.seconds(), dataWait: trainLoader.waitSeconds, commWait: trainingStep.commWaitSeconds,
                                step: state.step)
        guard isRoot else { return }

        let tokens = config.model.kind == .image ? 1 : config.model.seqLen
        let rate = config.model.kind == .image
            ? "\(Int(samplesPerSecond.rounded())) img/s"
            : "\(Int((samplesPerSecond * Double(tokens)).rounded())) tok/s"
        var line = "step \(state.step)/\(totalSteps) | loss \(format(loss, 4))"
        if config.model.kind != .lm { line += " | acc \(format(accuracy * 100, 1))%" }
        line += " | lr \(String(format: "%.2e", learningRate)) | gnorm \(format(Double(gradientNorm), 3))"
        line += " | \(rate) | data \(Int((dataShare * 100).rounded()))% comm \(Int((commShare * 100).rounded()))%"
        line += describe(slow)
        line += " | ETA \(duration(eta))"
        options.print(line)
        metrics?.append(metricsFields(slow).merging([
            "event": .string("train"), "step": .int(state.step), "epoch": .int(state.epoch),
            "loss": .double(loss), "accuracy": .double(accuracy), "lr": .double(Double(learningRate)),
            "grad_norm": .double(Double(gradientNorm)), "samples_per_second": .double(samplesPerSecond),
            "tokens_per_second": .double(samplesPerSecond * Double(tokens)),
            "data_wait_share": .double(dataShare), "comm_wait_share": .double(commShare),
            "samples_seen": .int(state.samplesSeen), "world_size": .int(communicator.size),
        ]) { $1 })
    }

    /// One pass over the validation split (every sample exactly once across ranks), sums reduced;
    /// with `train.eval_batches` > 0, each rank stops after that many batches of `micro_batch`
    /// (deterministic runs: only the first eval_batches global batches are evaluated).
    func evaluate() throws -> EvaluationResult {
        guard let loader = validationLoader else { throw TrainingError("no validation split (data.val)") }
        loader.restart()
        let context = ForwardContext(seed: state.seed, step: state.step, firstSampleIndex: 0, training: false)
        let sums = try Trainer.evaluationPass(model: model, loader: loader, context: context,
                                              batchLimit: config.train.evalBatches, deterministic: config.train.deterministic) {
            try self.allReduceWithTimeout($0, op: .sum)
        }
        return EvaluationResult(sums)
    }

    /// The sums of one pass of `loader` over every rank (`sumAcrossRanks`: an element-wise
    /// all-reduce sum). With `batchLimit` > 0 each rank stops after that many batches — in a
    /// deterministic pass (an aligned loader) only the first `batchLimit` global batches count.
    /// A deterministic pass puts each global batch's sums in its own slot and adds the slots in
    /// order (`SlottedSums`), so the result is the same bits on any number of ranks.
    static func evaluationPass(model: FlowformerModel<Float>, loader: EvaluationLoader, context: ForwardContext,
                               batchLimit: Int, deterministic: Bool,
                               sumAcrossRanks: (UnsafeMutableBufferPointer<Double>) throws -> Void) throws -> LossSums {
        if deterministic {
            let partition = loader.partition
            var slots = SlottedSums(slots: partition.globalBatchCount)
            var index = partition.firstGlobalBatch
            while batchLimit == 0 || index < batchLimit, let batch = try loader.next() {
                slots.set(index, model.forward(batch, rows: 0, count: batch.count, context: context))
                index += 1
            }
            return try slots.total(sumAcrossRanks)
        }
        var sums = LossSums()
        var batches = 0
        while batchLimit == 0 || batches < batchLimit, let batch = try loader.next() {
            sums += model.forward(batch, rows: 0, count: batch.count, context: context)
            batches += 1
        }
        try sums.reduce(sumAcrossRanks)
        return sums
    }

    func evaluateAndRecord() throws {
        let result = try evaluate()
        state.validationLoss = result.loss
        if result.loss.isFinite, state.bestValidationLoss.map({ result.loss < $0 }) ?? true {
            state.bestValidationLoss = result.loss
            state.bestStep = state.step
        }
        guard isRoot else { return }
        var line = "eval step \(state.step): val loss \(format(result.loss, 4))"
        if config.model.kind == .lm {
            line += " | ppl \(format(result.perplexity, 2)) | token acc \(format(result.accuracy * 100, 1))%"
        } else {
            line += " | val acc \(format(result.accuracy * 100, 2))%"
        }
        line += " | \(result.samples) samples"
        options.print(line)
        var record: [String: MetricValue] = [
            "event": .string("eval"), "step": .int(state.step), "val_loss": .double(result.loss),
            "val_accuracy": .double(result.accuracy), "val_samples": .int(result.samples),
        ]
        if config.model.kind == .lm { record["val_perplexity"] = .double(result.perplexity) }
        metrics?.append(record)
    }

    /// Rank 0 writes the checkpoint of the current state; every rank learns whether it worked.
    ///
    /// - A non-finite value is never written: every rank first checks the parameters and the
    ///   optimizer state (identical on all ranks) and the run stops as diverged instead.
    /// - A write error (disk full, file-size limit, permissions) leaves earlier checkpoints
    ///   untouched (the writer renames a complete temporary file into place). With
    ///   `checkpoint.on_error: stop`, or when the checkpoint is not `optional` (the run's final one,
    ///   or the one before a signal stop), the run stops with one line naming the error and the
    ///   newest checkpoint on disk; with `continue`, rank 0 prints a one-line warning, records a
    ///   `checkpoint_failed` metrics event and training goes on, the next due checkpoint retrying.
    /// - The other ranks wait for rank 0's result with the collective timeout, so a rank 0 that
    ///   died or was stopped while writing ends the job instead of hanging it.
    func saveCheckpoint(reason: String, optional: Bool = false) throws {
        if let bad = try agreedNonFiniteValue() {
            throw TrainingDiverged("\(bad) is not finite at step \(state.step): checkpoint not written; \(intactCheckpointNote)")
        }
        let step = state.step, beforeRename = options.hooks.beforeCheckpointRename
        options.hooks.beforeCheckpoint(step)
        // Sharded: the other ranks hand rank 0 their shards of the optimizer state, entry by
        // entry, while it writes (ShardedState); then all agree on the outcome as usual.
        if !isRoot, let shardedState { try shardedState.serveGathers() }
        shardedState?.beginGathers()
        let fetch = shardedState.map { gatherer in { (name: String, entry: ParameterEntry) in try gatherer.fetch(name, entry) } }
        let outcome = try communicator.rootDecides(agreeingWith: { try self.allReduceWithTimeout($0, op: .min) }) {
            let path: String
            do {
                path = try CheckpointWriter.write(
                    directory: config.checkpoint.dir, table: model.table,
                    parameters: model.parameters.pointer,
                    optimizerStates: optimizer.stateBuffers.map { (name: $0.name, buffer: UnsafePointer($0.buffer.pointer)) },
                    trainer: state, configText: config.yaml,
                    gradientExponents: trainingStep.gradientExponents, dataRecord: dataRecord, beforeRename: { beforeRename(step) },
                    fetchOptimizerState: fetch)
                try shardedState?.finishGathers()
            } catch {
                try shardedState?.finishGathers()   // the other ranks wait in the gathers the writer skipped
                let newest = (try? CheckpointDirectory(path: config.checkpoint.dir).checkpoints().last?.path) ?? nil
                let failure = oneLine(error) + "; newest checkpoint on disk: " + (newest ?? "none")
                guard optional && config.checkpoint.onError == .continue else {
                    let why = config.checkpoint.onError == .stop ? "checkpoint.on_error: stop" : "a run's last checkpoint is never skipped"
                    throw TrainingError(failure + "; training stops (\(why))")
                }
                options.print("warning: \(failure); training continues (checkpoint.on_error: continue), the next checkpoint retries")
                metrics?.append(["event": .string("checkpoint_failed"), "step": .int(state.step), "error": .string(oneLine(error))])
                return CheckpointWrite.skipped.text
            }
            let directory = CheckpointDirectory(path: config.checkpoint.dir)
            if config.checkpoint.keep > 0 {
                try directory.applyRetention(keep: config.checkpoint.keep,
                                             bestStep: config.checkpoint.keepBest ? state.bestStep : nil)
            }
            options.print("checkpoint \(path) (step \(state.step), \(reason))")
            metrics?.append(["event": .string("checkpoint"), "step": .int(state.step), "path": .string(path)])
            return CheckpointWrite.written(path: path).text
        }
        if case .written(let path) = CheckpointWrite(text: outcome) { lastCheckpoint = path }
    }

    /// The largest peak resident memory of any rank (`VmHWM`), beside the plan's estimate: one
    /// line and a `memory` metrics record at the end of a run.
    func reportPeakMemory() throws {
        let peak = try allReducedWithTimeout([Int64(ResidentMemory.peakBytes())], op: .max)
        guard isRoot else { return }
        let ratio = Double(peak[0]) / Double(max(plan.total, 1))
        options.print("peak resident memory: \(formatBytes(Int(peak[0]))) per rank (largest of \(communicator.size)); "
                      + "planned \(formatBytes(plan.total)) (measured/planned \(String(format: "%.3f", ratio)))")
        metrics?.append(["event": .string("memory"), "step": .int(state.step), "peak_rss_bytes": .int(Int(peak[0])),
                         "planned_bytes": .int(plan.total), "world_size": .int(communicator.size)])
    }

    /// Where the last finite state is, for the messages of a run that stops on bad numbers.
    var intactCheckpointNote: String {
        lastCheckpoint.map { "the last checkpoint, \($0), holds finite values" }
            ?? "checkpoints in \(config.checkpoint.dir) hold finite values"
    }

    /// The first parameter or optimizer-state tensor holding a NaN or ±∞, named for a message;
    /// nil when all are finite. One pass over each buffer, at checkpoints only.
    /// Sharded, each rank checks its own shard of the optimizer state (parameters are whole
    /// everywhere).
    func firstNonFiniteValue() -> String? {
        /// `values` holds elements `range` of the flat buffer.
        func firstBad(_ values: UnsafePointer<Float>, _ range: Range<Int>) -> ParameterEntry? {
            var index = 0
            while index < range.count, values[index].isFinite { index &+= 1 }
            guard index < range.count else { return nil }
            return model.table.entries.last { $0.offset <= range.lowerBound + index }
        }
        if let entry = firstBad(model.parameters.pointer, 0 ..< model.table.count) { return "parameter \(entry.name)" }
        for state in optimizer.stateBuffers {
            if let entry = firstBad(state.buffer.pointer, optimizer.shard) { return "optimizer state \(entry.name)/\(state.name)" }
        }
        return nil
    }

    /// `firstNonFiniteValue`, the same on every rank: sharded, the lowest rank that found one
    /// names it (unsharded every rank holds the same values and finds the same).
    func agreedNonFiniteValue() throws -> String? {
        let local = firstNonFiniteValue()
        guard sharded != nil else { return local }
        let firstBad = try communicator.allReduce(Int32(local == nil ? communicator.size : communicator.rank), op: .min)
        guard firstBad < Int32(communicator.size) else { return nil }
        return try communicator.broadcast(local ?? "", root: Int(firstBad))
    }

    func format(_ value: Double, _ decimals: Int) -> String {
        value.isFinite ? String(format: "%.\(decimals)f", value) : String(value)
    }

    func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
