import TensorKernels

// The two ends of the model around the blocks: embeddings (tokens or patches, plus positions)
// and the head (final norm, pooling for classifiers, head Linear, cross-entropy).

extension FlowformerModel {
    /// residualStream[0] [n, T, D] = embedding(input) + pos_embed.
    func embeddingForward(_ input: ModelInput<Scalar>, samples n: Int, parameters p: UnsafePointer<Scalar>) {
        let x = residualStream[0].pointer
        switch (config.kind, input) {
        case (.lm, .tokens(let source)), (.sequence, .tokens(let source)):
            inputTokens.update(from: source, count: n &* config.seqLen)
            if let classToken = layout.classToken {
                // Row 0 of each sample is cls_token, rows 1 ... L its tokens.
                let d = config.dModel, length = config.seqLen
                for b in 0..<n {
                    let sample = x + b &* tokens &* d
                    copy(p + classToken.offset, into: sample, count: d)
                    TokenEmbedding.forward(tokens: inputTokens + b &* length, table: p + layout.tokenEmbedding!.offset,
                                           into: sample + d, rows: length, vocab: config.vocabSize, dModel: d)
                }
            } else {
                TokenEmbedding.forward(tokens: inputTokens, table: p + layout.tokenEmbedding!.offset, into: x,
                                       rows: n &* tokens, vocab: config.vocabSize, dModel: config.dModel)
            }
        case (.image, .pixels(let pixels)):
            PatchExtraction.forward(pixels: pixels, into: patches!.pointer, samples: n,
                                    height: config.imageSize, width: config.imageSize,
                                    channels: config.channels, patch: config.patch)
            layout.patchEmbedding!.forward(patches!.pointer, rows: n &* tokens, parameters: p, into: x)
        default:
            preconditionFailure("a \(config.kind) model was given \(input) input")
        }
        PositionEmbedding.forward(adding: p + layout.positionEmbedding.offset, to: x, samples: n,
                                  positions: tokens, dModel: config.dModel)
    }

    /// Adds the embedding gradients given ∂loss/∂residualStream[0] in `residualGradient`.
    func embeddingBackward(samples n: Int, parameters p: UnsafePointer<Scalar>, gradients g: UnsafeMutablePointer<Scalar>) {
        let dX = residualGradient.pointer
        PositionEmbedding.backward(dX: dX, dTable: g + layout.positionEmbedding.offset, samples: n,
                                   positions: tokens, dModel: config.dModel)
        if let embed = layout.tokenEmbedding, let classToken = layout.classToken {
            let d = config.dModel, length = config.seqLen
            for b in 0..<n {
                let sample = dX + b &* tokens &* d
                add(g + classToken.offset, sample, into: g + classToken.offset, count: d)
                TokenEmbedding.backward(tokens: inputTokens + b &* length, dOut: sample + d, dTable: g + embed.offset,
                                        rows: length, dModel: d)
            }
        } else if let embed = layout.tokenEmbedding {
            TokenEmbedding.backward(tokens: inputTokens, dOut: dX, dTable: g + embed.offset,
                                    rows: n &* tokens, dModel: config.dModel)
        } else if let patchEmbedding = layout.patchEmbedding {
            patchEmbedding.backward(outputGradient: dX, input: patches!.pointer, rows: n &* tokens,
                                    parameters: p, gradients: g, inputGradient: nil)
        }
    }

    /// norm → (mean over the real tokens, or the CLS row) → head → cross-entropy; leaves ∂(Σ loss)/∂logits in `logits`.
    func headForward(targets: UnsafePointer<Int32>, samples n: Int, parameters p: UnsafePointer<Scalar>) -> LossSums {
        let d = config.dModel, rows = n &* tokens
        let last = residualStream[config.layers].pointer
        DispatchedKernels.layerNorm(last, weight: p + layout.normWeight.offset, bias: p + layout.normBias.offset,
                  into: normOutput.pointer, mean: normMean.pointer, rstd: normRstd.pointer,
                  rows: rows, cols: d, epsilon: TransformerBlock<Scalar>.layerNormEpsilon)
        if let pooled, layout.classToken != nil {
            for b in 0..<n { copy(normOutput.pointer + b &* tokens &* d, into: pooled.pointer + b &* d, count: d) }
            layout.head.forward(pooled.pointer, rows: n, parameters: p, into: logits.pointer)
        } else if let pooled {
            MeanPool.forward(normOutput.pointer, into: pooled.pointer, samples: n, tokens: tokens, dModel: d,
                             lengths: sequenceLengths)
            layout.head.forward(pooled.pointer, rows: n, parameters: p, into: logits.pointer)
        } else {
            layout.head.forward(normOutput.pointer, rows: rows, parameters: p, into: logits.pointer)
        }
        return SampleCrossEntropy.forwardAndGradient(
            logits: logits.pointer, targets: targets, predictions: predictions,
            samples: n, rowsPerSample: rowsPerSample, classes: config.outputs)
    }

    /// Head and final-norm backward: adds their gradients and writes ∂loss/∂(last block output)
    /// into `residualGradient`.
    func headBackward(lossScale: Scalar, samples n: Int, parameters p: UnsafePointer<Scalar>,
                      gradients g: UnsafeMutablePointer<Scalar>) {
        let d = config.dModel, rows = n &* tokens
        let dLogits = logits.pointer
        if lossScale != 1 {
            scale(dLogits, by: lossScale, into: dLogits, count: n &* rowsPerSample &* config.outputs)
        }
        let dNorm = scratch.normGradient.pointer
        if let pooled, let pooledGradient, layout.classToken != nil {
            layout.head.backward(outputGradient: dLogits, input: pooled.pointer, rows: n, parameters: p,
                                 gradients: g, inputGradient: pooledGradient.pointer)
            fill(dNorm, with: 0, count: rows &* d)
            for b in 0..<n { copy(pooledGradient.pointer + b &* d, into: dNorm + b &* tokens &* d, count: d) }
        } else if let pooled, let pooledGradient {
            layout.head.backward(outputGradient: dLogits, input: pooled.pointer, rows: n, parameters: p,
                                 gradients: g, inputGradient: pooledGradient.pointer)
            MeanPool.backward(dPooled: pooledGradient.pointer, dX: dNorm, samples: n, tokens: tokens, dModel: d,
                              lengths: sequenceLengths)
        } else {
            layout.head.backward(outputGradient: dLogits, input: normOutput.pointer, rows: rows, parameters: p,
                                 gradients: g, inputGradient: dNorm)
        }
        DispatchedKernels.layerNormBackward(outputGradient: dNorm, input: residualStream[config.layers].pointer,
                          weight: p + layout.normWeight.offset, mean: normMean.pointer, rstd: normRstd.pointer,
                          inputGradient: residualGradient.pointer,
                          weightGradient: g + layout.normWeight.offset, biasGradient: g + layout.normBias.offset,
                          rows: rows, cols: d)
    }
}
