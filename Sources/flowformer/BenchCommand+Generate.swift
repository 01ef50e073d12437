import ArgumentParser
import Benchmarks
import FlowModel
import Foundation
import TensorKernels
import Training

/// `flowformer bench generate`: generation speed (tokens/s, one token at a time from the
/// decoding state) after prompts of growing length, for flow, linear and softmax attention.
struct BenchGenerateCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Tokens/s of recurrent generation at growing context lengths for flow, linear and softmax attention.",
        discussion: """
            The benchmark LM (vocab 256, d_model 256, 8 heads, 4 layers, ff 1024) with random \
            parameters, Float, one thread. For each context C: a C-token prompt is appended in \
            chunks (prefill), then --rounds rounds of --tokens greedy tokens are generated one at \
            a time; the figure is the median round's tokens per second of this thread's CPU time \
            (CLOCK_THREAD_CPUTIME_ID: stable on a shared machine; BLAS is held to this one \
            thread), with the wall-clock rate beside it. Flow and linear attention keep a \
            fixed-size state per head (flat speed); softmax keeps every key and value (slower as \
            C grows).
            """
    )

    @Option(help: ArgumentHelp("Context lengths (prompt tokens before timing), comma-separated.", valueName: "list"))
    var contexts = "256,1024,4096,16384"

    @Option(help: ArgumentHelp("Attention kinds, comma-separated.", valueName: "list"))
    var kinds = "flow,linear,softmax"

    @Option(help: "Generated tokens per timed round.") var tokens = 64
    @Option(help: "Timed rounds (the median is reported).") var rounds = 3
    @Option(name: .customLong("d-model"), help: "Model width.") var dModel = 256
    @Option(help: "Heads.") var heads = 8
    @Option(help: "Layers.") var layers = 4
    @Option(help: "Feed-forward width.") var ff = 1024

    @Option(help: ArgumentHelp("Write the results as JSON to this file.", valueName: "path"))
    var json: String?

    func validate() throws {
        _ = try parsePositiveIntegers(contexts, option: "--contexts")
        _ = try parsedKinds()
        guard tokens > 0, rounds > 0, dModel > 0, heads > 0, layers > 0, ff > 0, dModel % heads == 0 else {
            throw ValidationError("--tokens, --rounds, --d-model, --heads, --layers, --ff must be positive, heads dividing d-model")
        }
    }

    func parsedKinds() throws -> [AttentionKind] {
        try kinds.split(separator: ",").map { name in
            guard let kind = AttentionKind(rawValue: String(name)) else {
                throw ValidationError("--kinds: unknown attention kind '\(name)' (flow, linear, softmax)")
            }
            return kind
        }
    }

    struct Row {
        var kind: AttentionKind
        var context: Int
        var tokensPerSecond: Double         // per second of thread CPU time
        var wallTokensPerSecond: Double
        var prefillTokensPerSecond: Double  // per second of thread CPU time
        var stateBytes: Int
    }

    func execute() throws -> Int32 {
        let contextList = try parsePositiveIntegers(contexts, option: "--contexts")
        let previous = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previous) }
        var rows: [Row] = []
        for kind in try parsedKinds() {
            for context in contextList {
                let row = try measure(kind: kind, context: context)
                benchProgress("generate \(kind) context \(context): \(formatFixed(row.tokensPerSecond, digits: 1)) tok/s (prefill \(formatFixed(row.prefillTokensPerSecond, digits: 0)) tok/s)")
                rows.append(row)
            }
        }
        print("generation, batch 1, Float, 1 thread: d_model \(dModel), \(heads) heads, \(layers) layers, ff \(ff), vocab 256; median of \(rounds) rounds of \(tokens) tokens; tokens/s of thread CPU time (wall clock beside)")
        print("| attention | context | tokens/s | vs context \(contextList[0]) | wall tokens/s | prefill tokens/s | decoding state (all layers) |")
        print("|---|---|---|---|---|---|---|")
        for row in rows {
            let base = rows.first { $0.kind == row.kind && $0.context == contextList[0] }!.tokensPerSecond
            print("| \(row.kind) | \(row.context) | \(formatFixed(row.tokensPerSecond, digits: 1)) | \(formatFixed(row.tokensPerSecond / base, digits: 2))× | \(formatFixed(row.wallTokensPerSecond, digits: 1)) | \(formatFixed(row.prefillTokensPerSecond, digits: 0)) | \(formatFixed(Double(row.stateBytes) / 1024, digits: 0)) KiB |")
        }
        if let json {
            let items = rows.map { "{\"attention\": \"\($0.kind)\", \"context\": \($0.context), \"tokens_per_second\": \($0.tokensPerSecond), \"wall_tokens_per_second\": \($0.wallTokensPerSecond), \"prefill_tokens_per_second\": \($0.prefillTokensPerSecond), \"state_bytes\": \($0.stateBytes)}" }
            try ("{\"generate\": [" + items.joined(separator: ", ") + "]}\n").write(toFile: json, atomically: true, encoding: .utf8)
            print("wrote \(json)")
        }
        return ExitStatus.success
    }

    /// CPU time consumed by the calling thread, seconds.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// Prefill `context` random tokens, then time `rounds` × `tokens` greedy steps.
    func measure(kind: AttentionKind, context: Int) throws -> Row {
        var config = ModelConfig()
        config.kind = .lm
        config.attention = kind
        config.dModel = dModel
        config.heads = heads
        config.layers = layers
        config.ff = ff
        config.vocabSize = 256
        config.seqLen = context + rounds * tokens + 1
        let table = ParameterTable.flowformer(config)
        let parameters = Tensor<Float>(table.count)
        // LayerNorm weights 1, biases 0, the rest normal(0, 0.02), as a fresh model starts.
        for (index, entry) in table.entries.enumerated() {
            if entry.name.contains("norm") && entry.name.hasSuffix(".weight") {
                fill(parameters.pointer + entry.offset, with: 1, count: entry.count)
            } else if !entry.name.hasSuffix(".bias") {
                CounterRandom(seed: 1, domain: .initialization, stream: UInt64(index))
                    .fillNormal(parameters.pointer + entry.offset, count: entry.count, standardDeviation: 0.02)
            }
        }
        let decoder = IncrementalDecoder<Float>(config: config, parameters: parameters)
        let random = CounterRandom(seed: 2, domain: .sampling)
        let prompt = (0..<context).map { Int32(random.word(at: UInt64($0)) % 256) }
        let sampler = TokenSampler(vocabulary: 256, temperature: 0, seed: 0)
        let prefillStart = Self.threadCPUSeconds()
        var logits = try decoder.append(prompt)
        let prefillSeconds = Self.threadCPUSeconds() - prefillStart
        var rates: [Double] = [], wallRates: [Double] = []
        var draw = 0
        for _ in 0..<rounds {
            let start = Self.threadCPUSeconds(), wallStart = monotonicSeconds()
            for _ in 0..<tokens {
                let token = sampler.next(logits, draw: draw)
                draw += 1
                logits = try decoder.append([token])
            }
            rates.append(Double(tokens) / (Self.threadCPUSeconds() - start))
            wallRates.append(Double(tokens) / (monotonicSeconds() - wallStart))
        }
        rates.sort()
        wallRates.sort()
        let d = dModel, dh = dModel / heads
        let perLayer: Int
        switch kind {
        case .flow: perLayer = 4 * d + heads + heads * dh * dh
        case .linear: perLayer = d + heads * dh * dh
        case .softmax: perLayer = 2 * (context + rounds * tokens / 2) * d
        }
        return Row(kind: kind, context: context, tokensPerSecond: rates[rates.count / 2],
                   wallTokensPerSecond: wallRates[wallRates.count / 2], prefillTokensPerSecond: Double(context) / prefillSeconds, stateBytes: perLayer * layers * 4)
    }
}
