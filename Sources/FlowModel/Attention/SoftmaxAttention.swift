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
public final class SoftmaxAttention<Scalar: TensorScalar>: AttentionCore {
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
        probabilityGradient = Tensor(l, s)
    }

    /// 1 / √d_h
    var scoreScale: Scalar { 1 / Scalar.sqrt(Scalar(shape.headWidth)) }

    /// Keys visible from query position i: all S, or i + 1 when causal.
    @inline(__always) func visibleKeys(_ i: Int) -> Int { shape.causal ? i &+ 1 : shape.keyLength }

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
                // Scores q kᵀ / √d_h  [L, S], then a masked, max-shifted softmax per row.
                matmul(q, k, transposeB: true, into: p, m: l, n: s, k: dh, lda: d, ldb: d, ldc: s,
                       alpha: scoreScale)
                for i in 0..<l {
                    let row = p + i &* s, visible = visibleKeys(i)
                    var largest = row[0]
                    for j in 1..<visible { largest = max(largest, row[j]) }
                    var total: Scalar = 0
                    for j in 0..<visible {
                        let e = Scalar.exp(row[j] - largest)
                        row[j] = e
                        total += e
                    }
                    let inverse = 1 / total
                    for j in 0..<visible { row[j] *= inverse }
                    for j in visible..<s { row[j] = 0 }
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
                for i in 0..<l {
                    let pRow = p + i &* s, row = dZ + i &* s, visible = visibleKeys(i)
                    let centre = dot(pRow, UnsafePointer(row), count: visible)
                    for j in 0..<visible { row[j] = pRow[j] * (row[j] - centre) }
                    for j in visible..<s { row[j] = 0 }
                }
                // dq = dZ k / √d_h;  dk = dZᵀ q / √d_h
                matmul(UnsafePointer(dZ), k, into: queryGradient + sinkRows, m: l, n: dh, k: s,
                       lda: s, ldb: d, ldc: d, alpha: scoreScale)
                matmul(UnsafePointer(dZ), transposeA: true, q, into: keyGradient + sourceRows, m: s, n: dh,
                       k: l, lda: s, ldb: d, ldc: d, alpha: scoreScale)
            }
        }
    }
}
