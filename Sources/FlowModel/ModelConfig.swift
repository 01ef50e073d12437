/// Which model family member to build (docs/FORMATS.md, "Model").
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    /// Causal language model: token + position embedding → blocks → norm → head (no bias).
    case lm
    /// Vision classifier: patch embedding + position embedding → blocks → norm → mean → head.
    case image
    /// Long-sequence classifier (LRA-style): token + position embedding → blocks → norm → mean → head.
    case sequence
}

/// Which attention the blocks use (docs/FORMATS.md, "Model").
public enum AttentionKind: String, Sendable, CaseIterable, Codable {
    /// Flow-Attention (non-causal for classifiers, causal for `lm`).
    case flow
    /// Scaled dot-product multi-head attention (causal mask for `lm`).
    case softmax
    /// Kernelised linear attention with feature map elu(x)+1.
    case linear
}

/// The architecture of a model: the `model:` keys of the configuration (docs/FORMATS.md, "Configuration"). Plain values, no parsing here.
public struct ModelConfig: Sendable, Equatable, Codable {
    public var kind: ModelKind = .lm
    public var attention: AttentionKind = .flow
    public var dModel: Int = 256
    public var heads: Int = 8
    public var layers: Int = 4
    public var ff: Int = 1024
    public var dropout: Double = 0
    /// Sequence length (lm, sequence); the position table has this many rows.
    public var seqLen: Int = 1024
    /// Token vocabulary (lm, sequence).
    public var vocabSize: Int = 256
    /// Output classes (image, sequence).
    public var numClasses: Int = 10
    /// Image side in pixels (image; square images).
    public var imageSize: Int = 28
    /// Image channels (image).
    public var channels: Int = 1
    /// Patch side in pixels (image).
    public var patch: Int = 4

    public init() {}

    public var headDim: Int { dModel / heads }

    /// Tokens per sample seen by the blocks: seq_len, or (image_size / patch)² patches.
    public var tokensPerSample: Int {
        kind == .image ? (imageSize / patch) * (imageSize / patch) : seqLen
    }

    /// Width of the head's output: vocabulary for `lm`, classes otherwise.
    public var outputs: Int { kind == .lm ? vocabSize : numClasses }

    /// Whether attention is causal (only the language model).
    public var causal: Bool { kind == .lm }
}
