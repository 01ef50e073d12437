import ArgumentParser
import Benchmarks
import Training
import FlowModel
import TensorKernels

/// `flowformer bench attention`: forward+backward time of the attention cores over L.
struct BenchAttentionCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Forward+backward time of flow, softmax and linear attention cores over sequence lengths.",
        discussion: """
            Times the core only (between the q/k/v projections and the out projection) on \
            synthetic q, k, v drawn normal(0, 1), Float, one BLAS thread by default. Softmax \
            above --softmax-max-length is skipped: its saved L×L probabilities grow as L².
            """
    )

    @OptionGroup var output: BenchOutputOptions

    @Option(help: ArgumentHelp("Sequence lengths, comma-separated.", valueName: "list"))
    var lengths = AttentionBenchmark.standardLengths.map(String.init).joined(separator: ",")

    @Option(help: ArgumentHelp("Attention kinds: flow, softmax, linear (comma-separated).", valueName: "list"))
    var kinds = "flow,softmax,linear"

    @Option(help: "Which masking to run: both, causal or noncausal.")
    var mode: CausalMode = .both

    @Option(help: "Sequences per call.") var batch = 1
    @Option(name: .customLong("d-model"), help: "Model width.") var dModel = 256
    @Option(help: "Heads.") var heads = 8
    @Option(help: "BLAS threads.") var threads = 1

    @Option(help: ArgumentHelp("Longest L at which softmax runs (it needs 4·B·H·L² bytes).", valueName: "L"))
    var softmaxMaxLength = 8192

    enum CausalMode: String, ExpressibleByArgument, CaseIterable {
        case both, causal, noncausal
        var flags: [Bool] {
            switch self {
            case .both: return [false, true]
            case .causal: return [true]
            case .noncausal: return [false]
            }
        }
    }

    func validate() throws {
        _ = try parsedKinds()
        _ = try parsePositiveIntegers(lengths, option: "--lengths")
        guard batch > 0, heads > 0, dModel > 0, threads > 0 else {
            throw ValidationError("--batch, --d-model, --heads and --threads must be positive")
        }
        guard dModel % heads == 0 else {
            throw ValidationError("--d-model \(dModel) is not a multiple of --heads \(heads)")
        }
    }

    func parsedKinds() throws -> [AttentionKind] {
        try kinds.split(separator: ",").map { name in
            guard let kind = AttentionKind(rawValue: String(name)) else {
                throw ValidationError("--kinds: unknown attention kind '\(name)' (flow, softmax, linear)")
            }
            return kind
        }
    }

    static func reportProgress(_ result: AttentionResult) {
        let name = "attention \(result.kind)\(result.causal ? " causal" : "") L=\(result.length): "
        if let ms = result.forwardBackwardMilliseconds {
            benchProgress(name + formatFixed(ms, digits: 2) + " ms")
        } else {
            benchProgress(name + "skipped")
        }
    }

    func execute() throws -> Int32 {
        var report = BenchReport(quick: output.quick)
        let previous = BLASThreads.current
        BLASThreads.set(threads)
        defer { BLASThreads.set(previous) }
        let lengthList = try parsePositiveIntegers(lengths, option: "--lengths")
        let results = AttentionBenchmark.run(
            kinds: try parsedKinds(), causal: mode.flags, lengths: lengthList, batch: batch, dModel: dModel,
            heads: heads, softmaxMaxLength: softmaxMaxLength, policy: output.quick ? .quick : .standard,
            progress: BenchAttentionCommand.reportProgress)
        report.attention = results
        if let shortest = lengthList.min(), let longest = lengthList.max(), longest > shortest {
            // The issue's ratio is t(16384)/t(1024); use 1024 as the base when it was measured.
            let base = lengthList.contains(1024) ? 1024 : shortest
            report.attentionScaling = AttentionBenchmark.scaling(results, shortLength: base, longLength: longest)
        }
        try report.emit(output)
        return ExitStatus.success
    }
}
