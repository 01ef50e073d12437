import TensorKernels

/// A Flowformer of the family in docs/FORMATS.md, "Model" — `lm`, `image` or `sequence`, with flow, softmax or linear
/// attention — with every parameter in one buffer and every activation in workspaces allocated
/// once by `init`.
///
///     lm:        tokens [n, L] → embed + pos_embed → blocks → norm → head (no bias) → logits [n, L, V]
///     sequence:  tokens [n, L] → embed + pos_embed → blocks → norm → mean over L → head → [n, C]
///                (pool: cls → [cls_token, embed(tokens)] + pos_embed → … → norm → row 0 → head)
///     image:     pixels [n, H·W·C] → patches → patch_embed + pos_embed → blocks → norm → mean → head
///
/// Use: `forward` one micro-batch (n ≤ maxBatch samples), then `backward` once, which adds
/// ∂(lossScale · lossSum)/∂θ into `gradients`; repeat over micro-batches to accumulate, and call
/// `zeroGradients` after the optimizer step. Steady-state forward and backward allocate nothing.
/// Not thread-safe: one model per thread.
public final class FlowformerModel<Scalar: TensorScalar> {
    public let config: ModelConfig
    /// Names, offsets and shapes of every parameter (docs/FORMATS.md, "Parameter names"), in layer order.
    public let table: ParameterTable
    /// Where each layer's parameters live, and the ranges `backward` reports.
    let layout: ParameterLayout
    /// All parameters.   [table.count]
    public let parameters: Tensor<Scalar>
    /// All parameter gradients, same layout; `backward` adds into it.   [table.count]
    public let gradients: Tensor<Scalar>
    /// Largest n that `forward` accepts.
    public let maxBatch: Int
    /// The arithmetic of the Linear products in `forward`, `backward` and `inferenceLogits`
    /// (`train.precision`; Float models only, see `MatmulPrecision`). Parameters and gradients
    /// stay Scalar either way; a bf16 Float model stores the activations that only feed products
    /// as bf16 (`SavedProductInput`), so it is fixed at init.
    public let precision: MatmulPrecision

    let tokens: Int      // T: tokens per sample seen by the blocks
    let rowsPerSample: Int  // R: logit rows per sample (T for lm, 1 for the classifiers)
    let blocks: [TransformerBlock<Scalar>]
    /// sequence: real tokens per sample of the current call, shared with every attention core and
    /// the pooling (padding is excluded from both); nil for lm and image.
    let sequenceLengths: SequenceLengths?
    let scratch: BlockScratch<Scalar>

    // Forward activations, kept for backward.
    let residualStream: [Tensor<Scalar>]   // layers + 1 of [B, T, D]: input of block i, then the last output
    let patches: Tensor<Scalar>?           // image: [B, T, C·p·p]
    let inputTokens: UnsafeMutablePointer<Int32>  // lm, sequence: a copy of the tokens [B, seq_len]
    let normOutput: Tensor<Scalar>         // norm(last block output)   [B, T, D]
    let normMean: Tensor<Scalar>           //                           [B, T]
    let normRstd: Tensor<Scalar>           //                           [B, T]
    let pooled: Tensor<Scalar>?            // classifiers: mean over T  [B, D]
    /// Logits after `forward` is done with them hold ∂(Σ loss)/∂logits.   [B, R, outputs]
    let logits: Tensor<Scalar>
    let predictions: UnsafeMutablePointer<Int32>  // argmax per logit row [B, R]

    // Backward buffers.
    let residualGradient: Tensor<Scalar>   // ∂loss/∂(residual stream) as backward walks down  [B, T, D]
    let pooledGradient: Tensor<Scalar>?    // classifiers  [B, D]

    /// What the last forward saw; nil once backward has consumed it.
    var pending: (count: Int, context: ForwardContext)?

    /// Builds the layout and allocates parameters, gradients and every workspace for `maxBatch`
    /// samples. Parameters start at zero: call `initializeParameters(seed:)` or load them.
    ///
    /// - Parameter attentionChunk: chunk length of the causal flow / linear aggregations (lm);
    ///   it changes speed and memory, not results (beyond rounding). The default is the
    ///   attention cores' measured best (`defaultCausalChunk`).
    /// - Parameter precision: the Linear products' arithmetic (`precision`).
    public convenience init(config: ModelConfig, maxBatch: Int, attentionChunk: Int = defaultCausalChunk,
                            precision: MatmulPrecision = .fp32) {
        self.init(config: config, maxBatch: maxBatch, attentionChunk: attentionChunk, precision: precision,
                  productInputsInBFloat16: precision == .bf16 && Scalar.self == Float.self)
    }

    /// - Parameter productInputsInBFloat16: store the activations that only feed products as
    ///   bf16 (what a bf16 Float model does; false keeps them Scalar: the tests' reference).
    init(config: ModelConfig, maxBatch: Int, attentionChunk: Int = defaultCausalChunk,
         precision: MatmulPrecision, productInputsInBFloat16: Bool) {
        precondition(maxBatch > 0, "maxBatch must be positive, got \(maxBatch)")
        precondition(config.dropout >= 0 && config.dropout < 1, "dropout \(config.dropout) is outside [0, 1)")
        self.config = config
        self.maxBatch = maxBatch
        self.precision = precision
        layout = ParameterLayout(config)
        let table = layout.table
        self.table = table
        parameters = TensorCensus.during(.parameters) { Tensor(table.count) }
        gradients = TensorCensus.during(.gradients) { Tensor(table.count) }

        let t = config.tokensPerSample, d = config.dModel
        tokens = t
        rowsPerSample = config.kind == .lm ? t : 1
        let lengths = config.kind == .sequence ? SequenceLengths(capacity: maxBatch, fullLength: t) : nil
        sequenceLengths = lengths
        blocks = layout.blocks.enumerated().map { index, parameters in
            TransformerBlock(parameters: parameters, index: index, config: config, maxBatch: maxBatch,
                             attentionChunk: attentionChunk, validLengths: lengths,
                             bfloat16Inputs: productInputsInBFloat16)
        }
        scratch = TensorCensus.during(.workspaces) { BlockScratch(maxBatch: maxBatch, tokens: t, dModel: d, ff: config.ff) }
        residualStream = (0...config.layers).map { _ in Tensor(maxBatch, t, d) }
        patches = config.kind == .image
            ? Tensor(maxBatch, t, config.channels * config.patch * config.patch) : nil
        inputTokens = .allocate(capacity: maxBatch * config.seqLen)
        inputTokens.initialize(repeating: 0, count: maxBatch * config.seqLen)
        normOutput = Tensor(maxBatch, t, d)
        normMean = Tensor(maxBatch, t)
        normRstd = Tensor(maxBatch, t)
        pooled = config.kind == .lm ? nil : Tensor(maxBatch, d)
        logits = Tensor(maxBatch, rowsPerSample, config.outputs)
        predictions = .allocate(capacity: maxBatch * rowsPerSample)
        predictions.initialize(repeating: 0, count: maxBatch * rowsPerSample)
        residualGradient = TensorCensus.during(.workspaces) { Tensor(maxBatch, t, d) }
        pooledGradient = config.kind == .lm ? nil : TensorCensus.during(.workspaces) { Tensor(maxBatch, d) }
    }

    deinit {
        inputTokens.deallocate()
        predictions.deallocate()
    }

    /// Sets every parameter from `seed` alone: Linear weights (incl. `patch_embed` and `head`),
    /// `embed.weight` and `pos_embed` ~ normal(0, 0.02); biases 0; LayerNorm weights 1.
    /// Entry k of the table draws from CounterRandom(seed, .initialization, k), so the values do
    /// not depend on the machine, the thread count or the element type beyond rounding.
    public func initializeParameters(seed: UInt64) {
        let layerNormWeights = Set(layout.layerNormWeights.map(\.name))
        for (index, entry) in table.entries.enumerated() {
            let values = parameters.pointer + entry.offset
            if layerNormWeights.contains(entry.name) {
                fill(values, with: 1, count: entry.count)
            } else if entry.name.hasSuffix(".bias") {
                fill(values, with: 0, count: entry.count)
            } else {
                CounterRandom(seed: seed, domain: .initialization, stream: UInt64(index))
                    .fillNormal(values, count: entry.count, standardDeviation: 0.02)
            }
        }
    }

    /// gradients ← 0.
    public func zeroGradients() { gradients.zero() }

    /// Runs the model on n samples and returns the loss sums (see `LossSums`).
    ///
    /// - Parameters:
    ///   - input: lm / sequence → `.tokens`, Int32 [n, seq_len]; image → `.pixels`, Scalar
    ///     [n, H·W·C] stored HWC, already normalised.
    ///   - targets: lm → Int32 [n, L] next tokens; image / sequence → Int32 [n] class ids.
    ///   - n: samples, 1 ... maxBatch.
    ///   - context: dropout keys and whether to apply dropout.
    ///   - lengths: sequence → Int32 [n], the real tokens of each sample (the rest of its seq_len
    ///     is padding, excluded from attention and pooling: the results are those of the
    ///     unpadded sample); nil: no padding. Ignored by lm (causal: padding at the end is never
    ///     seen by real positions) and image.
    public func forward(_ input: ModelInput<Scalar>, targets: UnsafePointer<Int32>, count n: Int,
                        context: ForwardContext, lengths: UnsafePointer<Int32>? = nil) -> LossSums {
        precondition(n >= 1 && n <= maxBatch, "forward: batch of \(n) samples outside 1...\(maxBatch)")
        sequenceLengths?.set(lengths, count: n, extra: config.hasClassToken ? 1 : 0)
        return MatmulPrecision.with(precision) { forwardBody(input, targets: targets, count: n, context: context) }
    }

    private func forwardBody(_ input: ModelInput<Scalar>, targets: UnsafePointer<Int32>, count n: Int,
                             context: ForwardContext) -> LossSums {
        let p = UnsafePointer(parameters.pointer)
        embeddingForward(input, samples: n, parameters: p)
        for i in 0..<blocks.count {  // index loops: iterators allocate in unoptimised builds
            blocks[i].forward(input: residualStream[i].pointer, output: residualStream[i + 1].pointer, samples: n,
                              parameters: p, context: context, scratch: scratch)
        }
        let sums = headForward(targets: targets, samples: n, parameters: p)
        pending = (n, context)
        return sums
    }

    /// Back-propagates ∂(lossScale · lossSum)/∂θ of the last `forward`, ADDING into `gradients`.
    /// Call it at most once per forward.
    ///
    /// `onGradientsReady(range)` is called with parameter index ranges whose gradients are final
    /// for this backward, in reverse layer order: the final norm and head, then each block from
    /// the last to the first (five ranges a block: fc2, fc1, norm2, attention, norm1), then the
    /// embeddings. The ranges tile 0 ..< table.count exactly once
    /// and nothing writes into a range after it was reported, so a trainer may start reducing it.
    public func backward(lossScale: Scalar, onGradientsReady: ((Range<Int>) -> Void)? = nil) {
        guard let (n, context) = pending else {
            preconditionFailure("backward called without a forward since the last backward")
        }
        pending = nil
        MatmulPrecision.with(precision) {
            backwardBody(samples: n, context: context, lossScale: lossScale, onGradientsReady: onGradientsReady)
        }
    }

    private func backwardBody(samples n: Int, context: ForwardContext, lossScale: Scalar,
                              onGradientsReady: ((Range<Int>) -> Void)?) {
        let p = UnsafePointer(parameters.pointer), g = gradients.pointer
        headBackward(lossScale: lossScale, samples: n, parameters: p, gradients: g)
        onGradientsReady?(layout.final)
        for i in stride(from: blocks.count - 1, through: 0, by: -1) {
            blocks[i].backward(input: residualStream[i].pointer, residualGradient: residualGradient.pointer,
                               samples: n, parameters: p, gradients: g, context: context, scratch: scratch,
                               onGradientsReady: onGradientsReady)
        }
        embeddingBackward(samples: n, parameters: p, gradients: g)
        onGradientsReady?(layout.embeddings)
    }
}
