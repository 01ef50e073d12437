import TensorKernels

/// Causal Flow-Attention (language models; L = S), per batch element and head, with
/// n_i = i + 1 the 1-based position and Σ_{j≤i} prefix sums over positions:
///
///     Q_i = σ(q_i), K_i = σ(k_i)
///     I_i = (Q_i + ε)·(Σ_{j≤i} K_j + ε),   a_i = n_i / I_i
///     O_i = (K_i + ε)·(Σ_{j≤i} Q_j + ε),   b_i = n_i / O_i
///     Î_i = (Q_i + ε)·(Σ_{j≤i} b_j K_j + ε) / n_i
///     Ô_i = clamp((K_i + ε)·(Σ_{j≤i} a_j Q_j + ε) / n_i, −1, 1)
///     alloc_i = σ(Î_i),   comp_i = n_i · exp(Ô_i) / Σ_{j≤i} exp(Ô_j)
///     A_i = alloc_i / I_i · Q_iᵀ · Σ_{j≤i} K_j ⊗ (comp_j v_j)
///
/// All prefix sums but the last run as one fused pass over positions with four running d_h
/// vectors. The last (the aggregation) is a `ChunkedCausalProduct`: within a chunk a masked
/// product, across chunks a running d_h × d_h state, so memory stays O(chunk·d_h + d_h²) per head.
public final class CausalFlowAttention<Scalar: TensorScalar>: AttentionCore {
    public let shape: AttentionShape
    /// Positions per chunk of the causal aggregation.
    public let chunk: Int
    /// ε of the flow equations.
    public static var epsilon: Scalar { 1e-6 }

    // Saved by forward for backward; per-head scalars are [B, H, L].
    let sinkKernel: Tensor<Scalar>       // Q = σ(q)              [B, L, D]
    let sourceKernel: Tensor<Scalar>     // K = σ(k)              [B, L, D]
    let weightedValues: Tensor<Scalar>   // Vc_i = comp_i v_i     [B, L, D]
    let incoming: Tensor<Scalar>         // I_i                   [B, H, L]
    let outgoing: Tensor<Scalar>         // O_i                   [B, H, L]
    let allocation: Tensor<Scalar>       // alloc_i               [B, H, L]
    let competition: Tensor<Scalar>      // comp_i                [B, H, L]
    let conservedSource: Tensor<Scalar>  // Ô_i before clamp      [B, H, L]
    let expPrefixSum: Tensor<Scalar>     // Z_i = Σ_{j≤i} exp(Ô_j) [B, H, L]

    // Workspaces, one head at a time.
    let product: ChunkedCausalProduct<Scalar>
    let runningSums: Tensor<Scalar>           // 4 running vectors     [4, d_h]
    let scaledOutputGradient: Tensor<Scalar>  // alloc_i / I_i · dA_i  [L, d_h]
    let positionGradients: Tensor<Scalar>     // per-position scalars  [6, L]

    var hasForward = false

    public init(shape: AttentionShape, chunk: Int = defaultCausalChunk) {
        precondition(shape.causal, "CausalFlowAttention needs a causal shape; use FlowAttention")
        precondition(chunk > 0, "CausalFlowAttention chunk must be positive, got \(chunk)")
        self.shape = shape
        self.chunk = chunk
        let (b, l, d, h, dh) = (shape.batch, shape.queryLength, shape.modelWidth, shape.heads,
                                shape.headWidth)
        sinkKernel = Tensor(b, l, d)
        sourceKernel = Tensor(b, l, d)
        weightedValues = Tensor(b, l, d)
        incoming = Tensor(b, h, l)
        outgoing = Tensor(b, h, l)
        allocation = Tensor(b, h, l)
        competition = Tensor(b, h, l)
        conservedSource = Tensor(b, h, l)
        expPrefixSum = Tensor(b, h, l)
        product = ChunkedCausalProduct(chunk: min(chunk, l), keyWidth: dh, valueWidth: dh)
        runningSums = Tensor(4, dh)
        scaledOutputGradient = Tensor(l, dh)
        positionGradients = Tensor(6, l)
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
        let (l, d, dh) = (shape.queryLength, shape.modelWidth, shape.headWidth)
        let headIndex = b &* shape.heads &+ h
        let rows = b &* l &* d &+ h &* dh          // row 0 of this head; rows are D apart
        let Q = UnsafePointer(sinkKernel.pointer + rows)
        let K = UnsafePointer(sourceKernel.pointer + rows)
        let v = values + rows
        let weightedV = weightedValues.pointer + rows
        let scalars = headIndex &* l
        let I = incoming.pointer + scalars, O = outgoing.pointer + scalars
        let alloc = allocation.pointer + scalars, comp = competition.pointer + scalars
        let conserved = conservedSource.pointer + scalars, Z = expPrefixSum.pointer + scalars
        // Running Σ_{j≤i} K_j + ε, Σ Q_j + ε, Σ b_j K_j + ε, Σ a_j Q_j + ε.
        let cumK = runningSums.pointer, cumQ = cumK + dh, cumBK = cumK + 2 &* dh, cumAQ = cumK + 3 &* dh
        runningSums.fill(eps)

        var expSum: Scalar = 0
        for i in 0..<l {
            let n = Scalar(i &+ 1)
            let qRow = Q + i &* d, kRow = K + i &* d
            // I_i and O_i with the prefix sums including position i.
            for c in 0..<dh {
                cumK[c] += kRow[c]
                cumQ[c] += qRow[c]
            }
            let sinkFlow = shiftedDot(qRow, plus: eps, cumK, count: dh)
            let sourceFlow = shiftedDot(kRow, plus: eps, cumQ, count: dh)
            I[i] = sinkFlow
            O[i] = sourceFlow
            let ai = n / sinkFlow, bi = n / sourceFlow
            // Î_i, Ô_i with the weighted prefix sums including position i.
            for c in 0..<dh {
                cumBK[c] += bi * kRow[c]
                cumAQ[c] += ai * qRow[c]
            }
            let conservedSink = shiftedDot(qRow, plus: eps, cumBK, count: dh)
            let conservedSourceValue = shiftedDot(kRow, plus: eps, cumAQ, count: dh)
            alloc[i] = logisticSigmoid(conservedSink / n)
            let raw = conservedSourceValue / n
            conserved[i] = raw
            // comp_i = n_i exp(Ô_i) / Σ_{j≤i} exp(Ô_j); |Ô| ≤ 1 so no max subtraction is needed.
            let e = Scalar.exp(min(max(raw, -1), 1))
            expSum += e
            Z[i] = expSum
            comp[i] = n * e / expSum
            let from = v + i &* d, to = weightedV + i &* d
            for c in 0..<dh { to[c] = comp[i] * from[c] }
        }

        // A_i = alloc_i / I_i · Σ_{j≤i} (Q_i·K_j) Vc_j into this head's output columns.
        let out = output + rows
        product.run(reverse: false, length: l, a: Q, lda: d, b: K, ldb: d,
                    c: UnsafePointer(weightedV), ldc: d, into: out, ldo: d)
        for i in 0..<l { scale(out + i &* d, by: alloc[i] / I[i], count: dh) }
    }
}
