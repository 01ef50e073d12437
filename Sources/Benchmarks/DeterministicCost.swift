import FlowModel
import MPIComm
import Optimizers
import TensorKernels
import Training

/// Step time with `train.deterministic` against without, side by side in one process: two
/// models with the same initial parameters, each with its own `TrainingStep` (one ordinary, one
/// deterministic), stepped alternately on the same inputs — so both see the same machine
/// noise, which matters on a shared machine. Every rank runs the same loop (under mpirun the
/// reductions are real); the figures are rank 0's.
public enum DeterministicCost {
    public struct Result: Sendable {
        /// Wall seconds per step, ordinary and deterministic.
        public var ordinary: TimingSummary
        public var deterministic: TimingSummary
        /// Deterministic steps computed again (fixed-point exponents adapted), over all its steps.
        public var recomputed: Int
        public var parameterCount: Int
        /// The added arithmetic alone, on the P-element gradient buffer, best of 20 (the minimum is
        /// what survives a busy machine): one micro-batch's quantisation into the Int64 sums, and
        /// the once-per-step conversion back.
        public var quantizeSeconds: Double
        public var dequantizeSeconds: Double
        /// median(deterministic) / median(ordinary), and the same of the minima.
        public var medianRatio: Double { deterministic.median / ordinary.median }
        public var minimumRatio: Double { deterministic.min / ordinary.min }
    }

    /// - Parameters:
    ///   - settings: model, global batch, threads, warm-up and timed steps (of each kind), overlap;
    ///     `dataFile` is not used (inputs made in memory).
    ///   - microBatch: samples per forward; the per-rank batch must be a multiple of it.
    public static func run(_ settings: ModelBenchmarkSettings, microBatch: Int, world: Communicator) throws -> Result {
        let localBatch = settings.globalBatch / world.size
        guard settings.globalBatch % world.size == 0, microBatch >= 1, localBatch % microBatch == 0 else {
            throw BenchError("global batch \(settings.globalBatch) does not split into \(world.size) rank(s) × micro-batches of \(microBatch)")
        }
        BLASThreads.set(settings.threads)
        func makeStep(deterministic: Bool) -> (FlowformerModel<Float>, TrainingStep) {
            let model = FlowformerModel<Float>(config: settings.config, maxBatch: microBatch)
            model.initializeParameters(seed: settings.seed)
            let step = TrainingStep(model: model, optimizer: AdamW(table: model.table, weightDecay: 0.1),
                                    communicator: world, globalBatch: settings.globalBatch, microBatch: microBatch,
                                    clipNorm: 1.0, bucketBytes: 4 << 20, overlap: settings.overlap,
                                    collectiveTimeout: 300, deterministic: deterministic)
            return (model, step)
        }
        let (ordinaryModel, ordinary) = makeStep(deterministic: false)
        let (deterministicModel, deterministic) = makeStep(deterministic: true)
        let inputs = try StepInputs(config: settings.config, localBatch: localBatch, globalBatch: settings.globalBatch,
                                    world: world, dataFile: nil, seed: settings.seed)
        var times: [[Double]] = [[], []]
        var recomputed = 0
        for index in 0 ..< settings.warmupSteps + settings.timedSteps {
            _ = try inputs.advance()
            // Alternate which kind goes first, so neither always follows the other.
            for kind in index % 2 == 0 ? [0, 1] : [1, 0] {
                let step = kind == 0 ? ordinary : deterministic
                let start = monotonicSeconds()
                let result = try step.run(inputs.batch, stepsDone: index, seed: settings.seed, learningRate: 3e-4)
                let seconds = monotonicSeconds() - start
                // The first step of a deterministic run is computed twice (its exponents start
                // from a guess): that is warm-up.
                if index >= settings.warmupSteps {
                    times[kind].append(seconds)
                    if kind == 1 { recomputed += result.recomputed }
                }
            }
        }
        withExtendedLifetime((ordinaryModel, deterministicModel)) {}
        let kernels = kernelSeconds(count: ordinaryModel.table.count)
        return Result(ordinary: TimingSummary(samples: times[0]), deterministic: TimingSummary(samples: times[1]),
                      recomputed: recomputed, parameterCount: ordinaryModel.table.count,
                      quantizeSeconds: kernels.quantize, dequantizeSeconds: kernels.dequantize)
    }

    /// Best of 20 of `quantizeAndAccumulate` (adding) and `dequantize` over `count` gradient-like values.
    static func kernelSeconds(count: Int) -> (quantize: Double, dequantize: Double) {
        let values = UnsafeMutablePointer<Float>.allocate(capacity: count)   // [count]
        let sums = UnsafeMutablePointer<Int64>.allocate(capacity: count)     // [count]
        defer { values.deallocate(); sums.deallocate() }
        sums.initialize(repeating: 0, count: count)
        var best = (quantize: Double.infinity, dequantize: Double.infinity)
        for _ in 0 ..< 20 {
            for i in 0 ..< count { values[i] = Float(i % 1000) * 1e-6 - 5e-4 }
            var start = monotonicSeconds()
            _ = quantizeAndAccumulate(values, into: sums, count: count, exponent: -48, termBits: 50, overwrite: false)
            best.quantize = min(best.quantize, monotonicSeconds() - start)
            start = monotonicSeconds()
            dequantize(sums, into: values, count: count, exponent: -48)
            best.dequantize = min(best.dequantize, monotonicSeconds() - start)
        }
        return best
    }
}
