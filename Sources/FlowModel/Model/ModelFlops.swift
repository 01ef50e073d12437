/// Matrix-multiply FLOPs of one training step of a Flowformer, the numerator of MFU.
///
/// Counted: every matrix product of the forward pass at 2·m·n·k FLOPs, times 3 for forward +
/// backward (the backward of y = x·Wᵀ is two products of the same size: dx = dy·W and
/// dW = dyᵀ·x). Not counted: elementwise work (LayerNorm, GELU, softmax, the flow equations'
/// sums and sigmoids), embedding lookups, the loss and the optimizer — they are real time but
/// not "model FLOPs", as in the usual MFU definition.
///
/// Forward FLOPs per sample, with T tokens, D = d_model, F = ff, H heads, d_h = D/H, N layers:
///
///     per layer, dense:   T · (2·D·3D  [q,k,v]  +  2·D·D  [out]  +  2·2·D·F  [fc1, fc2])
///                       = T · (8·D² + 4·D·F)
///     per layer, core:    flow, linear:  4·T·D·d_h   (per head Kᵀ·V: 2·T·d_h², then Q·(KᵀV): 2·T·d_h²;
///                                                     causal counted the same: the running-state form)
///                         softmax:       4·P·d_h·H = 4·P·D   (Q·Kᵀ and P·V over P query-key pairs;
///                                                     P = T² non-causal, T(T+1)/2 causal)
///     lm head:            T · 2·D·V          (V = vocab; no bias)
///     image:              T · 2·(C·p·p)·D [patch_embed]  +  2·D·classes [head, once per sample]
///     sequence:           2·D·classes [head, once per sample]
public enum ModelFlops {
    /// Forward matrix FLOPs of one sample (see the type's formula).
    public static func forwardPerSample(_ config: ModelConfig) -> Double {
        let t = Double(config.tokensPerSample), d = Double(config.dModel), f = Double(config.ff)
        let headWidth = Double(config.headDim)
        let dense = t * (8 * d * d + 4 * d * f)
        let core: Double
        switch config.attention {
        case .flow, .linear:
            core = 4 * t * d * headWidth
        case .softmax:
            let pairs = config.causal ? t * (t + 1) / 2 : t * t
            core = 4 * pairs * d
        }
        var total = Double(config.layers) * (dense + core)
        switch config.kind {
        case .lm:
            total += t * 2 * d * Double(config.vocabSize)
        case .image:
            let patchInputs = Double(config.channels * config.patch * config.patch)
            total += t * 2 * patchInputs * d + 2 * d * Double(config.numClasses)
        case .sequence:
            total += 2 * d * Double(config.numClasses)
        }
        return total
    }

    /// Forward + backward matrix FLOPs of one training step on `samples` samples: 3 × forward.
    public static func trainingStep(_ config: ModelConfig, samples: Int) -> Double {
        3 * forwardPerSample(config) * Double(samples)
    }
}
