/// The parameter layout of the model family (SPEC §2), in layer order:
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

/// `ParameterTable.flowformer` plus the index ranges the backward hook reports.
public struct ParameterLayout: Sendable, Equatable {
    public let table: ParameterTable
    /// Indices of the embedding parameters (everything before block 0).
    public let embeddings: Range<Int>
    /// Indices of each block's parameters, `blocks[i]` for `blocks.{i}.*`.
    public let blocks: [Range<Int>]
    /// Indices of the final `norm` and the `head` (everything after the last block).
    public let final: Range<Int>

    public init(_ config: ModelConfig) {
        precondition(config.dModel > 0 && config.heads > 0 && config.dModel % config.heads == 0,
                     "d_model \(config.dModel) must be a positive multiple of heads \(config.heads)")
        precondition(config.layers >= 0 && config.ff > 0, "layers \(config.layers) and ff \(config.ff) must be ≥ 0 and > 0")
        let d = config.dModel
        var table = ParameterTable()
        switch config.kind {
        case .lm, .sequence:
            precondition(config.vocabSize > 0 && config.seqLen > 0,
                         "vocab_size \(config.vocabSize) and seq_len \(config.seqLen) must be positive")
            table.append("embed.weight", shape: [config.vocabSize, d], decays: false)
        case .image:
            precondition(config.patch > 0 && config.imageSize % config.patch == 0 && config.channels > 0,
                         "image_size \(config.imageSize) must be a positive multiple of patch \(config.patch)")
            let features = config.channels * config.patch * config.patch
            table.append("patch_embed.weight", shape: [d, features], decays: true)
            table.append("patch_embed.bias", shape: [d], decays: false)
        }
        table.append("pos_embed", shape: [config.tokensPerSample, d], decays: false)
        embeddings = 0 ..< table.count

        var blocks: [Range<Int>] = []
        for i in 0..<config.layers {
            let start = table.count
            let p = "blocks.\(i)."
            table.append(p + "norm1.weight", shape: [d], decays: false)
            table.append(p + "norm1.bias", shape: [d], decays: false)
            for projection in ["query", "key", "value", "out"] {
                table.append(p + "attn.\(projection).weight", shape: [d, d], decays: true)
                table.append(p + "attn.\(projection).bias", shape: [d], decays: false)
            }
            table.append(p + "norm2.weight", shape: [d], decays: false)
            table.append(p + "norm2.bias", shape: [d], decays: false)
            table.append(p + "ffn.fc1.weight", shape: [config.ff, d], decays: true)
            table.append(p + "ffn.fc1.bias", shape: [config.ff], decays: false)
            table.append(p + "ffn.fc2.weight", shape: [d, config.ff], decays: true)
            table.append(p + "ffn.fc2.bias", shape: [d], decays: false)
            blocks.append(start ..< table.count)
        }
        self.blocks = blocks

        let finalStart = table.count
        table.append("norm.weight", shape: [d], decays: false)
        table.append("norm.bias", shape: [d], decays: false)
        precondition(config.outputs > 0, "the head needs a positive output width, got \(config.outputs)")
        table.append("head.weight", shape: [config.outputs, d], decays: true)
        if config.kind != .lm { table.append("head.bias", shape: [config.outputs], decays: false) }
        final = finalStart ..< table.count
        self.table = table
    }
}
