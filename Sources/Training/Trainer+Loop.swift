import Checkpoints
import Datasets
import FlowModel
import Foundation
import MPIComm
import Optimizers

extension Trainer {
    /// Trains until `totalSteps` (or a stop signal), then writes the final checkpoint.
    ///
    /// Each step: stop signal agreed by the ranks? (checkpoint, stop) → learning rate → next
    /// batch → the training step (`TrainingStep.run`: micro-batches, reduction, skip of a
    /// non-finite step, clipping, optimizer) → skipped: count it, stop when too many in a row →
    /// advance the position → log, cross-rank checksum, evaluate, checkpoint when due.
    public func run() throws -> TrainOutcome {
        var window = ProgressWindow(start: Clock.seconds(), dataWait: trainLoader.waitSeconds,
                                    commWait: trainingStep.commWaitSeconds, step: state.step)
        var consecutiveSkips = 0

        while state.step < totalSteps {
            if let signal = try agreedStopSignal() {
                try saveCheckpoint(reason: "signal \(signal)")
                return .stopped(signal: signal)
            }
            let learningRate = Float(schedule.learningRate(atStep: state.step))
            let batch = try trainLoader.next()
            let result = try runStep(batch, learningRate: learningRate)
            if result.recomputed > 0 { recordRecomputation(times: result.recomputed) }
            state.epoch = trainLoader.position.epoch
            state.batchInEpoch = trainLoader.position.batchInEpoch
            guard result.applied else {
                consecutiveSkips += 1
                try recordSkip(result, consecutive: consecutiveSkips)
                continue
            }
            consecutiveSkips = 0
            state.step += 1
            state.samplesSeen += config.train.globalBatch
            options.hooks.afterUpdate(state.step, model.parameters.pointer)
            window.sums += result.sums
            try finishStep(window: &window, learningRate: learningRate, gradientNorm: result.gradientNorm)
        }
        try reportPeakMemory()
        return .completed
    }

    /// The training step on this rank's slice of the global batch; a failed or timed-out
    /// collective ends the job.
    private func runStep(_ batch: Batch, learningRate: Float) throws -> StepResult {
        do {
            return try trainingStep.run(batch, stepsDone: state.step, seed: state.seed, learningRate: learningRate)
        } catch let error as MPIError {
            abortJob(error)
        }
    }

    /// Reports a skipped (non-finite) step; throws `TrainingDiverged` past `train.max_nan_skips`
    /// in a row.
    private func recordSkip(_ result: StepResult, consecutive: Int) throws {
        let what = result.nonFinite
        log("step \(state.step + 1): non-finite \(what); skipped (\(consecutive) in a row, limit \(config.train.maxNanSkips))")
        metrics?.append(["event": .string("skip"), "step": .int(state.step + 1), "reason": .string("non-finite \(what)"),
                         "consecutive": .int(consecutive)])
        if consecutive > config.train.maxNanSkips {
            throw TrainingDiverged("training diverged: non-finite loss or gradients in \(consecutive) consecutive steps at step \(state.step + 1) (train.max_nan_skips is \(config.train.maxNanSkips)); \(intactCheckpointNote)")
        }
    }

    /// Reports a deterministic step computed again because its fixed-point exponents did not fit.
    private func recordRecomputation(times: Int) {
        log("step \(state.step + 1): gradient exponents adapted to this step's gradients; step computed again")
        metrics?.append(["event": .string("redo"), "step": .int(state.step + 1), "reason": .string("fixed-point exponents"),
                         "times": .int(times)])
    }

    /// After an applied step: the progress line, the cross-rank checksum, evaluation and the
    /// checkpoint, each when due. Evaluation and checkpoint time is left out of the rates.
    private func finishStep(window: inout ProgressWindow, learningRate: Float, gradientNorm: Float) throws {
        let isLast = state.step == totalSteps
        if state.step % config.train.logEvery == 0 || isLast {
            logProgress(window: &window, learningRate: learningRate, gradientNorm: gradientNorm)
        }
        if config.train.checksumEvery > 0 && state.step % config.train.checksumEvery == 0 {
            try verifyParametersAgree()
        }
        let pauseStart = Clock.seconds()
        if validationLoader != nil && ((config.train.evalEvery > 0 && state.step % config.train.evalEvery == 0) || isLast) {
            try evaluateAndRecord()
        }
        if isLast || (config.checkpoint.every > 0 && state.step % config.checkpoint.every == 0) {
            // A periodic checkpoint may be skipped on a write error (checkpoint.on_error: continue); the final one may not.
            try saveCheckpoint(reason: isLast ? "end" : "every \(config.checkpoint.every)", optional: !isLast)
        }
        window.excluded += Clock.seconds() - pauseStart
    }

    /// The largest signal number any rank received, agreed by all ranks; nil if none.
    private func agreedStopSignal() throws -> Int32? {
        if let injected = options.hooks.atStepBoundary(state.step) { return injected }   // the same on every rank
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
