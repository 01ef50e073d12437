import TensorKernels

/// Scaled dot-product multi-head attention, the quadratic baseline. Per batch element and head:
///
///     P_i = softmax_j(q_i·k_j / √d_h)    over j < S, or j ≤ i when causal (L = S)
///     A_i = Σ_j P_ij v_j
///
/// The L × S probabilities of every head are kept for backward (O(B·H·L·S) memory: this core is
/// the reference point, not the scalable one). Backward:
///
///     dP_ij = g_i·v_j,   dZ_ij = P_ij (dP_ij − Σ_k P_ik dP_ik)
///     dq_i = Σ_j dZ_ij k_j / √d_h,   dk_j = Σ_i dZ_ij q_i / √d_h,   dv_j = Σ_i P_ij g_i
///
/// Padding (`validLengths`, non-causal self-attention only): sequence b attends over its first n_b
/// keys only and its output rows n_b ..< L are zero — computed as an n_b × n_b problem (P of
/// that element packed [n_b, n_b] at the start of its [L, S] block), so pad keys cost nothing
/// and their dk, dv rows (and the pad rows of dq) are zero.
final class SoftmaxAttention<Scalar: TensorScalar>: AttentionCore {
    public let shape: AttentionShape

    let savedQueries: Tensor<Scalar>    // q  [B, L, D]
    let savedKeys: Tensor<Scalar>       // k  [B, S, D]
    let savedValues: Tensor<Scalar>     // v  [B, S, D]
    let probabilities: Tensor<Scalar>   // P  [B, H, L, S]
    let probabilityGradient: Tensor<Scalar>  // dP, then dZ, one head at a time [L, S]
    var hasForward = false
    /// Real positions per sequence (nil: none padded); used only by non-causal self-attention.
    public let validLengths: SequenceLengths?

    public init(shape: AttentionShape, validLengths: SequenceLengths? = nil) {
        precondition(validLengths.map { $0.capacity >= shape.batch && $0.fullLength == shape.keyLength } ?? true,
                     "SoftmaxAttention: validLengths must cover the batch and the key length \(shape.keyLength)")
        self.shape = shape
        self.validLengths = (!shape.causal && shape.queryLength == shape.keyLength) ? validLengths : nil
        let (b, l, s, d, h) = (shape.batch, shape.queryLength, shape.keyLength, shape.modelWidth, shape.heads)
        savedQueries = Tensor(b, l, d)
        savedKeys = Tensor(b, s, d)
        savedValues = Tensor(b, s, d)
        probabilities = Tensor(b, h, l, s)
        probabilityGradient = TensorCensus.during(.workspaces) { Tensor(l, s) }
    }

    /// 1 / √d_h
    var scoreScale: Scalar { 1 / Scalar.sqrt(Scalar(shape.headWidth)) }

    /// (queries, keys) of batch element `b` that are real positions.
    @inline(__always) func validCounts(_ b: Int) -> (Int, Int) {
        guard let validLengths else { return (shape.queryLength, shape.keyLength) }
        let n = validLengths.count(b)
        return (n, n)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                        values: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>) {
        savedQueries.pointer.update(from: queries, count: shape.queryElements)
        savedKeys.pointer.update(from: keys, count: shape.keyElements)
        savedValues.pointer.update(from: values, count: shape.keyElements)
        let (paddedL, paddedS, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        for b in 0..<shape.batch {
            let (l, s) = validCounts(b)
            for h in 0..<shape.heads {
                let q = queries + (b &* paddedL &* d &+ h &* dh)
                let k = keys + (b &* paddedS &* d &+ h &* dh)
                let v = values + (b &* paddedS &* d &+ h &* dh)
                let p = probabilities.pointer + (b &* shape.heads &+ h) &* paddedL &* paddedS   // [l, s] packed
                // Scores q kᵀ / √d_h  [L, S], then a masked, max-shifted softmax per row
                // (TensorKernels' vectorised row softmax; causal rows see columns ≤ i).
                matmul(q, k, transposeB: true, into: p, m: l, n: s, k: dh, lda: d, ldb: d, ldc: s,
                       alpha: scoreScale)
                if shape.causal {
                    causalSoftmaxRows(p, into: p, rows: l, cols: s)
                } else {
                    softmaxRows(p, into: p, rows: l, cols: s)
                }
                matmul(UnsafePointer(p), v, into: output + (b &* paddedL &* d &+ h &* dh), m: l, n: dh, k: s,
                       lda: s, ldb: d, ldc: d)
            }
            if l < paddedL {
                (output + (b &* paddedL &+ l) &* d).update(repeating: 0, count: (paddedL &- l) &* d)
            }
        }
        hasForward = true
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "SoftmaxAttention.backward called before forward")
        let (paddedL, paddedS, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        let dZ = probabilityGradient.pointer   // [l, s] packed
        for b in 0..<shape.batch {
            let (l, s) = validCounts(b)
            for h in 0..<shape.heads {
                let sinkRows = b &* paddedL &* d &+ h &* dh, sourceRows = b &* paddedS &* d &+ h &* dh
                let q = UnsafePointer(savedQueries.pointer + sinkRows)
                let k = UnsafePointer(savedKeys.pointer + sourceRows)
                let v = UnsafePointer(savedValues.pointer + sourceRows)
                let g = outputGradient + sinkRows
                let p = UnsafePointer(probabilities.pointer + (b &* shape.heads &+ h) &* paddedL &* paddedS)
                // dv = Pᵀ g;  dP = g vᵀ
                matmul(p, transposeA: true, g, into: valueGradient + sourceRows, m: s, n: dh, k: l,
                       lda: s, ldb: d, ldc: d)
                matmul(g, v, transposeB: true, into: dZ, m: l, n: s, k: dh, lda: d, ldb: d, ldc: s)
                // dZ = P ⊙ (dP − Σ_k P_ik dP_ik); masked entries have P = 0, so dZ = 0 there.
                softmaxRowsBackward(output: p, outputGradient: dZ, into: dZ, rows: l, cols: s)
                // dq = dZ k / √d_h;  dk = dZᵀ q / √d_h
                matmul(UnsafePointer(dZ), k, into: queryGradient + sinkRows, m: l, n: dh, k: s,
                       lda: s, ldb: d, ldc: d, alpha: scoreScale)
                matmul(UnsafePointer(dZ), transposeA: true, q, into: keyGradient + sourceRows, m: s, n: dh,
                       k: l, lda: s, ldb: d, ldc: d, alpha: scoreScale)
            }
            // Padding rows: no gradient.
            if l < paddedL {
                (queryGradient + (b &* paddedL &+ l) &* d).update(repeating: 0, count: (paddedL &- l) &* d)
            }
            if s < paddedS {
                (keyGradient + (b &* paddedS &+ s) &* d).update(repeating: 0, count: (paddedS &- s) &* d)
                (valueGradient + (b &* paddedS &+ s) &* d).update(repeating: 0, count: (paddedS &- s) &* d)
            }
        }
    }
}
