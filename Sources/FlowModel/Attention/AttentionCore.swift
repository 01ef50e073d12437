import TensorKernels

/// The sizes an attention core is built for; every workspace is sized from them once.
///
/// Activations are row-major `[batch, length, modelWidth]`. Head `h` owns the feature columns
/// `h·headWidth ..< (h+1)·headWidth` of every row (the PyTorch split: feature c → head c / d_h).
public struct AttentionShape: Sendable, Equatable, CustomStringConvertible {
    /// Sequences per call (B).
    public let batch: Int
    /// Query positions per sequence (L): the sinks.
    public let queryLength: Int
    /// Key/value positions per sequence (S): the sources. Equal to `queryLength` when causal.
    public let keyLength: Int
    /// Width of q, k, v and of the output (D = d_model).
    public let modelWidth: Int
    /// Number of heads (H); must divide `modelWidth`.
    public let heads: Int
    /// Whether position i may only attend to positions j ≤ i.
    public let causal: Bool

    public init(batch: Int, queryLength: Int, keyLength: Int, modelWidth: Int, heads: Int, causal: Bool) {
        precondition(batch > 0 && queryLength > 0 && keyLength > 0 && modelWidth > 0 && heads > 0,
                     "AttentionShape needs positive sizes, got B=\(batch) L=\(queryLength) S=\(keyLength) D=\(modelWidth) H=\(heads)")
        precondition(modelWidth % heads == 0,
                     "AttentionShape: d_model \(modelWidth) is not a multiple of heads \(heads)")
        precondition(!causal || queryLength == keyLength,
                     "AttentionShape: causal attention needs L == S, got L=\(queryLength) S=\(keyLength)")
        self.batch = batch
        self.queryLength = queryLength
        self.keyLength = keyLength
        self.modelWidth = modelWidth
        self.heads = heads
        self.causal = causal
    }

    /// Self-attention shape: L = S = `length`.
    public init(batch: Int, length: Int, modelWidth: Int, heads: Int, causal: Bool) {
        self.init(batch: batch, queryLength: length, keyLength: length, modelWidth: modelWidth,
                  heads: heads, causal: causal)
    }

    /// d_h = D / H.
    public var headWidth: Int { modelWidth / heads }
    /// Elements of q and of the output: B·L·D.
    public var queryElements: Int { batch * queryLength * modelWidth }
    /// Elements of k and of v: B·S·D.
    public var keyElements: Int { batch * keyLength * modelWidth }

    public var description: String {
        "B=\(batch) L=\(queryLength) S=\(keyLength) D=\(modelWidth) H=\(heads)\(causal ? " causal" : "")"
    }
}

/// A multi-head attention core: everything between the q/k/v projections and the out projection.
///
///     out[b, i, head h] = Attention_h(q[b, :, h], k[b, :, h], v[b, :, h])_i
///
/// A core is built for one `AttentionShape` and allocates all its saved activations and
/// workspaces at `init`; `forward` and `backward` allocate nothing.
///
/// - `forward` reads q `[B, L, D]`, k `[B, S, D]`, v `[B, S, D]` and writes `out [B, L, D]`.
///   It saves inside the core what `backward` needs, so the caller may overwrite q, k, v
///   afterwards (q, k and v may be the same pointer, as in self-attention).
/// - `backward` reads dOut `[B, L, D]` (the gradient of the loss with respect to `out`) and
///   WRITES (does not accumulate) dq `[B, L, D]`, dk `[B, S, D]`, dv `[B, S, D]` for the most
///   recent `forward`. The three gradient buffers must be distinct and must not overlap dOut; they
///   may be the buffers that held q, k, v in `forward`.
public protocol AttentionCore<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar

    var shape: AttentionShape { get }

    func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                 values: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>)

    func backward(outputGradient: UnsafePointer<Scalar>,
                  queryGradient: UnsafeMutablePointer<Scalar>,
                  keyGradient: UnsafeMutablePointer<Scalar>,
                  valueGradient: UnsafeMutablePointer<Scalar>)
}

/// Chunk length of the causal linear-time products when the caller does not choose one.
/// Measured on one core (Float, L = 1024, D = 256, d_h = 16…64): 16–32 is fastest; 64 costs
/// ~15 % more and 128 ~50 %, as the masked in-chunk product grows with the chunk.
public let defaultCausalChunk = 32

/// Builds the core of `kind` for `shape` (causal or not as `shape.causal` says).
///
/// - Parameters:
///   - causalChunk: chunk length of the causal flow and linear aggregations; any positive value
///     gives the same result up to rounding.
///   - validLengths: real positions per sequence, read at every forward and backward (non-causal
///     self-attention excludes the padding after them; causal cores need no mask: pad positions
///     come last, so no real position sees them).
public func makeAttentionCore<Scalar: TensorScalar>(
    _ kind: AttentionKind, shape: AttentionShape, scalar: Scalar.Type = Scalar.self,
    causalChunk: Int = defaultCausalChunk, validLengths: SequenceLengths? = nil
) -> any AttentionCore<Scalar> {
    switch (kind, shape.causal) {
    case (.flow, false): return FlowAttention<Scalar>(shape: shape, validLengths: validLengths)
    case (.flow, true): return CausalFlowAttention<Scalar>(shape: shape, chunk: causalChunk)
    case (.softmax, _): return SoftmaxAttention<Scalar>(shape: shape, validLengths: validLengths)
    case (.linear, _): return LinearAttention<Scalar>(shape: shape, chunk: causalChunk, validLengths: validLengths)
    }
}
