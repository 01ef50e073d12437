import TensorKernels

/// Causal linear attention as a recurrence (the equations of `LinearAttention`): after position
/// i each head keeps
///
///     S = Σ_{j≤i} φ(k_j) ⊗ v_j    (`states` [H, d_h, d_h])      z = Σ_{j≤i} φ(k_j)   (`keySums` [D])
///
/// and a block of new rows gets A_i = φ(q_i)ᵀ (S + Σ_{block j≤i} φ(k_j) ⊗ v_j) / (φ(q_i)·z_i + ε),
/// the same chunk step as training. O(H·d_h²) per generated token at any position.
final class LinearDecodingState<Scalar: TensorScalar>: AttentionDecodingState {
    let modelWidth: Int, heads: Int, headWidth: Int, maxRows: Int
    private(set) var position = 0

    let states: Tensor<Scalar>         // Σ φ(k) ⊗ v      [H, d_h, d_h]
    let keySums: Tensor<Scalar>        // Σ φ(k)          [D] (head h at h·d_h)
    let product: ChunkedCausalProduct<Scalar>
    let queryFeatures: Tensor<Scalar>  // φ(q)            [maxRows, D]
    let keyFeatures: Tensor<Scalar>    // φ(k)            [maxRows, D]

    init(modelWidth d: Int, heads h: Int, maxRows: Int) {
        precondition(maxRows > 0 && h > 0 && d % h == 0, "LinearDecodingState: bad sizes D=\(d) H=\(h) rows=\(maxRows)")
        modelWidth = d
        heads = h
        headWidth = d / h
        self.maxRows = maxRows
        states = Tensor(h, d / h, d / h)
        keySums = Tensor(d)
        product = ChunkedCausalProduct(chunk: maxRows, keyWidth: d / h, valueWidth: d / h)
        queryFeatures = Tensor(maxRows, d)
        keyFeatures = Tensor(maxRows, d)
    }

    func reset() {
        position = 0
        states.zero()
        keySums.zero()
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func append(queries q: UnsafePointer<Scalar>, keys k: UnsafePointer<Scalar>, values v: UnsafePointer<Scalar>,
                rows: Int, output out: UnsafeMutablePointer<Scalar>) {
        precondition(rows >= 1 && rows <= maxRows, "append: \(rows) rows for blocks of at most \(maxRows)")
        let eps = LinearAttention<Scalar>.epsilon
        let (d, dh) = (modelWidth, headWidth)
        let fq = queryFeatures.pointer, fk = keyFeatures.pointer
        eluPlusOne(q, into: fq, count: rows &* d)
        eluPlusOne(k, into: fk, count: rows &* d)
        for h in 0..<heads {
            let o = h &* dh, state = states.pointer + h &* dh &* dh, cumK = keySums.pointer + o
            product.chunkStep(reverse: false, rows: rows, a: UnsafePointer(fq + o), lda: d, b: UnsafePointer(fk + o),
                              ldb: d, c: v + o, ldc: d, state: position == 0 ? nil : UnsafePointer(state),
                              into: out + o, ldo: d, accumulate: false)
            for r in 0..<rows {
                let row = r &* d &+ o
                addScaled(1, UnsafePointer(fk + row), to: cumK, count: dh)
                let z = 1 / (dot(UnsafePointer(fq + row), UnsafePointer(cumK), count: dh) + eps)
                scale(out + row, by: z, count: dh)
            }
            product.accumulateState(rows: rows, b: UnsafePointer(fk + o), ldb: d, c: v + o, ldc: d, into: state,
                                    reset: position == 0)
        }
        position &+= rows
    }
}
