import ArgumentParser
import Benchmarks
import FlowModel
import Foundation
import MPIComm
import TensorKernels
import Training

/// `flowformer bench model`: training throughput of one configuration, on one rank or (under
/// `mpirun -np N`) data-parallel over N ranks.
struct BenchModelCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Training-step throughput (forward + backward + all-reduce + AdamW) of the LM or image config.",
        discussion: """
            Presets are the issue's: lm = vocab 256, d_model 256, 8 heads, 4 layers, ff 1024, \
            seq 1024, batch 8; image = 32×32×3, patch 4, d_model 192, 6 heads, 6 layers, ff 768, \
            10 classes, batch 64. Inputs are generated in memory (compute only) unless --data \
            names a split. Run under `mpirun -np N` for N data-parallel ranks (the batch is the \
            global batch, split over the ranks). MFU divides by the 1-thread sgemm peak × ranks × \
            threads (measured first unless --peak-gflops is given).
            """
    )

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case lm, image

        var modelConfig: ModelConfig {
            var c = ModelConfig()
            switch self {
            case .lm:
                c.kind = .lm
                c.vocabSize = 256
                c.dModel = 256
                c.heads = 8
                c.layers = 4
                c.ff = 1024
                c.seqLen = 1024
            case .image:
                c.kind = .image
                c.imageSize = 32
                c.channels = 3
                c.patch = 4
                c.numClasses = 10
                c.dModel = 192
                c.heads = 6
                c.layers = 6
                c.ff = 768
            }
            return c
        }

        var batch: Int { self == .lm ? 8 : 64 }
    }

    @OptionGroup var output: BenchOutputOptions

    @Option(help: "Configuration preset: lm or image.") var config: Preset
    @Option(help: "Attention: flow, softmax or linear.") var attention = "flow"
    @Option(help: "LM sequence length (overrides the preset's 1024).") var seqLen: Int?
    @Option(help: "Global batch (overrides the preset's).") var batch: Int?
    @Option(help: "BLAS threads per rank.") var threads = 1
    @Option(help: "Linear products: fp32 or bf16 (train.precision).") var precision = "fp32"
    @Option(help: "Gradients on the wire: fp32 or bf16 (train.allreduce_dtype).") var allreduceDtype = "fp32"
    @Option(help: "Timed steps.") var steps = 3
    @Option(help: "Untimed steps first.") var warmup = 1
    @Flag(inversion: .prefixedNo, help: "With several ranks: all-reduce the gradients in buckets started during backward.")
    var overlap = true
    @Option(help: "Size cap of one gradient all-reduce bucket, MiB (train.bucket_mb).") var bucketMb = TrainConfig().bucketMb
    @Flag(help: "Time the step with train.deterministic against without, alternating in one process (prints both and the ratio).")
    var compareDeterministic = false
    @Option(help: "With --compare-deterministic: samples per micro-batch (default: the whole per-rank batch).")
    var microBatch: Int?
    @Option(help: ArgumentHelp("Training split to read batches from (default: inputs made in memory).",
                               valueName: "file.h5"))
    var data: String?
    @Option(help: "Chunk of the causal linear-time products (default: the model's).") var attentionChunk: Int?
    @Option(help: ArgumentHelp("1-thread sgemm peak in GFLOP/s for MFU (default: measured).", valueName: "GFLOP/s"))
    var peakGflops: Double?

    func validate() throws {
        for (name, value) in [("--threads", threads), ("--steps", steps)] where value < 1 {
            throw ValidationError("\(name) must be ≥ 1, got \(value)")
        }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0, got \(warmup)") }
        guard bucketMb > 0 else { throw ValidationError("--bucket-mb must be > 0, got \(bucketMb)") }
        if let seqLen, seqLen < 1 { throw ValidationError("--seq-len must be ≥ 1, got \(seqLen)") }
        if let batch, batch < 1 { throw ValidationError("--batch must be ≥ 1, got \(batch)") }
        if let attentionChunk, attentionChunk < 1 {
            throw ValidationError("--attention-chunk must be ≥ 1, got \(attentionChunk)")
        }
        guard AttentionKind(rawValue: attention) != nil else {
            throw ValidationError("--attention: unknown kind '\(attention)' (flow, softmax, linear)")
        }
        if seqLen != nil && config != .lm { throw ValidationError("--seq-len applies to --config lm only") }
        guard MatmulPrecision(rawValue: precision) != nil else {
            throw ValidationError("--precision: unknown '\(precision)' (fp32, bf16)")
        }
        guard AllReduceDtype(rawValue: allreduceDtype) != nil else {
            throw ValidationError("--allreduce-dtype: unknown '\(allreduceDtype)' (fp32, bf16)")
        }
    }

    /// The settings this invocation asks for (`--quick`: seq 64, batch 2, one step, no warm-up).
    func settings() -> ModelBenchmarkSettings {
        var modelConfig = config.modelConfig
        modelConfig.attention = AttentionKind(rawValue: attention) ?? .flow
        if let seqLen { modelConfig.seqLen = seqLen }
        var globalBatch = batch ?? config.batch
        var timed = steps, untimed = warmup
        if output.quick {
            if config == .lm { modelConfig.seqLen = min(modelConfig.seqLen, 64) }
            globalBatch = min(globalBatch, 2)
            timed = 1
            untimed = 0
        }
        var settings = ModelBenchmarkSettings(config: modelConfig, globalBatch: globalBatch, threads: threads,
                                              warmupSteps: untimed, timedSteps: timed, overlap: overlap, dataFile: data,
                                              attentionChunk: attentionChunk, singleThreadPeakGflops: peakGflops)
        settings.precision = MatmulPrecision(rawValue: precision) ?? .fp32
        settings.allreduceDtype = AllReduceDtype(rawValue: allreduceDtype) ?? .fp32
        var train = TrainConfig()
        train.bucketMb = bucketMb
        settings.bucketBytes = max(1, train.bucketBytes)
        return settings
    }

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        let world = try Communicator.world()
        var settings = settings()
        if settings.singleThreadPeakGflops == nil && !output.quick {
            // Every rank measures on its own core at the same time; the best counts.
            let measured = SgemmBenchmark.runUsed(shapes: [.square(1024), .square(2048)], threads: 1,
                                              policy: RepeatPolicy(warmup: 1, minRepeats: 5, maxRepeats: 20, budgetSeconds: 1))
            let local = SgemmBenchmark.peakGflops(measured, threads: 1) ?? 0
            settings.singleThreadPeakGflops = try world.allReduce(local, op: .max)
        }
        guard settings.globalBatch % world.size == 0 else {
            throw ValidationError("--batch \(settings.globalBatch) is not a multiple of the \(world.size) ranks")
        }
        if compareDeterministic {
            let cost = try DeterministicCost.run(settings, microBatch: microBatch ?? settings.globalBatch / world.size, world: world)
            if world.isRoot {
                func line(_ name: String, _ t: TimingSummary) -> String {
                    "\(name): median \(formatFixed(t.median * 1000, digits: 1)) ms, min \(formatFixed(t.min * 1000, digits: 1)) ms over \(t.count) steps"
                }
                let micro = microBatch ?? settings.globalBatch / world.size
                print("\(config.rawValue), \(world.size) rank(s), global batch \(settings.globalBatch), \(settings.globalBatch / world.size / micro) micro-batch(es) of \(micro) per rank, \(cost.parameterCount) parameters, \(KernelVariant.active.rawValue) kernels")
                print(line("ordinary     ", cost.ordinary))
                print(line("deterministic", cost.deterministic))
                print("ratio deterministic / ordinary: median \(formatFixed(cost.medianRatio, digits: 3))×, min \(formatFixed(cost.minimumRatio, digits: 3))×; steps computed again: \(cost.recomputed)")
                print("added arithmetic (best of 20, \(cost.parameterCount) values): quantise one micro-batch \(formatFixed(cost.quantizeSeconds * 1000, digits: 2)) ms, convert back once per step \(formatFixed(cost.dequantizeSeconds * 1000, digits: 2)) ms")
                print("gradient all-reduce per step: \(formatFixed(Double(cost.parameterCount * 4) / 1_048_576, digits: 2)) MiB ordinary, \(formatFixed(Double(cost.parameterCount * 8) / 1_048_576, digits: 2)) MiB deterministic (2.00×)")
            }
            return ExitStatus.success
        }
        let result = try ModelBenchmark.run(settings, world: world)
        if world.isRoot {
            var report = BenchReport(quick: output.quick)
            report.models = [result]
            if let peak = settings.singleThreadPeakGflops { report.sgemmPeaks = [SgemmPeak(threads: 1, gflops: peak)] }
            try report.emit(output)
        }
        return ExitStatus.success
    }
}

