import TensorKernels

/// Why a decoder refused tokens; the message names the token or the limit.
public struct DecodingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a trained `lm` on one growing sequence, a block of tokens at a time, keeping per layer
/// only what later tokens need (`AttentionDecodingState`): the prompt goes in parallel blocks
/// of up to `blockRows` tokens, then each generated token is appended alone.
///
///     append(tokens[m])  →  logits [m, V] of positions position ..< position + m
///
/// equal to rows position ..< position + m of a full forward over the sequence so far (up to
/// rounding; tested at every position for the three attentions). For causal flow and linear
/// attention a token costs the same at any position (a fixed-size state per head); softmax
/// keeps a key/value cache and grows with the position.
///
/// The model's position table has `seq_len` rows, so `contextLimit` = seq_len positions; an
/// append past it throws rather than use a position the model never learned.
///
/// The decoder reads the parameters from `parameters` (laid out by `ParameterLayout(config)`) on
/// every call and owns only [blockRows, ·] activations and the per-layer states, so it can run
/// contexts far longer than a training batch could hold. Not thread-safe.
public final class IncrementalDecoder<Scalar: TensorScalar> {
    public let config: ModelConfig
    let layout: ParameterLayout
    /// Read, never written.   [layout.table.count]
    public let parameters: Tensor<Scalar>
    /// Most tokens processed together (prompt chunks).
    public let blockRows: Int
    /// Tokens appended since the last `reset`.
    public private(set) var position = 0
    /// Positions the model has embeddings for (its seq_len).
    public var contextLimit: Int { config.seqLen }

    let states: [any AttentionDecodingState<Scalar>]
    // Activations of one block of m ≤ blockRows positions.
    let residual: Tensor<Scalar>     // x, the residual stream          [blockRows, D]
    let normed: Tensor<Scalar>       // LN1(x), LN2(m), final LN        [blockRows, D]
    let mean: Tensor<Scalar>         // LayerNorm statistics            [blockRows]
    let rstd: Tensor<Scalar>         //                                 [blockRows]
    let queries: Tensor<Scalar>      // q                               [blockRows, D]
    let keys: Tensor<Scalar>         // k                               [blockRows, D]
    let values: Tensor<Scalar>       // v                               [blockRows, D]
    let attended: Tensor<Scalar>     // attention core output           [blockRows, D]
    let branch: Tensor<Scalar>       // a branch's output               [blockRows, D]
    let hidden: Tensor<Scalar>       // fc1 output, then GELU'          [blockRows, F]
    let activated: Tensor<Scalar>    // GELU(fc1 output)                [blockRows, F]
    let logitRows: Tensor<Scalar>    // head output                     [blockRows, V]

    /// - Parameters:
    ///   - config: an `lm` configuration.
    ///   - parameters: the model's parameters, `ParameterLayout(config)` order.
    ///   - blockRows: prompt chunk length (default: the training cores' causal chunk).
    public init(config: ModelConfig, parameters: Tensor<Scalar>, blockRows: Int = defaultCausalChunk) {
        precondition(config.kind == .lm, "IncrementalDecoder runs language models, not \(config.kind)")
        precondition(blockRows > 0, "blockRows must be positive, got \(blockRows)")
        self.config = config
        layout = ParameterLayout(config)
        precondition(parameters.count == layout.table.count,
                     "IncrementalDecoder: \(parameters.count) parameters for a model of \(layout.table.count)")
        self.parameters = parameters
        self.blockRows = blockRows
        let (d, f) = (config.dModel, config.ff)
        states = (0..<config.layers).map { _ in
            makeDecodingState(config.attention, modelWidth: d, heads: config.heads, maxRows: blockRows,
                              capacity: config.seqLen, scalar: Scalar.self)
        }
        residual = Tensor(blockRows, d)
        normed = Tensor(blockRows, d)
        mean = Tensor(blockRows)
        rstd = Tensor(blockRows)
        queries = Tensor(blockRows, d)
        keys = Tensor(blockRows, d)
        values = Tensor(blockRows, d)
        attended = Tensor(blockRows, d)
        branch = Tensor(blockRows, d)
        hidden = Tensor(blockRows, f)
        activated = Tensor(blockRows, f)
        logitRows = Tensor(blockRows, config.vocabSize)
    }

    /// Starts a new sequence.
    public func reset() {
        position = 0
        for i in 0..<states.count { states[i].reset() }
    }

    /// Appends `tokens` (in blocks of ≤ `blockRows`) and returns the logits [V] of the last one,
    /// valid until the next call. With `allLogits` [tokens.count, V] every position's logits are
    /// written there too.
    ///
    /// Throws, appending nothing, when a token is outside 0 ..< vocab_size or the sequence would
    /// pass `contextLimit`.
    @discardableResult
    public func append(_ tokens: UnsafeBufferPointer<Int32>,
                       allLogits: UnsafeMutablePointer<Scalar>? = nil) throws -> UnsafePointer<Scalar> {
        guard !tokens.isEmpty else { throw DecodingError("no tokens to append") }
        for (offset, token) in tokens.enumerated() where token < 0 || Int(token) >= config.vocabSize {
            throw DecodingError("token \(token) at offset \(offset) is outside the model's vocabulary 0..<\(config.vocabSize)")
        }
        guard position + tokens.count <= contextLimit else {
            throw DecodingError("the sequence would reach position \(position + tokens.count), past the model's context of seq_len \(contextLimit) positions")
        }
        let v = config.vocabSize
        var start = 0
        while start < tokens.count {
            let rows = min(blockRows, tokens.count - start)
            forwardBlock(tokens.baseAddress! + start, rows: rows)
            if let allLogits { (allLogits + start &* v).update(from: logitRows.pointer, count: rows &* v) }
            start += rows
            if start == tokens.count { return UnsafePointer(logitRows.pointer + (rows - 1) &* v) }
        }
        preconditionFailure("unreachable")
    }

    /// `append` for an array.
    @discardableResult
    public func append(_ tokens: [Int32], allLogits: UnsafeMutablePointer<Scalar>? = nil) throws -> UnsafePointer<Scalar> {
        try tokens.withUnsafeBufferPointer { try append($0, allLogits: allLogits) }
    }

    /// One block of `rows` tokens at positions position ..< position + rows → `logitRows`.
    /// The same layers as `FlowformerModel.forward` (no dropout), on `rows` rows instead of [n, T].
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forwardBlock(_ tokens: UnsafePointer<Int32>, rows: Int) {
        let p = UnsafePointer(parameters.pointer)
        let (d, f) = (config.dModel, config.ff)
        let count = rows &* d
        let x = residual.pointer, u = normed.pointer, y = branch.pointer
        let eps = TransformerBlock<Scalar>.layerNormEpsilon
        // x = embed[token] + pos_embed[position]
        let embed = p + layout.tokenEmbedding!.offset, positions = p + layout.positionEmbedding.offset
        for r in 0..<rows {
            DispatchedKernels.add(embed + Int(tokens[r]) &* d, positions + (position &+ r) &* d,
                                  into: x + r &* d, count: d)
        }
        for i in 0..<states.count {
            let w = layout.blocks[i]
            // m = x + Attention(LN1(x))
            DispatchedKernels.layerNorm(x, weight: p + w.norm1Weight.offset, bias: p + w.norm1Bias.offset, into: u,
                                        mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: d, epsilon: eps)
            w.query.forward(u, rows: rows, parameters: p, into: queries.pointer)
            w.key.forward(u, rows: rows, parameters: p, into: keys.pointer)
            w.value.forward(u, rows: rows, parameters: p, into: values.pointer)
            states[i].append(queries: queries.pointer, keys: keys.pointer, values: values.pointer, rows: rows,
                             output: attended.pointer)
            w.out.forward(attended.pointer, rows: rows, parameters: p, into: y)
            DispatchedKernels.add(x, y, into: x, count: count)
            // x = m + fc2(GELU(fc1(LN2(m))))
            DispatchedKernels.layerNorm(x, weight: p + w.norm2Weight.offset, bias: p + w.norm2Bias.offset, into: u,
                                        mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: d, epsilon: eps)
            w.fc1.forward(u, rows: rows, parameters: p, into: hidden.pointer)
            DispatchedKernels.gelu(hidden.pointer, into: activated.pointer, derivative: hidden.pointer, count: rows &* f)
            w.fc2.forward(activated.pointer, rows: rows, parameters: p, into: y)
            DispatchedKernels.add(x, y, into: x, count: count)
        }
        DispatchedKernels.layerNorm(x, weight: p + layout.normWeight.offset, bias: p + layout.normBias.offset, into: u,
                                    mean: mean.pointer, rstd: rstd.pointer, rows: rows, cols: d, epsilon: eps)
        layout.head.forward(u, rows: rows, parameters: p, into: logitRows.pointer)
        position &+= rows
    }
}
