import ArgumentParser
import FlowModel
import Foundation
import Training

/// `flowformer generate`: continues a prompt with a language-model checkpoint, one token at a
/// time from the recurrent decoding state (`IncrementalDecoder`), streaming the text.
struct GenerateCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a language-model checkpoint (recurrent decoding: constant work per token for flow and linear attention).",
        discussion: """
            The prompt is processed in parallel chunks, then each new token is appended to the \
            per-layer decoding state. Byte-level models (vocab_size 256) read the prompt as bytes \
            and print bytes. The model has position embeddings for seq_len positions only: when \
            prompt + generated tokens fill them, generation stops with a message on stderr, or \
            with --slide restarts the state from the last seq_len/2 tokens and goes on.
            """
    )

    @Option(name: .long, help: "Checkpoint file of a language model (kind: lm).")
    var checkpoint: String

    @Option(name: .long, help: "Prompt text (its UTF-8 bytes are the prompt tokens).")
    var prompt: String?

    @Option(name: .customLong("prompt-file"), help: "File whose bytes are the prompt.")
    var promptFile: String?

    @Option(name: .customLong("prompt-tokens"), help: "Prompt as comma-separated token ids, e.g. 1,2,3.")
    var promptTokens: String?

    @Option(name: .long, help: "Tokens to generate.")
    var tokens: Int

    @Option(name: .long, help: "Sampling temperature; 0 = greedy (argmax).")
    var temperature: Double = 1.0

    @Option(name: .customLong("top-k"), help: "Sample only from the k most probable tokens.")
    var topK: Int?

    @Option(name: .customLong("top-p"), help: "Sample only from the most probable tokens whose probabilities sum to p (0 < p ≤ 1).")
    var topP: Double?

    @Option(name: .long, help: "Seed of the sampling draws (same seed, same sample).")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "At the context limit, restart from the last seq_len/2 tokens instead of stopping.")
    var slide = false

    @Flag(name: .long, help: "Print one JSON object {\"prompt_tokens\", \"tokens\", \"text\"} at the end instead of streaming text.")
    var json = false

    func validate() throws {
        let prompts = [prompt != nil, promptFile != nil, promptTokens != nil].filter { $0 }.count
        guard prompts == 1 else { throw ValidationError("give exactly one of --prompt, --prompt-file, --prompt-tokens") }
        guard tokens >= 1 else { throw ValidationError("--tokens must be at least 1, got \(tokens)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0, got \(temperature)") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
    }

    func execute() throws -> Int32 {
        let loaded = try LoadedCheckpoint(path: checkpoint)
        let model = loaded.config.model
        guard model.kind == .lm else {
            throw TrainingError("\(checkpoint) holds a \(model.kind.rawValue) classifier, not a language model: generate needs kind lm (use predict)")
        }
        var context = try promptTokenIDs(vocabulary: model.vocabSize)
        let promptIDs = context
        if context.count > model.seqLen {
            guard slide else {
                throw TrainingError("the prompt has \(context.count) tokens, more than the model's context of seq_len \(model.seqLen) (use --slide to keep its last \(model.seqLen))")
            }
            context = Array(context.suffix(model.seqLen))
        }
        let decoder = IncrementalDecoder<Float>(config: model, parameters: loaded.parameters)
        let sampler = TokenSampler(vocabulary: model.vocabSize, temperature: temperature, topK: topK, topP: topP,
                                   seed: seed)
        var generated: [Int32] = []
        var logits = try decoder.append(context)
        for draw in 0..<tokens {
            let token = sampler.next(logits, draw: draw)
            generated.append(token)
            context.append(token)
            if !json { TokenText.write(token, vocabulary: model.vocabSize) }
            if draw == tokens - 1 { break }
            if decoder.position == decoder.contextLimit {
                guard slide else {
                    TokenText.finishLine(generated, vocabulary: model.vocabSize, streaming: !json)
                    FileHandle.standardError.write(Data("flowformer: generate: stopped after \(generated.count) of \(tokens) tokens: the context is full (the model has position embeddings for seq_len \(model.seqLen) positions; --slide restarts from the last \(model.seqLen / 2))\n".utf8))
                    if json { printJSON(prompt: promptIDs, generated: generated, vocabulary: model.vocabSize) }
                    return ExitStatus.success
                }
                decoder.reset()
                context = Array(context.suffix(max(1, model.seqLen / 2)))
                logits = try decoder.append(context)
            } else {
                logits = try decoder.append([token])
            }
        }
        if json {
            printJSON(prompt: promptIDs, generated: generated, vocabulary: model.vocabSize)
        } else {
            TokenText.finishLine(generated, vocabulary: model.vocabSize, streaming: true)
        }
        return ExitStatus.success
    }

    /// The prompt as token ids, each checked against the vocabulary.
    private func promptTokenIDs(vocabulary: Int) throws -> [Int32] {
        var ids: [Int32]
        if let promptTokens {
            ids = []
            for (index, field) in promptTokens.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
                let text = field.trimmingCharacters(in: .whitespaces)
                guard let id = Int32(text) else {
                    throw TrainingError("--prompt-tokens: '\(text)' at position \(index) is not a token id")
                }
                guard id >= 0 && Int(id) < vocabulary else {
                    throw TrainingError("--prompt-tokens: token \(id) at position \(index) is outside the model's vocabulary 0..<\(vocabulary)")
                }
                ids.append(id)
            }
        } else {
            let bytes: [UInt8]
            let source: String
            if let prompt {
                bytes = Array(prompt.utf8)
                source = "--prompt"
            } else {
                let path = promptFile!
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw TrainingError("--prompt-file: cannot read \(path)")
                }
                bytes = Array(data)
                source = "--prompt-file \(path)"
            }
            ids = []
            for (offset, byte) in bytes.enumerated() {
                guard Int(byte) < vocabulary else {
                    throw TrainingError("\(source): byte 0x\(String(byte, radix: 16, uppercase: true)) at offset \(offset) is outside the model's vocabulary 0..<\(vocabulary)")
                }
                ids.append(Int32(byte))
            }
        }
        guard !ids.isEmpty else { throw TrainingError("the prompt is empty: generation needs at least one token") }
        return ids
    }

    private func printJSON(prompt: [Int32], generated: [Int32], vocabulary: Int) {
        let list = { (ids: [Int32]) in "[" + ids.map(String.init).joined(separator: ", ") + "]" }
        print("{\"prompt_tokens\": \(list(prompt)), \"tokens\": \(list(generated)), \"text\": \(TokenText.jsonString(TokenText.text(generated, vocabulary: vocabulary)))}")
    }
}

/// Generated tokens as text: bytes for byte-level models (token < 256), `<id>` for larger ids.
enum TokenText {
    static func bytes(_ token: Int32, vocabulary: Int) -> [UInt8] {
        token < 256 ? [UInt8(token)] : Array("<\(token)>".utf8)
    }

    /// Writes one token's bytes to stdout at once (text streams as it is generated).
    static func write(_ token: Int32, vocabulary: Int) {
        let b = bytes(token, vocabulary: vocabulary)
        b.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, stdout) }
        fflush(stdout)
    }

    /// Ends streamed output with a newline unless it already ends with one.
    static func finishLine(_ generated: [Int32], vocabulary: Int, streaming: Bool) {
        guard streaming, generated.last != 10 else { return }
        print("")
    }

    /// The tokens' bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    static func text(_ tokens: [Int32], vocabulary: Int) -> String {
        String(decoding: tokens.flatMap { bytes($0, vocabulary: vocabulary) }, as: UTF8.self)
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
