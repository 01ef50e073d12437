import TensorKernels

/// Non-causal Flow-Attention (Wu et al. 2022), per batch element and head, sinks i < L and
/// sources j < S (L may differ from S):
///
///     Q_i = σ(q_i), K_j = σ(k_j)                                   logistic sigmoid, elementwise
///     I_i = (Q_i + ε)·(Σ_j K_j + ε),   a_i = 1 / I_i                incoming flow of sink i
///     O_j = (K_j + ε)·(Σ_i Q_i + ε),   b_j = 1 / O_j                outgoing flow of source j
///     Î_i = (Q_i + ε)·(Σ_j b_j K_j + ε)                            conserved incoming flow
///     Ô_j = clamp((K_j + ε)·(Σ_i a_i Q_i + ε), −1, 1)              conserved outgoing flow
///     alloc_i = σ(Î_i · L / S),   comp_j = S · softmax_j(Ô)_j
///     A_i = alloc_i · a_i · Q_iᵀ · Σ_j K_j ⊗ (comp_j v_j)           O((L + S)·d_h²)
///
/// with ε = 1e-6 added to every element of both factors of the "(u + ε)·(w + ε)" dot products.
/// See `shared/spec/flow-attention.md`. The elementwise work is fused into a few passes over
/// each head's rows; the two d_h × d_h products run on BLAS with strided (leading dimension D)
/// views of the [B, L, D] rows, so heads are never copied out.
public final class FlowAttention<Scalar: TensorScalar>: AttentionCore {
    public let shape: AttentionShape
    /// ε of the flow equations.
    public static var epsilon: Scalar { 1e-6 }

    // Saved by forward for backward. Per-head scalars are [B, H, L or S], per-head vectors [B, H, d_h].
    let sinkKernel: Tensor<Scalar>        // Q = σ(q)          [B, L, D]
    let sourceKernel: Tensor<Scalar>      // K = σ(k)          [B, S, D]
    let weightedValues: Tensor<Scalar>    // comp_j · v_j      [B, S, D]
    let sinkIncoming: Tensor<Scalar>      // a_i = 1 / I_i     [B, H, L]
    let sourceOutgoing: Tensor<Scalar>    // b_j = 1 / O_j     [B, H, S]
    let allocation: Tensor<Scalar>        // alloc_i           [B, H, L]
    let competition: Tensor<Scalar>       // comp_j            [B, H, S]
    let conservedSource: Tensor<Scalar>   // Ô_j before clamp  [B, H, S]
    let sinkSum: Tensor<Scalar>           // Σ_i Q_i + ε       [B, H, d_h]
    let sourceSum: Tensor<Scalar>         // Σ_j K_j + ε       [B, H, d_h]
    let weightedSinkSum: Tensor<Scalar>   // Σ_i a_i Q_i + ε   [B, H, d_h]
    let weightedSourceSum: Tensor<Scalar> // Σ_j b_j K_j + ε   [B, H, d_h]
    let keyValue: Tensor<Scalar>          // Σ_j K_j ⊗ comp_j v_j  [B, H, d_h, d_h]

    // Backward workspaces, one head at a time.
    let scaledOutputGradient: Tensor<Scalar>  // alloc_i a_i · dA_i   [L, d_h]
    let keyValueGradient: Tensor<Scalar>      // dKV                  [d_h, d_h]
    let scaleGradient: Tensor<Scalar>         // d(alloc_i a_i)       [L]
    let competitionGradient: Tensor<Scalar>   // d comp_j             [S]
    let vectorGradients: Tensor<Scalar>       // dΣaQ, dΣbK, dΣQ, dΣK [4, d_h]

    var hasForward = false

    public init(shape: AttentionShape) {
        precondition(!shape.causal, "FlowAttention is the non-causal core; use CausalFlowAttention")
        self.shape = shape
        let (b, l, s, d, h, dh) = (shape.batch, shape.queryLength, shape.keyLength, shape.modelWidth,
                                   shape.heads, shape.headWidth)
        sinkKernel = Tensor(b, l, d)
        sourceKernel = Tensor(b, s, d)
        weightedValues = Tensor(b, s, d)
        sinkIncoming = Tensor(b, h, l)
        sourceOutgoing = Tensor(b, h, s)
        allocation = Tensor(b, h, l)
        competition = Tensor(b, h, s)
        conservedSource = Tensor(b, h, s)
        sinkSum = Tensor(b, h, dh)
        sourceSum = Tensor(b, h, dh)
        weightedSinkSum = Tensor(b, h, dh)
        weightedSourceSum = Tensor(b, h, dh)
        keyValue = Tensor(b, h, dh, dh)
        scaledOutputGradient = Tensor(l, dh)
        keyValueGradient = Tensor(dh, dh)
        scaleGradient = Tensor(l)
        competitionGradient = Tensor(s)
        vectorGradients = Tensor(4, dh)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                        values: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>) {
        applySigmoid(queries, into: sinkKernel.pointer, count: shape.queryElements)
        applySigmoid(keys, into: sourceKernel.pointer, count: shape.keyElements)
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                forwardHead(batch: b, head: h, values: values, output: output)
            }
        }
        hasForward = true
    }

    private func forwardHead(batch b: Int, head h: Int, values: UnsafePointer<Scalar>,
                             output: UnsafeMutablePointer<Scalar>) {
        let eps = Self.epsilon
        let (l, s, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        let headIndex = b &* shape.heads &+ h
        // Row 0 of this head in the [B, L, D] / [B, S, D] activations; rows are D apart.
        let sinkRows = b &* l &* d &+ h &* dh
        let sourceRows = b &* s &* d &+ h &* dh
        let Q = UnsafePointer(sinkKernel.pointer + sinkRows)
        let K = UnsafePointer(sourceKernel.pointer + sourceRows)
        let v = values + sourceRows
        let weightedV = weightedValues.pointer + sourceRows
        let a = sinkIncoming.pointer + headIndex &* l
        let bOut = sourceOutgoing.pointer + headIndex &* s
        let alloc = allocation.pointer + headIndex &* l
        let comp = competition.pointer + headIndex &* s
        let conserved = conservedSource.pointer + headIndex &* s
        let sumQ = sinkSum.pointer + headIndex &* dh
        let sumK = sourceSum.pointer + headIndex &* dh
        let sumAQ = weightedSinkSum.pointer + headIndex &* dh
        let sumBK = weightedSourceSum.pointer + headIndex &* dh
        let kv = keyValue.pointer + headIndex &* dh &* dh

        // Σ_i Q_i + ε and Σ_j K_j + ε
        columnSums(Q, rows: l, width: dh, rowStride: d, into: sumQ)
        columnSums(K, rows: s, width: dh, rowStride: d, into: sumK)
        for c in 0..<dh { sumQ[c] += eps; sumK[c] += eps }

        // a_i = 1 / (Q_i + ε)·(ΣK + ε);  Σ_i a_i Q_i
        sumAQ.update(repeating: 0, count: dh)
        for i in 0..<l {
            let row = Q + i &* d
            a[i] = 1 / shiftedDot(row, plus: eps, UnsafePointer(sumK), count: dh)
            addScaled(a[i], row, to: sumAQ, count: dh)
        }
        // b_j = 1 / (K_j + ε)·(ΣQ + ε);  Σ_j b_j K_j
        sumBK.update(repeating: 0, count: dh)
        for j in 0..<s {
            let row = K + j &* d
            bOut[j] = 1 / shiftedDot(row, plus: eps, UnsafePointer(sumQ), count: dh)
            addScaled(bOut[j], row, to: sumBK, count: dh)
        }
        for c in 0..<dh { sumAQ[c] += eps; sumBK[c] += eps }

        // alloc_i = σ(Î_i · L/S)
        let ratio = Scalar(l) / Scalar(s)
        for i in 0..<l {
            let conservedSink = shiftedDot(Q + i &* d, plus: eps, UnsafePointer(sumBK), count: dh)
            alloc[i] = logisticSigmoid(conservedSink * ratio)
        }
        // comp_j = S · softmax_j(clamp(Ô_j)); |Ô| ≤ 1 so exp needs no max subtraction.
        var expSum: Scalar = 0
        for j in 0..<s {
            let raw = shiftedDot(K + j &* d, plus: eps, UnsafePointer(sumAQ), count: dh)
            conserved[j] = raw
            let e = Scalar.exp(min(max(raw, -1), 1))
            comp[j] = e
            expSum += e
        }
        let normaliser = Scalar(s) / expSum
        for j in 0..<s {
            comp[j] *= normaliser
            let from = v + j &* d, to = weightedV + j &* d
            for c in 0..<dh { to[c] = comp[j] * from[c] }
        }

        // KV = Kᵀ · (comp ⊙ v)   [d_h, d_h]
        matmul(K, transposeA: true, UnsafePointer(weightedV), into: kv, m: dh, n: dh, k: s,
               lda: d, ldb: d, ldc: dh)
        // A = diag(alloc ⊙ a) · Q · KV, written into this head's columns of the output.
        let out = output + sinkRows
        matmul(Q, UnsafePointer(kv), into: out, m: l, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
        for i in 0..<l { scale(out + i &* d, by: alloc[i] * a[i], count: dh) }
    }
}
