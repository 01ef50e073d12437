import Datasets
import FlowModel
import Foundation
import MPIComm
import Optimizers
import TensorKernels

/// What one call of `TrainingStep.run` did.
public struct StepResult: Sendable {
    /// Loss sums of the step's global batch, added over every rank (the same on every rank).
    public var sums: LossSums
    /// ‖g‖₂ of the summed gradient before clipping (Float; NaN or ∞ when not finite).
    public var gradientNorm: Float
    /// Whether the optimizer updated the parameters; false: the loss or the gradients were not
    /// finite on some rank, every rank skipped the update alike.
    public var applied: Bool
    /// Wall seconds of the phases (see `StepTimes`).
    public var times: StepTimes
    /// Deterministic steps: how many times the step was computed again because its fixed-point
    /// exponents did not fit its gradients (the same on every rank and for every W).
    public var recomputed = 0

    /// "loss" or "gradients": what was not finite when the step was skipped.
    public var nonFinite: String { sums.lossSum.isFinite ? "gradients" : "loss" }
}

/// Wall seconds spent in each phase of one step, summed over its micro-batches.
public struct StepTimes: Sendable {
    public var forward = 0.0
    /// Backward, including the gradient all-reduces started during it (overlap).
    public var backward = 0.0
    /// Waiting for the gradient all-reduces after backward, and the loss sums' all-reduce.
    public var commWait = 0.0
    /// Clipping and the optimizer update.
    public var optimizer = 0.0
}

/// The training step, the one the trainer runs and `flowformer bench model` times:
///
///     for each micro-batch m of this rank's slice of the global batch:
///         forward (dropout keyed by the sample's global index) → loss sums
///         backward with loss scale 1 / global batch, adding into the gradients;
///         on the last micro-batch backward hands each finished block to the reducer,
///         which all-reduces (sums) it while backward goes on
///     wait for the reductions; sum the loss sums over the ranks
///     non-finite loss or gradient norm → skip the update (every rank holds the same sums,
///         so every rank decides alike)
///     clip by the global norm; optimizer step at `learningRate`
///
/// Deterministic (`train.deterministic`): backward also hands every micro-batch's finished
/// ranges to `FixedPointGradients`, which adds them exactly into Int64 sums; the reducer sums
/// those; the loss sums go per global micro-batch into `SlottedSums`; a step whose exponents
/// did not fit is computed again (Training/README.md, "The same bits on any number of ranks").
///
/// Allocates nothing per step (the hooks are made once; a spoiling hook, tests only, allocates
/// its wrapper).
public final class TrainingStep {
    let model: FlowformerModel<Float>
    let optimizer: any Optimizer
    let reducer: GradientReducer
    let communicator: Communicator
    /// Samples per optimizer step over all ranks, per rank, and per forward call.
    let globalBatch: Int
    let localBatch: Int
    let microBatch: Int
    let accumulation: Int
    /// `train.clip_grad_norm`; ≤ 0: no clipping.
    let clipNorm: Float
    let collectiveTimeout: Double
    let hooks: TrainingHooks
    /// ZeRO stage 1: this rank's shard of the reduced gradients (the optimizer holds the state of
    /// that shard only); nil when every rank updates every parameter.
    let sharded: ShardedGradient?
    /// Deterministic steps: the exact gradient sums, and the loss sums per global micro-batch.
    let fixedPoint: FixedPointGradients?
    private var microBatchSums: SlottedSums
    /// Backward's `onGradientsReady` for every micro-batch but the last (nil, or the
    /// quantisation), and for the last (the reducer's bucketing, after the quantisation if any).
    private let microBatchHook: ((Range<Int>) -> Void)?
    private let lastMicroBatchHook: (Range<Int>) -> Void

    /// - Parameters:
    ///   - deterministic: `train.deterministic` (exact gradient sums, loss sums in a fixed order).
    ///   - gradientExponents: a deterministic run's saved exponents (from its checkpoint), or nil.
    ///   - allreduceDtype: `train.allreduce_dtype` (bf16: gradients travel as bf16, summed in fp32).
    ///   - sharded: reduce-scatter the gradients into this rank's shard, update it, and
    ///     all-gather the parameters (`optimizer.shard` must be `sharded.shard`). The sharded
    ///     step sums Float gradients (neither deterministic nor bf16 on the wire).
    public convenience init(model: FlowformerModel<Float>, optimizer: any Optimizer, communicator: Communicator,
                            globalBatch: Int, microBatch: Int, clipNorm: Float, bucketBytes: Int, overlap: Bool,
                            collectiveTimeout: Double, deterministic: Bool = false, gradientExponents: [Int]? = nil,
                            allreduceDtype: AllReduceDtype = .fp32, hooks: TrainingHooks = .none) {
        self.init(model: model, optimizer: optimizer, communicator: communicator, globalBatch: globalBatch,
                  microBatch: microBatch, clipNorm: clipNorm, bucketBytes: bucketBytes, overlap: overlap,
                  collectiveTimeout: collectiveTimeout, deterministic: deterministic,
                  gradientExponents: gradientExponents, allreduceDtype: allreduceDtype, hooks: hooks, sharded: nil)
    }

    init(model: FlowformerModel<Float>, optimizer: any Optimizer, communicator: Communicator,
         globalBatch: Int, microBatch: Int, clipNorm: Float, bucketBytes: Int, overlap: Bool,
         collectiveTimeout: Double, deterministic: Bool, gradientExponents: [Int]?,
         allreduceDtype: AllReduceDtype, hooks: TrainingHooks, sharded: ShardedGradient?) {
        precondition(!(deterministic && allreduceDtype == .bf16),
                     "deterministic sums travel as Int64; bf16 on the wire does not apply")
        precondition(sharded == nil || (!deterministic && allreduceDtype == .fp32),
                     "the sharded step reduce-scatters Float gradients")
        precondition(sharded == nil || sharded?.shard == optimizer.shard, "the optimizer must hold the state of this rank's shard")
        precondition(globalBatch % communicator.size == 0 && (globalBatch / communicator.size) % microBatch == 0,
                     "global batch \(globalBatch) does not split into \(communicator.size) rank(s) × micro-batches of \(microBatch)")
        self.model = model
        self.optimizer = optimizer
        self.communicator = communicator
        self.globalBatch = globalBatch
        localBatch = globalBatch / communicator.size
        self.microBatch = microBatch
        accumulation = localBatch / microBatch
        self.clipNorm = clipNorm
        self.collectiveTimeout = collectiveTimeout
        self.hooks = hooks
        self.sharded = sharded
        let fixedPoint = deterministic
            ? FixedPointGradients(table: model.table, gradients: model.gradients.pointer,
                                  terms: globalBatch / microBatch, exponents: gradientExponents)
            : nil
        self.fixedPoint = fixedPoint
        microBatchSums = SlottedSums(slots: deterministic ? globalBatch / microBatch : 0)
        let reducer = GradientReducer(communicator: communicator,
                                      buffer: fixedPoint.map { .fixedPoint($0.sums) } ?? .float(model.gradients.pointer),
                                      count: model.table.count, bucketBytes: bucketBytes, overlap: overlap,
                                      timeoutSeconds: collectiveTimeout,
                                      bfloat16OnTheWire: allreduceDtype == .bf16, sharded: sharded)
        self.reducer = reducer
        if let fixedPoint {
            let reduce = reducer.hook
            microBatchHook = { fixedPoint.quantize($0) }
            lastMicroBatchHook = { range in
                fixedPoint.quantize(range)
                reduce(range)
            }
        } else {
            microBatchHook = nil
            lastMicroBatchHook = reducer.hook
        }
    }

    /// Seconds this rank waited for gradient reductions after backward, over all steps.
    public var commWaitSeconds: Double { reducer.waitSeconds }

    /// Deterministic runs: the fixed-point exponents the next step starts from (checkpoints
    /// store them); nil otherwise.
    public var gradientExponents: [Int]? { fixedPoint?.exponents.exponents }

    /// Runs optimizer step `stepsDone + 1` on `batch`, this rank's `localBatch` samples of the
    /// global batch. Throws `MPIError` when a collective fails or times out.
    public func run(_ batch: Batch, stepsDone: Int, seed: UInt64, learningRate: Float) throws -> StepResult {
        precondition(batch.count == localBatch, "the batch holds \(batch.count) samples, the step takes \(localBatch)")
        var times = StepTimes()
        let lossScale = Float(1) / Float(globalBatch)
        let spoil = hooks.spoil(stepsDone + 1)
        let backwardScale = spoil == .loss ? Float.nan : lossScale
        var sums = LossSums()
        // A deterministic step whose exponents did not fit its gradients runs again on the same
        // batch with exponents from the maxima just measured (it fits then); every rank decides
        // alike from global maxima. A spoiled step meets the same fault when it runs again.
        var verdict = FixedPointExponents.Verdict.accept
        var recomputed = 0
        repeat {
            if verdict == .redo { recomputed += 1 }
            sums = LossSums()
            model.zeroGradients()
            reducer.begin()
            fixedPoint?.beginStep()
            microBatchSums.clear()
            for m in 0 ..< accumulation {
                let context = ForwardContext(seed: seed, step: stepsDone,
                                             firstSampleIndex: communicator.rank * localBatch + m * microBatch,
                                             training: true)
                let forwardStart = Clock.seconds()
                let microSums = model.forward(batch, rows: m * microBatch, count: microBatch, context: context)
                if fixedPoint != nil {
                    microBatchSums.set(communicator.rank * accumulation + m, microSums)
                } else {
                    sums += microSums
                }
                let backwardStart = Clock.seconds()
                if m < accumulation - 1 {
                    model.backward(lossScale: backwardScale, onGradientsReady: microBatchHook)
                } else if case .gradient(let value) = spoil {
                    model.backward(lossScale: backwardScale, onGradientsReady: spoiling(lastMicroBatchHook, with: value))
                } else {
                    model.backward(lossScale: backwardScale, onGradientsReady: lastMicroBatchHook)
                }
                fixedPoint?.endMicroBatch()
                times.forward += backwardStart - forwardStart
                times.backward += Clock.seconds() - backwardStart
            }
            let commStart = Clock.seconds()
            try reducer.finish()
            if let fixedPoint {
                try fixedPoint.maxima.withUnsafeMutableBufferPointer { try allReduceMax($0) }
                verdict = fixedPoint.verdict()
                if verdict == .redo { fixedPoint.adaptExponents() }
            }
            times.commWait += Clock.seconds() - commStart
        } while verdict == .redo

        let commStart = Clock.seconds()
        if let fixedPoint {
            if spoil == .loss { microBatchSums.poisonLoss(communicator.rank * accumulation) }
            sums = try microBatchSums.total(allReduceSum)
            if verdict == .accept {
                fixedPoint.dequantizeIntoGradients()
                fixedPoint.adaptExponents()   // the next step's, from this step's maxima
            }
        } else {
            if spoil == .loss { sums.lossSum = .nan }
            try sums.reduce(allReduceSum)
        }
        let optimizerStart = Clock.seconds()
        times.commWait += optimizerStart - commStart

        // Every rank holds the same reduced gradients and loss sums, so every rank decides the
        // same; a NaN or ±∞ on any one rank makes the sums non-finite on all of them.
        let applied: Bool
        let clip: (norm: Float, scale: Float)
        if let sharded {
            // The norm from every shard's chunk sums (the unsharded bits); clip and update this
            // rank's shard; every rank then receives every updated shard.
            let norm = try sharded.norm(allReduce: allReduceSum)
            clip = (Float(norm), clipScale(norm: norm, maxNorm: clipNorm))
            applied = verdict != .nonFinite && clip.norm.isFinite && sums.lossSum.isFinite
            if applied {
                scaleGradients(sharded.gradient, count: sharded.shard.count, by: clip.scale)
                optimizer.step(parameters: model.parameters.pointer + sharded.shard.lowerBound,
                               gradients: sharded.gradient, learningRate: learningRate)
                try sharded.startAllGather(model.parameters.pointer, communicator: communicator)
                    .wait(seconds: collectiveTimeout)
            }
        } else {
            clip = clipGradients(model.gradients.pointer, count: model.table.count, maxNorm: clipNorm)
            applied = verdict != .nonFinite && clip.norm.isFinite && sums.lossSum.isFinite
            if applied {
                optimizer.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer,
                               learningRate: learningRate)
            }
        }
        times.optimizer = Clock.seconds() - optimizerStart
        return StepResult(sums: sums, gradientNorm: clip.norm, applied: applied, times: times, recomputed: recomputed)
    }

    /// Element-wise sum over the ranks, waiting at most the collective timeout.
    private func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard communicator.size > 1 else { return }
        try communicator.allReduceNonBlocking(buffer, op: .sum).wait(seconds: collectiveTimeout)
    }

    /// Element-wise maximum over the ranks (the fixed-point maxima), waiting at most the collective timeout.
    private func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Int32>) throws {
        guard communicator.size > 1 else { return }
        try communicator.allReduceNonBlocking(buffer, op: .max).wait(seconds: collectiveTimeout)
    }

    /// `hook` with one gradient value overwritten before the first announced range is handed on.
    private func spoiling(_ hook: @escaping (Range<Int>) -> Void, with value: Float) -> (Range<Int>) -> Void {
        var pending = true
        let gradients = model.gradients.pointer
        return { range in
            if pending {
                gradients[range.lowerBound] = value
                pending = false
            }
            hook(range)
        }
    }
}
