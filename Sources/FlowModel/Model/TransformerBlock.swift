import TensorKernels

/// Buffers that every block uses in turn (only one block runs at a time), owned by the model.
final class BlockScratch<Scalar: TensorScalar> {
    /// Forward: a branch's output before dropout and the residual add. Backward: the gradient of
    /// a branch's output (the residual gradient after dropout).   [B, T, D]
    let branch: Tensor<Scalar>
    /// Gradient at a LayerNorm's output, then (in place) at its input.   [B, T, D]
    let normGradient: Tensor<Scalar>
    /// Gradient at GELU's output, then (in place) at fc1's output.   [B, T, F]
    let hiddenGradient: Tensor<Scalar>
    /// One LayerNorm row in Scalar before it is rounded into bf16 storage.   [D]
    let normRow: Tensor<Scalar>

    init(maxBatch: Int, tokens: Int, dModel: Int, ff: Int) {
        branch = Tensor(maxBatch, tokens, dModel)
        normGradient = Tensor(maxBatch, tokens, dModel)
        hiddenGradient = Tensor(maxBatch, tokens, ff)
        normRow = Tensor(dModel)
    }
}

/// One pre-LayerNorm Transformer block (docs/FORMATS.md, "Model"):
///
///     m = x + Dropout₀(Attention(LN1(x)))
///     y = m + Dropout₁(fc2(GELU(fc1(LN2(m)))))
///
/// on [n, T, D] activations (n ≤ maxBatch samples of T tokens). It keeps what its backward needs
/// (LayerNorm outputs and statistics, m, GELU's output and its slope at fc1's output; the attention module
/// keeps its own) and recomputes dropout masks from their keys instead of storing them.
///
/// The three saved activations that only feed Linear products (LN1(x), LN2(m), GELU's output)
/// are `SavedProductInput`s: in a bf16 Float model they are written as bf16 (half the bytes),
/// and the products read them as they would have rounded them.
///
/// The attention core is built for `maxBatch` sequences and always runs on all of them: for a
/// call with n < maxBatch, rows past n of its input are zeroed in forward and of its output
/// gradient in backward, so they contribute exactly nothing to the parameter gradients (the
/// cores never mix sequences). Only partial batches pay for the unused rows.
final class TransformerBlock<Scalar: TensorScalar> {
    static var layerNormEpsilon: Scalar { 1e-5 }

    let parameters: BlockParameters
    let attention: MultiHeadAttention<Scalar>
    let attentionDropout: SampleDropout
    let feedForwardDropout: SampleDropout
    let maxBatch: Int, tokens: Int, dModel: Int, ff: Int

    // Saved activations for backward.
    let norm1Output: SavedProductInput<Scalar>   // LN1(x)     [B, T, D]
    let norm1Mean: Tensor<Scalar>     //                       [B, T]
    let norm1Rstd: Tensor<Scalar>     //                       [B, T]
    let middle: Tensor<Scalar>        // m                     [B, T, D]
    let norm2Output: SavedProductInput<Scalar>   // LN2(m)     [B, T, D]
    let norm2Mean: Tensor<Scalar>     //                       [B, T]
    let norm2Rstd: Tensor<Scalar>     //                       [B, T]
    let hidden: Tensor<Scalar>        // GELU'(fc1(LN2(m))) after forward   [B, T, F]
    let activated: SavedProductInput<Scalar>     // GELU(fc1(LN2(m)))   [B, T, F]

    /// - Parameter bfloat16Inputs: store the three product inputs as bf16 (a bf16 Float model).
    init(parameters: BlockParameters, index: Int, config: ModelConfig, maxBatch: Int, attentionChunk: Int,
         validLengths: SequenceLengths? = nil, bfloat16Inputs: Bool = false) {
        let t = config.tokensPerSample, d = config.dModel, f = config.ff
        self.parameters = parameters
        self.maxBatch = maxBatch
        self.tokens = t
        self.dModel = d
        self.ff = f
        let shape = AttentionShape(batch: maxBatch, length: t, modelWidth: d, heads: config.heads,
                                   causal: config.causal)
        attention = MultiHeadAttention(
            query: parameters.query, key: parameters.key, value: parameters.value, out: parameters.out,
            core: makeAttentionCore(config.attention, shape: shape, scalar: Scalar.self,
                                    causalChunk: attentionChunk, validLengths: validLengths))
        attentionDropout = SampleDropout(layer: index, site: 0, probability: config.dropout)
        feedForwardDropout = SampleDropout(layer: index, site: 1, probability: config.dropout)
        norm1Output = SavedProductInput(maxBatch, t, d, bfloat16: bfloat16Inputs)
        norm1Mean = Tensor(maxBatch, t)
        norm1Rstd = Tensor(maxBatch, t)
        middle = Tensor(maxBatch, t, d)
        norm2Output = SavedProductInput(maxBatch, t, d, bfloat16: bfloat16Inputs)
        norm2Mean = Tensor(maxBatch, t)
        norm2Rstd = Tensor(maxBatch, t)
        hidden = Tensor(maxBatch, t, f)
        activated = SavedProductInput(maxBatch, t, f, bfloat16: bfloat16Inputs)
    }

    /// y [n, T, D] from x [n, T, D]. x must stay unchanged until `backward`.
    func forward(input x: UnsafePointer<Scalar>, output y: UnsafeMutablePointer<Scalar>, samples n: Int,
                 parameters p: UnsafePointer<Scalar>, context: ForwardContext, scratch: BlockScratch<Scalar>) {
        let rows = n &* tokens, count = rows &* dModel, perSample = tokens &* dModel
        let w = parameters
        let branch = scratch.branch.pointer

        // m = x + Dropout₀(Attention(LN1(x)))
        layerNorm(x, weight: p + w.norm1Weight.offset, bias: p + w.norm1Bias.offset, into: norm1Output,
                  mean: norm1Mean.pointer, rstd: norm1Rstd.pointer, rows: rows, scratch: scratch)
        if n < maxBatch { norm1Output.zero(from: count) }
        attention.forward(input: norm1Output.operand, parameters: p, output: branch)
        attentionDropout.apply(branch, samples: n, elementsPerSample: perSample, context: context)
        DispatchedKernels.add(x, branch, into: middle.pointer, count: count)

        // y = m + Dropout₁(fc2(GELU(fc1(LN2(m)))))
        layerNorm(middle.pointer, weight: p + w.norm2Weight.offset, bias: p + w.norm2Bias.offset, into: norm2Output,
                  mean: norm2Mean.pointer, rstd: norm2Rstd.pointer, rows: rows, scratch: scratch)
        w.fc1.forward(norm2Output.operand, rows: rows, parameters: p, into: hidden.pointer)
        // GELU and its slope in one pass; the slope overwrites fc1's output, which backward
        // needs only through it.
        if let bits = activated.bits {
            DispatchedKernels.gelu(hidden.pointer.asFloat, intoBFloat16: bits, derivative: hidden.pointer.asFloat,
                                   count: rows &* ff)
        } else if let values = activated.values {
            DispatchedKernels.gelu(hidden.pointer, into: values.pointer, derivative: hidden.pointer, count: rows &* ff)
        }
        w.fc2.forward(activated.operand, rows: rows, parameters: p, into: branch)
        feedForwardDropout.apply(branch, samples: n, elementsPerSample: perSample, context: context)
        DispatchedKernels.add(middle.pointer, branch, into: y, count: count)
    }

    /// Back-propagates through the block of the last `forward` (same x, n and context):
    /// `residualGradient` [n, T, D] holds ∂loss/∂y on entry and ∂loss/∂x on return; every
    /// parameter gradient of the block is added into `gradients`. `onGradientsReady` is called with
    /// each part's parameter range as soon as its gradients are final (fc2, fc1, norm2, attention,
    /// norm1: descending and contiguous), so that a trainer can start and progress reductions
    /// while the rest of the block runs.
    func backward(input x: UnsafePointer<Scalar>, residualGradient dR: UnsafeMutablePointer<Scalar>,
                  samples n: Int, parameters p: UnsafePointer<Scalar>, gradients g: UnsafeMutablePointer<Scalar>,
                  context: ForwardContext, scratch: BlockScratch<Scalar>,
                  onGradientsReady: ((Range<Int>) -> Void)? = nil) {
        let ready = parameters.rangesInBackwardOrder
        let rows = n &* tokens, count = rows &* dModel, perSample = tokens &* dModel
        let w = parameters
        let branch = scratch.branch.pointer
        let normGradient = scratch.normGradient.pointer
        let hiddenGradient = scratch.hiddenGradient.pointer

        // Feed-forward branch: dR = ∂/∂y → ∂/∂m.
        var branchGradient = UnsafePointer(dR)
        if feedForwardDropout.isActive(in: context) {
            copy(dR, into: branch, count: count)
            feedForwardDropout.apply(branch, samples: n, elementsPerSample: perSample, context: context)
            branchGradient = UnsafePointer(branch)
        }
        w.fc2.backward(outputGradient: branchGradient, input: activated.operand, rows: rows, parameters: p,
                       gradients: g, inputGradient: hiddenGradient)
        onGradientsReady?(ready.fc2)
        DispatchedKernels.multiply(hiddenGradient, hidden.pointer, into: hiddenGradient, count: rows &* ff)   // · GELU'(fc1 output)
        w.fc1.backward(outputGradient: hiddenGradient, input: norm2Output.operand, rows: rows, parameters: p,
                       gradients: g, inputGradient: normGradient)
        onGradientsReady?(ready.fc1)
        DispatchedKernels.layerNormBackward(outputGradient: normGradient, input: middle.pointer, weight: p + w.norm2Weight.offset,
                          mean: norm2Mean.pointer, rstd: norm2Rstd.pointer, inputGradient: normGradient,
                          weightGradient: g + w.norm2Weight.offset, biasGradient: g + w.norm2Bias.offset,
                          rows: rows, cols: dModel)
        onGradientsReady?(ready.norm2)
        DispatchedKernels.add(dR, normGradient, into: dR, count: count)

        // Attention branch: dR = ∂/∂m → ∂/∂x. The module reads all maxBatch rows of its
        // output gradient, so rows past n must be zero.
        branchGradient = UnsafePointer(dR)
        if attentionDropout.isActive(in: context) || n < maxBatch {
            copy(dR, into: branch, count: count)
            attentionDropout.apply(branch, samples: n, elementsPerSample: perSample, context: context)
            if n < maxBatch { fill(branch + count, with: 0, count: (maxBatch &- n) &* perSample) }
            branchGradient = UnsafePointer(branch)
        }
        attention.backward(outputGradient: branchGradient, input: norm1Output.operand, parameters: p,
                           gradients: g, inputGradient: normGradient)
        onGradientsReady?(ready.attention)
        DispatchedKernels.layerNormBackward(outputGradient: normGradient, input: x, weight: p + w.norm1Weight.offset,
                          mean: norm1Mean.pointer, rstd: norm1Rstd.pointer, inputGradient: normGradient,
                          weightGradient: g + w.norm1Weight.offset, biasGradient: g + w.norm1Bias.offset,
                          rows: rows, cols: dModel)
        onGradientsReady?(ready.norm1)
        DispatchedKernels.add(dR, normGradient, into: dR, count: count)
    }

    /// LayerNorm of `rows` rows of width D into `output`'s storage (Scalar, or bf16 through
    /// `scratch.normRow`), with mean and rstd for backward.
    private func layerNorm(_ x: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
                           into output: SavedProductInput<Scalar>, mean: UnsafeMutablePointer<Scalar>,
                           rstd: UnsafeMutablePointer<Scalar>, rows: Int, scratch: BlockScratch<Scalar>) {
        if let bits = output.bits {
            DispatchedKernels.layerNorm(x.asFloat, weight: weight.asFloat, bias: bias.asFloat, intoBFloat16: bits,
                                        rowScratch: scratch.normRow.pointer.asFloat, mean: mean.asFloat,
                                        rstd: rstd.asFloat, rows: rows, cols: dModel,
                                        epsilon: Float(Self.layerNormEpsilon))
        } else if let values = output.values {
            DispatchedKernels.layerNorm(x, weight: weight, bias: bias, into: values.pointer, mean: mean, rstd: rstd,
                                        rows: rows, cols: dModel, epsilon: Self.layerNormEpsilon)
        }
    }
}
