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
final class SoftmaxAttention<Scalar: TensorScalar>: AttentionCore {
    public let shape: AttentionShape

    let savedQueries: Tensor<Scalar>    // q  [B, L, D]
    let savedKeys: Tensor<Scalar>       // k  [B, S, D]
    let savedValues: Tensor<Scalar>     // v  [B, S, D]
    let probabilities: Tensor<Scalar>   // P  [B, H, L, S]
    let probabilityGradient: Tensor<Scalar>  // dP, then dZ, one head at a time [L, S]
    var hasForward = false

    public init(shape: AttentionShape) {
        self.shape = shape
        let (b, l, s, d, h) = (shape.batch, shape.queryLength, shape.keyLength, shape.modelWidth, shape.heads)
        savedQueries = Tensor(b, l, d)
        savedKeys = Tensor(b, s, d)
        savedValues = Tensor(b, s, d)
        probabilities = Tensor(b, h, l, s)
        probabilityGradient = TensorCensus.during(.workspaces) { Tensor(l, s) }
    }

    /// 1 / √d_h
    var scoreScale: Scalar { 1 / Scalar.sqrt(Scalar(shape.headWidth)) }


    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                        values: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>) {
        savedQueries.pointer.update(from: queries, count: shape.queryElements)
        savedKeys.pointer.update(from: keys, count: shape.keyElements)
        savedValues.pointer.update(from: values, count: shape.keyElements)
        let (l, s, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let q = queries + (b &* l &* d &+ h &* dh)
                let k = keys + (b &* s &* d &+ h &* dh)
                let v = values + (b &* s &* d &+ h &* dh)
                let p = probabilities.pointer + (b &* shape.heads &+ h) &* l &* s
                // Scores q kᵀ / √d_h  [L, S], then a masked, max-shifted softmax per row
                // (TensorKernels' vectorised row softmax; causal rows see columns ≤ i).
                matmul(q, k, transposeB: true, into: p, m: l, n: s, k: dh, lda: d, ldb: d, ldc: s,
                       alpha: scoreScale)
                if shape.causal {
                    causalSoftmaxRows(p, into: p, rows: l, cols: s)
                } else {
                    softmaxRows(p, into: p, rows: l, cols: s)
                }
                matmul(UnsafePointer(p), v, into: output + (b &* l &* d &+ h &* dh), m: l, n: dh, k: s,
                       lda: s, ldb: d, ldc: d)
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
        let (l, s, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        let dZ = probabilityGradient.pointer
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let sinkRows = b &* l &* d &+ h &* dh, sourceRows = b &* s &* d &+ h &* dh
                let q = UnsafePointer(savedQueries.pointer + sinkRows)
                let k = UnsafePointer(savedKeys.pointer + sourceRows)
                let v = UnsafePointer(savedValues.pointer + sourceRows)
                let g = outputGradient + sinkRows
                let p = UnsafePointer(probabilities.pointer + (b &* shape.heads &+ h) &* l &* s)
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
        }
    }
}
