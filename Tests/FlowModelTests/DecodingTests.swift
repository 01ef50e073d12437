import Testing
import TensorKernels
@testable import FlowModel

/// Recurrent decoding (`IncrementalDecoder`) against the full forward (`inferenceLogits`): the
/// logits at every position of a sequence fed as a prompt in chunks and then one token at a
/// time equal the full forward's, for causal flow, linear and softmax attention.
@Suite struct DecodingTests {
    static let chunk = 8

    /// d_model 16, 2 heads, 2 layers, ff 32, vocab 13, seq_len 2·chunk + 3.
    static func config(_ attention: AttentionKind) -> ModelConfig {
        var config = ModelConfig()
        config.kind = .lm
        config.attention = attention
        config.dModel = 16
        config.heads = 2
        config.layers = 2
        config.ff = 32
        config.seqLen = 2 * chunk + 3
        config.vocabSize = 13
        return config
    }

    /// Parameters uniform in ±0.5 (LayerNorm weights 1 ± 0.25), so attention is far from uniform.
    static func fillParameters<Scalar: TensorScalar>(_ model: FlowformerModel<Scalar>, seed: UInt64) {
        var random = TestRandom(seed: seed)
        let layerNormWeights = Set(model.layout.layerNormWeights.map(\.name))
        for entry in model.table.entries {
            for i in entry.range {
                let value = layerNormWeights.contains(entry.name) ? 1 + random.uniform(0.25) : random.uniform(0.5)
                model.parameters.pointer[i] = Scalar(value)
            }
        }
    }

    /// The largest over positions of max_v |decoded − full| / max_v |full|; NaN if any is NaN.
    static func worstRelativeError<Scalar: TensorScalar>(_ decoded: [Scalar], _ full: UnsafeBufferPointer<Scalar>,
                                                         positions: Int, vocab: Int) -> Double {
        var worst = 0.0
        for i in 0..<positions {
            var difference = 0.0, size = 0.0
            for c in 0..<vocab {
                let a = Double(decoded[i * vocab + c]), b = Double(full[i * vocab + c])
                if !(abs(a - b) <= difference) { difference = abs(a - b) }
                size = max(size, abs(b))
            }
            let error = difference / max(size, 1e-30)
            if !(error <= worst) { worst = error }
        }
        return worst
    }

    func check<Scalar: TensorScalar>(_ scalar: Scalar.Type, _ attention: AttentionKind, promptLength: Int,
                                     bound: Double) throws {
        let config = Self.config(attention)
        let length = config.seqLen
        // A chunking of the full forward's causal cores unlike the decoder's blocks.
        let model = FlowformerModel<Scalar>(config: config, maxBatch: 1, attentionChunk: 3)
        Self.fillParameters(model, seed: 17)
        var random = TestRandom(seed: 5)
        let tokens = random.tokens(length, below: config.vocabSize)
        let full = tokens.withUnsafeBufferPointer { model.inferenceLogits(.tokens($0.baseAddress!), count: 1) }

        let decoder = IncrementalDecoder<Scalar>(config: config, parameters: model.parameters, blockRows: Self.chunk)
        var decoded = [Scalar](repeating: .nan, count: length * config.vocabSize)
        try decoded.withUnsafeMutableBufferPointer { out in
            let v = config.vocabSize
            try decoder.append(Array(tokens[0..<promptLength]), allLogits: out.baseAddress!)
            for i in promptLength..<length {
                let last = try decoder.append([tokens[i]], allLogits: out.baseAddress! + i * v)
                #expect(last == UnsafePointer(decoder.logitRows.pointer))
            }
        }
        #expect(decoder.position == length)
        let error = Self.worstRelativeError(decoded, full, positions: length, vocab: config.vocabSize)
        if !(error <= bound) {
            Issue.record("\(attention) \(Scalar.self) prompt \(promptLength): relative error \(error) > \(bound)")
        }
    }

    @Test(arguments: AttentionKind.allCases, [1, chunk - 1, chunk + 1])
    func decodingEqualsFullForwardInDouble(attention: AttentionKind, promptLength: Int) throws {
        try check(Double.self, attention, promptLength: promptLength, bound: 1e-10)
    }

    @Test(arguments: AttentionKind.allCases, [1, chunk - 1, chunk + 1])
    func decodingEqualsFullForwardInFloat(attention: AttentionKind, promptLength: Int) throws {
        try check(Float.self, attention, promptLength: promptLength, bound: 1e-5)
    }

    /// A whole sequence as one prompt equals it fed token by token, after a reset too.
    @Test(arguments: AttentionKind.allCases)
    func resetStartsAFreshSequence(attention: AttentionKind) throws {
        let config = Self.config(attention)
        let model = FlowformerModel<Double>(config: config, maxBatch: 1)
        Self.fillParameters(model, seed: 3)
        let decoder = IncrementalDecoder<Double>(config: config, parameters: model.parameters, blockRows: Self.chunk)
        let tokens: [Int32] = [1, 5, 2, 12, 0, 7, 7, 3, 9, 4, 11]
        try decoder.append([3, 3, 3])
        decoder.reset()
        let whole = Array(UnsafeBufferPointer(start: try decoder.append(tokens), count: config.vocabSize))
        decoder.reset()
        var last: [Double] = []
        for token in tokens { last = Array(UnsafeBufferPointer(start: try decoder.append([token]), count: config.vocabSize)) }
        var worst = 0.0
        for c in 0..<config.vocabSize { let e = abs(whole[c] - last[c]); if !(e <= worst) { worst = e } }
        if !(worst <= 1e-12) { Issue.record("\(attention): \(worst)") }
    }

    /// Out-of-vocabulary tokens and positions past seq_len are refused with a message, and
    /// nothing is appended.
    @Test func badTokensAndFullContextAreRefused() throws {
        let config = Self.config(.flow)
        let parameters = Tensor<Float>(ParameterLayout(config).table.count)
        let decoder = IncrementalDecoder<Float>(config: config, parameters: parameters, blockRows: Self.chunk)
        #expect(throws: DecodingError.self) { try decoder.append([1, 13]) }
        #expect(throws: DecodingError.self) { try decoder.append([-1]) }
        #expect(decoder.position == 0)
        try decoder.append([Int32](repeating: 2, count: config.seqLen))
        do {
            try decoder.append([0])
            Issue.record("appending past seq_len was accepted")
        } catch let error as DecodingError {
            #expect(error.description.contains("seq_len \(config.seqLen)"))
        }
        #expect(decoder.position == config.seqLen)
    }
}
