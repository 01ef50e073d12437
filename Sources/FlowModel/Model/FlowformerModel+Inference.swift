import TensorKernels

extension FlowformerModel {
    /// The model's outputs on n samples, without a loss: lm → logits [n, L, V] (row i predicts
    /// token i + 1); image / sequence → logits [n, C]. No dropout. The returned buffer is the
    /// model's own and is valid until the next `forward` or `inferenceLogits` call; a `backward` may not
    /// follow this call.
    ///
    /// The same layers as `forward` (which instead leaves ∂loss/∂logits in that buffer).
    public func inferenceLogits(_ input: ModelInput<Scalar>, count n: Int) -> UnsafeBufferPointer<Scalar> {
        precondition(n >= 1 && n <= maxBatch, "inferenceLogits: batch of \(n) samples outside 1...\(maxBatch)")
        return MatmulPrecision.with(precision) { inferenceBody(input, count: n) }
    }

    private func inferenceBody(_ input: ModelInput<Scalar>, count n: Int) -> UnsafeBufferPointer<Scalar> {
        let p = UnsafePointer(parameters.pointer)
        let context = ForwardContext()
        embeddingForward(input, samples: n, parameters: p)
        for i in 0..<blocks.count {
            blocks[i].forward(input: residualStream[i].pointer, output: residualStream[i + 1].pointer, samples: n,
                              parameters: p, context: context, scratch: scratch)
        }
        let d = config.dModel, rows = n &* tokens
        DispatchedKernels.layerNorm(residualStream[config.layers].pointer, weight: p + layout.normWeight.offset,
                                    bias: p + layout.normBias.offset, into: normOutput.pointer, mean: normMean.pointer,
                                    rstd: normRstd.pointer, rows: rows, cols: d,
                                    epsilon: TransformerBlock<Scalar>.layerNormEpsilon)
        if let pooled {
            MeanPool.forward(normOutput.pointer, into: pooled.pointer, samples: n, tokens: tokens, dModel: d)
            layout.head.forward(pooled.pointer, rows: n, parameters: p, into: logits.pointer)
        } else {
            layout.head.forward(normOutput.pointer, rows: rows, parameters: p, into: logits.pointer)
        }
        pending = nil
        return UnsafeBufferPointer(start: logits.pointer, count: n &* rowsPerSample &* config.outputs)
    }
}
