import Checkpoints
import Datasets
import FlowModel
import Foundation
import MPIComm
import Optimizers

extension Trainer {
    /// Trains until `totalSteps` (or a stop signal), then writes the final checkpoint.
    ///
    /// One step: (stop signal agreed?) → learning rate → this rank's micro-batches, forward and
    /// backward, gradients accumulating; on the last micro-batch the reducer all-reduces bucket
    /// by bucket as backward finishes each block → loss sums reduced → non-finite gradients skip
    /// the step → clip by global norm → optimizer step → log, evaluate, checkpoint when due.
    public func run() throws -> TrainOutcome {
        let localBatch = config.train.globalBatch / communicator.size
        let micro = config.train.microBatch
        let lossScale = Float(1) / Float(config.train.globalBatch)
        var window = ProgressWindow(start: Clock.seconds(), dataWait: trainLoader.waitSeconds,
                                    commWait: reducer.waitSeconds, step: state.step)
        var consecutiveSkips = 0
        var poison = Poison(options.fault, rank: communicator.rank)   // fault injection (tests); nil in real runs
        var lossSums = [Double](repeating: 0, count: 3)   // [Σ loss, Σ correct, samples]
        var windowLoss = 0.0, windowSamples = 0.0, windowCorrect = 0.0

        while state.step < totalSteps {
            if let signal = try agreedStopSignal() {
                try saveCheckpoint(reason: "signal \(signal)")
                return .stopped(signal: signal)
            }
            let learningRate = Float(schedule.learningRate(atStep: state.step))
            let batch = try trainLoader.next()
            precondition(batch.count == localBatch, "the loader returned \(batch.count) samples, expected \(localBatch)")

            model.zeroGradients()
            reducer.begin()
            lossSums[0] = 0; lossSums[1] = 0; lossSums[2] = 0
            // Fault injection: a NaN loss (and loss gradient), or one bad gradient value, on this
            // rank only. The reductions below must carry it to every rank.
            var backwardScale = lossScale
            var gradientPoison: Float?
            switch poison?.strikes(step: state.step + 1) {
            case .gradient(let value)?: gradientPoison = value
            case .loss?: backwardScale = .nan
            case nil: break
            }
            for m in 0..<accumulation {
                let context = ForwardContext(seed: state.seed, step: state.step,
                                             firstSampleIndex: communicator.rank * localBatch + m * micro,
                                             training: true)
                let sums = forward(batch, rows: m * micro, count: micro, context: context)
                lossSums[0] += sums.lossSum; lossSums[1] += sums.correct; lossSums[2] += Double(sums.count)
                if m == accumulation - 1, let value = gradientPoison {   // fault injection (tests)
                    let hook = reducer.hook
                    model.backward(lossScale: backwardScale) { range in
                        if gradientPoison != nil {   // before this range is handed to the all-reduce
                            self.model.gradients.pointer[range.lowerBound] = value
                            gradientPoison = nil
                        }
                        hook(range)
                    }
                } else if m == accumulation - 1 {
                    model.backward(lossScale: backwardScale, onGradientsReady: reducer.hook)
                } else {
                    model.backward(lossScale: backwardScale)
                }
            }
            if backwardScale.isNaN { lossSums[0] = .nan }
            try finishReduction()
            try lossSums.withUnsafeMutableBufferPointer { try allReduceWithTimeout($0, op: .sum) }

            let clip = try clipReducedGradients()
            state.epoch = trainLoader.position.epoch
            state.batchInEpoch = trainLoader.position.batchInEpoch
            if !clip.norm.isFinite || !lossSums[0].isFinite {
                // Every rank holds the same reduced gradients and loss sums (the all-reduce gives
                // every rank the same result), so every rank decides the same; a NaN or ±∞ on any
                // one rank makes the sums non-finite on all of them.
                consecutiveSkips += 1
                let what = lossSums[0].isFinite ? "gradients" : "loss"
                log("step \(state.step + 1): non-finite \(what); skipped (\(consecutiveSkips) in a row, limit \(config.train.maxNanSkips))")
                metrics?.append(["event": .string("skip"), "step": .int(state.step + 1), "reason": .string("non-finite \(what)"),
                                 "consecutive": .int(consecutiveSkips)])
                if consecutiveSkips > config.train.maxNanSkips {
                    throw TrainingDiverged("training diverged: non-finite loss or gradients in \(consecutiveSkips) consecutive steps at step \(state.step + 1) (train.max_nan_skips is \(config.train.maxNanSkips)); \(intactCheckpointNote)")
                }
                continue
            }
            consecutiveSkips = 0
            try stepOptimizer(learningRate: learningRate)
            state.step += 1
            state.samplesSeen += config.train.globalBatch
            if options.fault == .desyncParameters(step: state.step, rank: communicator.rank) {
                model.parameters[0] = model.parameters[0].nextUp   // fault injection (tests)
            }

            windowLoss += lossSums[0]; windowCorrect += lossSums[1]; windowSamples += lossSums[2]
            if state.step % config.train.logEvery == 0 || state.step == totalSteps {
                logProgress(window: &window, loss: windowLoss / windowSamples,
                            accuracy: windowCorrect / windowSamples, learningRate: learningRate,
                            gradientNorm: clip.norm)
                windowLoss = 0; windowCorrect = 0; windowSamples = 0
            }
            if config.train.checksumEvery > 0 && state.step % config.train.checksumEvery == 0 {
                try verifyParametersAgree()
            }
            let evaluate = validationLoader != nil
                && ((config.train.evalEvery > 0 && state.step % config.train.evalEvery == 0) || state.step == totalSteps)
            let pauseStart = Clock.seconds()
            if evaluate { try evaluateAndRecord() }
            if state.step == totalSteps || (config.checkpoint.every > 0 && state.step % config.checkpoint.every == 0) {
                // A periodic checkpoint may be skipped on a write error (checkpoint.on_error: continue); the final one may not.
                try saveCheckpoint(reason: state.step == totalSteps ? "end" : "every \(config.checkpoint.every)",
                                   optional: state.step != totalSteps)
            }
            window.excluded += Clock.seconds() - pauseStart
        }
        try reportPeakMemory()
        return .completed
    }

    /// The global norm of the reduced gradients and the clipping factor applied to them: the
    /// whole buffer, or (sharded) this rank's shard with the norm agreed through the chunk sums.
    private func clipReducedGradients() throws -> (norm: Float, scale: Float) {
        let maxNorm = Float(config.train.clipGradNorm)
        guard let sharded else {
            return clipGradients(model.gradients.pointer, count: model.table.count, maxNorm: maxNorm)
        }
        let norm = try sharded.norm { try allReduceWithTimeout($0, op: .sum) }
        let scale = clipScale(norm: norm, maxNorm: maxNorm)
        scaleGradients(sharded.gradient.pointer, count: sharded.shard.count, by: scale)
        return (Float(norm), scale)
    }

    /// One optimizer update: of the whole buffer on every rank, or (sharded) of this rank's shard,
    /// followed by the all-gather that gives every rank every updated shard.
    private func stepOptimizer(learningRate: Float) throws {
        guard let sharded else {
            optimizer.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer,
                           learningRate: learningRate)
            return
        }
        optimizer.step(parameters: model.parameters.pointer + sharded.shard.lowerBound,
                       gradients: sharded.gradient.pointer, learningRate: learningRate)
        do {
            try sharded.startAllGather(model.parameters.pointer, communicator: communicator)
                .wait(seconds: options.collectiveTimeout)
        } catch let error as MPIError {
            communicator.abort(message: "flowformer: rank \(communicator.rank): error: \(error) (aborting the job; the last checkpoint in \(config.checkpoint.dir) is intact)")
        }
    }

    /// Forward of `count` rows of `batch` starting at `rows`.
    func forward(_ batch: Batch, rows: Int, count: Int, context: ForwardContext) -> LossSums {
        Trainer.forward(model: model, kind: config.model, batch: batch, rows: rows, count: count, context: context)
    }

    /// Forward of `count` rows of `batch` starting at `rows`, with the inputs and targets the
    /// model kind takes: lm — tokens [n, L] and next tokens [n, L]; sequence — tokens [n, L] and
    /// labels [n]; image — pixels [n, H·W·C] and labels [n].
    static func forward(model: FlowformerModel<Float>, kind config: ModelConfig, batch: Batch, rows: Int,
                        count: Int, context: ForwardContext) -> LossSums {
        switch config.kind {
        case .lm:
            let length = config.seqLen
            return model.forward(.tokens(batch.tokens.pointer + rows * length),
                                 targets: batch.targets.pointer + rows * length, count: count, context: context)
        case .sequence:
            let length = config.seqLen
            return model.forward(.tokens(batch.tokens.pointer + rows * length),
                                 targets: batch.labels.pointer + rows, count: count, context: context)
        case .image:
            let pixels = config.imageSize * config.imageSize * config.channels
            return model.forward(.pixels(batch.pixels.pointer + rows * pixels),
                                 targets: batch.labels.pointer + rows, count: count, context: context)
        }
    }

    private func finishReduction() throws {
        do {
            try reducer.finish()
        } catch let error as MPIError {
            communicator.abort(message: "flowformer: rank \(communicator.rank): error: \(error) (aborting the job; the last checkpoint in \(config.checkpoint.dir) is intact)")
        }
    }

    /// The largest signal number any rank received, agreed by all ranks; nil if none.
    private func agreedStopSignal() throws -> Int32? {
        if options.stopAtStep == state.step { return SIGTERM }   // the same decision on every rank
        if options.stepDelaySeconds > 0 { usleep(UInt32(options.stepDelaySeconds * 1e6)) }
        var signal = StopSignals.pending
        try withUnsafeMutablePointer(to: &signal) {
            try allReduceWithTimeout(UnsafeMutableBufferPointer(start: $0, count: 1), op: .max)
        }
        return signal == 0 ? nil : signal
    }

    func log(_ line: String) {
        if isRoot { options.print(line) }
    }
}
