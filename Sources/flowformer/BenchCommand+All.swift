import ArgumentParser
import Benchmarks
import FlowModel
import Foundation
import TensorKernels
import Training

/// `flowformer bench all`: every measurement, one table per section, one JSON report.
struct BenchAllCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run every benchmark (sgemm, attention grid, training throughput) and write one report.",
        discussion: """
            Takes under 10 minutes on this 2-core machine. Training runs are child processes \
            (`flowformer bench model`, under `mpirun -np 2` for two ranks), so each reports its \
            own peak resident memory. LM runs read --lm-data when that file exists (data-reader \
            wait is then real); every other run uses inputs made in memory (compute only).
            """
    )

    @OptionGroup var output: BenchOutputOptions

    @Option(help: ArgumentHelp("Longest L at which softmax attention runs.", valueName: "L"))
    var softmaxMaxLength = 8192

    @Option(help: ArgumentHelp("KJV tokens split for the LM runs (`datasets/pack.sh kjv`); skipped if absent.",
                               valueName: "file.h5"))
    var lmData = "datasets/out/kjv-train.h5"

    @Option(help: "Timed steps per training run.") var steps = 3

    @Option(help: ArgumentHelp("Trainer config for the end-to-end runs (set to the issue's LM shape); skipped if absent.",
                               valueName: "file.yaml"))
    var trainConfig = "jobs/configs/kjv-lm.yaml"

    @Flag(help: "Skip the training runs.") var noModels = false
    @Flag(help: "Skip the attention grid.") var noAttention = false
    @Flag(help: "Skip the end-to-end `flowformer train` runs.") var noTrainer = false

    /// One training run of the plan.
    struct ModelRun {
        var name: String
        var ranks: Int
        var arguments: [String]
    }

    /// The training runs: the LM and image configs at 1×1, 1×2 and 2×1 (with and without
    /// overlap), both with softmax attention, and the LM at seq 4096 (batch 2: the same tokens).
    func plan(dataFile: String?) -> [ModelRun] {
        let data = dataFile.map { ["--data", $0] } ?? []
        let common = ["--steps", output.quick ? "1" : "\(steps)"] + (output.quick ? ["--quick"] : [])
        func run(_ name: String, ranks: Int = 1, _ arguments: [String]) -> ModelRun {
            ModelRun(name: name, ranks: ranks, arguments: arguments + common)
        }
        return [
            run("lm-flow-1x1", ["--config", "lm", "--threads", "1"] + data),
            run("lm-flow-1x2", ["--config", "lm", "--threads", "2"] + data),
            run("lm-flow-2x1-overlap", ranks: 2, ["--config", "lm", "--threads", "1", "--overlap"] + data),
            run("lm-flow-2x1-no-overlap", ranks: 2, ["--config", "lm", "--threads", "1", "--no-overlap"] + data),
            run("lm-softmax-1x1", ["--config", "lm", "--attention", "softmax"]),
            run("lm4096-flow-1x1", ["--config", "lm", "--seq-len", "4096", "--batch", "2"]),
            run("lm4096-softmax-1x1", ["--config", "lm", "--attention", "softmax", "--seq-len", "4096", "--batch", "2"]),
            run("image-flow-1x1", ["--config", "image", "--threads", "1"]),
            run("image-flow-1x2", ["--config", "image", "--threads", "2"]),
            run("image-flow-2x1-overlap", ranks: 2, ["--config", "image", "--overlap"]),
            run("image-flow-2x1-no-overlap", ranks: 2, ["--config", "image", "--no-overlap"]),
            run("image-softmax-1x1", ["--config", "image", "--attention", "softmax"]),
        ]
    }

    /// `flowformer train` with the LM shape (d_model 256, 8 heads, 4 layers, ff 1024,
    /// seq 1024, global batch 8) on the KJV split: 1 rank, and 2 ranks with and without overlap
    /// (and with overlap in 2 MiB buckets).
    /// Evaluation is one batch at the end, the checkpoint only at the end (the trainer leaves both
    /// out of its rates).
    func runTrainer() throws -> [TrainerResult]? {
        guard FileManager.default.fileExists(atPath: trainConfig), FileManager.default.fileExists(atPath: lmData) else {
            benchProgress("no \(trainConfig) or \(lmData): end-to-end trainer runs skipped")
            return nil
        }
        let trainSteps = output.quick ? 3 : 2 + steps * 2
        let overrides = [
            "model.d_model=256", "model.heads=8", "model.layers=4", "model.ff=1024", "model.seq_len=1024",
            "model.vocab_size=256", "model.dropout=0", "data.train=\(lmData)", "train.global_batch=8",
            "train.steps=\(trainSteps)", "train.log_every=1", "train.eval_every=0", "train.eval_batches=1",
            "train.warmup_steps=1", "checkpoint.every=0", "checkpoint.keep=1",
        ] + (output.quick ? ["model.seq_len=64", "model.layers=1"] : [])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowformer-bench-train-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var results: [TrainerResult] = []
        // The default bucket (25 MiB) holds all 14 MiB of the LM's gradients, so its one bucket
        // starts only when backward ends; 2 MiB buckets start while backward runs.
        let runs: [(ranks: Int, overlap: Bool, bucketMiB: Double?)] = [(1, true, nil), (2, true, nil), (2, true, 2), (2, false, nil)]
        for run in runs {
            var name = "train-lm-\(run.ranks)x1"
            if run.ranks > 1 { name += run.overlap ? "-overlap" : "-no-overlap" }
            if let bucket = run.bucketMiB { name += "-bucket\(formatFixed(bucket, digits: 0))MiB" }
            let microBatch = 8 / run.ranks
            let extra = ["train.micro_batch=\(microBatch)"] + (run.bucketMiB.map { ["train.bucket_mb=\($0)"] } ?? [])
            let result = try BenchChild.runTrainer(config: trainConfig, overrides: overrides + extra,
                                                   ranks: run.ranks, threads: 1, overlap: run.overlap,
                                                   directory: directory, name: name)
            benchProgress("\(name): \(formatFixed(result.tokensPerSecond, digits: 0)) tokens/s")
            results.append(result)
        }
        return results
    }

    func execute() throws -> Int32 {
        let start = monotonicSeconds()
        var report = BenchReport(quick: output.quick)
        benchProgress("sgemm …")
        let (gemms, peaks) = try BenchSgemmCommand.measure(threadCounts: [1, 2], modelShapes: true, quick: output.quick)
        report.sgemm = gemms
        report.sgemmPeaks = peaks
        let singleThreadPeak = peaks.first { $0.threads == 1 }?.gflops

        if !noAttention {
            let lengths = output.quick ? [256] : AttentionBenchmark.standardLengths
            BLASThreads.set(1)
            let attention = AttentionBenchmark.run(
                kinds: AttentionKind.allCases, causal: [false, true], lengths: lengths, batch: 1, dModel: 256,
                heads: 8, softmaxMaxLength: softmaxMaxLength, policy: output.quick ? .quick : .standard,
                progress: BenchAttentionCommand.reportProgress)
            report.attention = attention
            if let longest = lengths.max(), longest > 1024 {
                report.attentionScaling = AttentionBenchmark.scaling(attention, shortLength: 1024, longLength: longest)
            }
        }

        if !noModels {
            let dataFile = FileManager.default.fileExists(atPath: lmData) ? lmData : nil
            if dataFile == nil { benchProgress("no \(lmData): LM runs use inputs made in memory") }
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("flowformer-bench-\(getpid())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            var models: [ModelResult] = []
            for run in plan(dataFile: dataFile) {
                let peak = singleThreadPeak.map { ["--peak-gflops", "\($0)"] } ?? []
                let runStart = monotonicSeconds()
                let result = try BenchChild.runModel(run.arguments + peak, ranks: run.ranks, directory: directory,
                                                     name: run.name)
                benchProgress("model \(run.name): \(formatFixed(result.samplesPerSecond, digits: 1)) samples/s "
                              + "(\(formatFixed(monotonicSeconds() - runStart, digits: 0)) s)")
                models.append(result)
            }
            report.models = models
        }
        if !noTrainer {
            report.trainer = try runTrainer()
        }
        try report.emit(output)
        benchProgress("bench all took \(formatFixed(monotonicSeconds() - start, digits: 0)) s")
        return ExitStatus.success
    }
}
