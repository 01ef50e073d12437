import TensorKernels

/// The parameter layout of the model family (docs/FORMATS.md, "Parameter names"), in layer order:
///
///     embeddings   embed.weight | patch_embed.weight, patch_embed.bias;  pos_embed
///     blocks.0     norm1.{weight,bias}, attn.{query,key,value,out}.{weight,bias},
///                  norm2.{weight,bias}, ffn.fc1.{weight,bias}, ffn.fc2.{weight,bias}
///     …
///     blocks.N-1
///     final        norm.{weight,bias}, head.weight (+ head.bias for classifiers)
///
/// `decays` is true exactly for the weights of Linear maps: the attention projections, fc1,
/// fc2, head, and `patch_embed.weight` (a Linear / stride-p Conv2d weight, not a lookup table;
/// PyTorch ViT recipes decay it too). Biases, LayerNorm parameters, `embed.weight` and
/// `pos_embed` do not decay.
extension ParameterTable {
    /// The table of a model with this configuration.
    public static func flowformer(_ config: ModelConfig) -> ParameterTable {
        ParameterLayout(config).table
    }
}

/// Where one pre-LN block's parameters live (`blocks.{i}.*`).
struct BlockParameters: Sendable, Equatable {
    public let norm1Weight: ParameterEntry
    public let norm1Bias: ParameterEntry
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let out: Linear
    public let norm2Weight: ParameterEntry
    public let norm2Bias: ParameterEntry
    public let fc1: Linear
    public let fc2: Linear
    /// All of the block's parameter indices (contiguous).
    public let range: Range<Int>

    /// The block's parameter ranges in the order backward finishes them — fc2, fc1, norm2, the
    /// attention projections, norm1 — which is the reverse of their layout, so each one ends where
    /// the next begins (the backward hook's contract).
    var rangesInBackwardOrder: (fc2: Range<Int>, fc1: Range<Int>, norm2: Range<Int>, attention: Range<Int>, norm1: Range<Int>) {
        (fc2: fc2.weight.offset ..< range.upperBound,
         fc1: fc1.weight.offset ..< fc2.weight.offset,
         norm2: norm2Weight.offset ..< fc1.weight.offset,
         attention: query.weight.offset ..< norm2Weight.offset,
         norm1: range.lowerBound ..< query.weight.offset)
    }
}

/// `ParameterTable.flowformer` plus where each layer's parameters are and the index ranges the
/// backward hook reports.
struct ParameterLayout: Sendable, Equatable {
    public let table: ParameterTable
    /// `embed.weight` [vocab, d_model] (lm, sequence).
    public let tokenEmbedding: ParameterEntry?
    /// `patch_embed` Linear(C·p·p → d_model) with bias (image).
    public let patchEmbedding: Linear?
    /// `pos_embed` [tokens per sample, d_model].
    public let positionEmbedding: ParameterEntry
    /// `cls_token` [d_model] (`pool: cls`): the learned first token of every sequence.
    public let classToken: ParameterEntry?
    public let blocks: [BlockParameters]
    public let normWeight: ParameterEntry
    public let normBias: ParameterEntry
    /// `head` Linear(d_model → outputs), without bias for lm.
    public let head: Linear

    /// Indices of the embedding parameters (everything before block 0).
    public let embeddings: Range<Int>
    /// Indices of the final `norm` and the `head` (everything after the last block).
    public let final: Range<Int>
    /// Indices of each block's parameters.
    public var blockRanges: [Range<Int>] { blocks.map(\.range) }

    public init(_ config: ModelConfig) {
        precondition(config.dModel > 0 && config.heads > 0 && config.dModel % config.heads == 0,
                     "d_model \(config.dModel) must be a positive multiple of heads \(config.heads)")
        precondition(config.layers >= 0 && config.ff > 0,
                     "layers \(config.layers) must be ≥ 0 and ff \(config.ff) positive")
        let d = config.dModel
        var table = ParameterTable()
        switch config.kind {
        case .lm, .sequence:
            precondition(config.vocabSize > 0 && config.seqLen > 0,
                         "vocab_size \(config.vocabSize) and seq_len \(config.seqLen) must be positive")
            tokenEmbedding = table.append("embed.weight", shape: [config.vocabSize, d], decays: false)
            patchEmbedding = nil
        case .image:
            precondition(config.patch > 0 && config.channels > 0 && config.imageSize > 0
                         && config.imageSize % config.patch == 0,
                         "image_size \(config.imageSize) must be a positive multiple of patch \(config.patch)")
            tokenEmbedding = nil
            patchEmbedding = Linear.append(to: &table, name: "patch_embed",
                                           inFeatures: config.channels * config.patch * config.patch,
                                           outFeatures: d, bias: true)
        }
        positionEmbedding = table.append("pos_embed", shape: [config.tokensPerSample, d], decays: false)
        classToken = config.hasClassToken ? table.append("cls_token", shape: [d], decays: false) : nil
        embeddings = 0 ..< table.count

        var blocks: [BlockParameters] = []
        for i in 0..<config.layers {
            let start = table.count
            let prefix = "blocks.\(i)"
            let norm1Weight = table.append("\(prefix).norm1.weight", shape: [d], decays: false)
            let norm1Bias = table.append("\(prefix).norm1.bias", shape: [d], decays: false)
            let query = Linear.append(to: &table, name: "\(prefix).attn.query", inFeatures: d, outFeatures: d)
            let key = Linear.append(to: &table, name: "\(prefix).attn.key", inFeatures: d, outFeatures: d)
            let value = Linear.append(to: &table, name: "\(prefix).attn.value", inFeatures: d, outFeatures: d)
            let out = Linear.append(to: &table, name: "\(prefix).attn.out", inFeatures: d, outFeatures: d)
            let norm2Weight = table.append("\(prefix).norm2.weight", shape: [d], decays: false)
            let norm2Bias = table.append("\(prefix).norm2.bias", shape: [d], decays: false)
            let fc1 = Linear.append(to: &table, name: "\(prefix).ffn.fc1", inFeatures: d, outFeatures: config.ff)
            let fc2 = Linear.append(to: &table, name: "\(prefix).ffn.fc2", inFeatures: config.ff, outFeatures: d)
            blocks.append(BlockParameters(
                norm1Weight: norm1Weight, norm1Bias: norm1Bias,
                query: query, key: key, value: value, out: out,
                norm2Weight: norm2Weight, norm2Bias: norm2Bias, fc1: fc1, fc2: fc2,
                range: start ..< table.count))
        }
        self.blocks = blocks

        let finalStart = table.count
        normWeight = table.append("norm.weight", shape: [d], decays: false)
        normBias = table.append("norm.bias", shape: [d], decays: false)
        precondition(config.outputs > 0, "the head needs a positive output width, got \(config.outputs)")
        head = Linear.append(to: &table, name: "head", inFeatures: d, outFeatures: config.outputs,
                             bias: config.kind != .lm)
        final = finalStart ..< table.count
        self.table = table
    }

    /// LayerNorm weights (initialised to 1 rather than drawn).
    public var layerNormWeights: [ParameterEntry] {
        blocks.flatMap { [$0.norm1Weight, $0.norm2Weight] } + [normWeight]
    }
}
