import TensorKernels

/// Kernelised linear attention (Katharopoulos et al. 2020), per batch element and head:
///
///     φ(x) = elu(x) + 1 = (x > 0 ? x + 1 : eˣ), elementwise
///     A_i = φ(q_i)ᵀ · Σ_j φ(k_j) ⊗ v_j  ·  z_i,     z_i = 1 / (φ(q_i)·Σ_j φ(k_j) + ε)
///
/// with Σ_j over all S keys, or over j ≤ i when causal (computed as a `ChunkedCausalProduct`
/// and a running key sum). ε = 1e-6 keeps the normaliser away from zero (φ > 0, so the dot
/// product is positive but may underflow for very negative inputs); it matches the reference
/// implementation of the paper.
///
/// Padding (`validLengths`, non-causal self-attention only): sequence b sums over its first n_b
/// keys only (Σ_j φ(k_j) and Σ_j φ(k_j) ⊗ v_j), its output rows n_b ..< L are zero, and so are
/// the pad rows of dq, dk, dv. (Causal attention needs nothing: pad positions come last.)
final class LinearAttention<Scalar: TensorScalar>: AttentionCore {
    public let shape: AttentionShape
    /// Positions per chunk of the causal product.
    public let chunk: Int
    /// ε added to the normaliser's denominator.
    public static var epsilon: Scalar { 1e-6 }

    let queryFeatures: Tensor<Scalar>   // φ(q)   [B, L, D]
    let keyFeatures: Tensor<Scalar>     // φ(k)   [B, S, D]
    let savedValues: Tensor<Scalar>     // v      [B, S, D]
    let normaliser: Tensor<Scalar>      // z_i    [B, H, L]
    let keySum: Tensor<Scalar>          // Σ_j φ(k_j)          [B, H, d_h]     (non-causal)
    let keyValue: Tensor<Scalar>        // Σ_j φ(k_j) ⊗ v_j    [B, H, d_h, d_h] (non-causal)

    // Workspaces, one head at a time.
    let product: ChunkedCausalProduct<Scalar>?
    let runningSum: Tensor<Scalar>            // [d_h]
    let scaledOutputGradient: Tensor<Scalar>  // z_i dA_i          [L, d_h]
    let keyValueGradient: Tensor<Scalar>      // dKV               [d_h, d_h]
    let denominatorGradient: Tensor<Scalar>   // d(1/z_i)          [L]
    var hasForward = false
    /// Real positions per sequence (nil: none padded); used only by non-causal self-attention.
    public let validLengths: SequenceLengths?

    public init(shape: AttentionShape, chunk: Int = defaultCausalChunk, validLengths: SequenceLengths? = nil) {
        precondition(chunk > 0, "LinearAttention chunk must be positive, got \(chunk)")
        precondition(validLengths.map { $0.capacity >= shape.batch && $0.fullLength == shape.keyLength } ?? true,
                     "LinearAttention: validLengths must cover the batch and the key length \(shape.keyLength)")
        self.shape = shape
        self.validLengths = (!shape.causal && shape.queryLength == shape.keyLength) ? validLengths : nil
        self.chunk = chunk
        let (b, l, s, d, h, dh) = (shape.batch, shape.queryLength, shape.keyLength, shape.modelWidth,
                                   shape.heads, shape.headWidth)
        queryFeatures = Tensor(b, l, d)
        keyFeatures = Tensor(b, s, d)
        savedValues = Tensor(b, s, d)
        normaliser = Tensor(b, h, l)
        keySum = Tensor(shape: shape.causal ? [0] : [b, h, dh])
        keyValue = Tensor(shape: shape.causal ? [0] : [b, h, dh, dh])
        (product, runningSum, scaledOutputGradient, keyValueGradient, denominatorGradient) = TensorCensus.during(.workspaces) {
            (shape.causal ? ChunkedCausalProduct(chunk: min(chunk, l), keyWidth: dh, valueWidth: dh) : nil,
             Tensor(dh), Tensor(l, dh), Tensor(dh, dh), Tensor(l))
        }
    }

    // φ(x) = elu(x) + 1 is TensorKernels' `eluPlusOne` (branch-free, vectorised).
    /// φ'(x) written with y = φ(x): 1 where x > 0 (y > 1), else eˣ = y.
    @inline(__always) static func featureDerivative(_ y: Scalar) -> Scalar { y > 1 ? 1 : y }

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
        eluPlusOne(queries, into: queryFeatures.pointer, count: shape.queryElements)
        eluPlusOne(keys, into: keyFeatures.pointer, count: shape.keyElements)
        savedValues.pointer.update(from: values, count: shape.keyElements)
        let eps = Self.epsilon
        let (paddedL, paddedS, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        for b in 0..<shape.batch {
            let (l, s) = validCounts(b)
            if l < paddedL {
                (output + (b &* paddedL &+ l) &* d).update(repeating: 0, count: (paddedL &- l) &* d)
            }
            for h in 0..<shape.heads {
                let headIndex = b &* shape.heads &+ h
                let sinkRows = b &* paddedL &* d &+ h &* dh, sourceRows = b &* paddedS &* d &+ h &* dh
                let fq = UnsafePointer(queryFeatures.pointer + sinkRows)
                let fk = UnsafePointer(keyFeatures.pointer + sourceRows)
                let v = values + sourceRows
                let out = output + sinkRows
                let z = normaliser.pointer + headIndex &* paddedL
                if let product {
                    // Numerator Σ_{j≤i} (φq_i·φk_j) v_j; denominator with the running key sum.
                    product.run(reverse: false, length: l, a: fq, lda: d, b: fk, ldb: d, c: v, ldc: d,
                                into: out, ldo: d)
                    let cumK = runningSum.pointer
                    runningSum.zero()
                    for i in 0..<l {
                        addScaled(1, fk + i &* d, to: cumK, count: dh)
                        z[i] = 1 / (dot(fq + i &* d, UnsafePointer(cumK), count: dh) + eps)
                        scale(out + i &* d, by: z[i], count: dh)
                    }
                } else {
                    let sumK = keySum.pointer + headIndex &* dh
                    let kv = keyValue.pointer + headIndex &* dh &* dh
                    columnSums(fk, rows: s, width: dh, rowStride: d, into: sumK)
                    matmul(fk, transposeA: true, v, into: kv, m: dh, n: dh, k: s, lda: d, ldb: d, ldc: dh)
                    matmul(fq, UnsafePointer(kv), into: out, m: l, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
                    for i in 0..<l {
                        z[i] = 1 / (dot(fq + i &* d, UnsafePointer(sumK), count: dh) + eps)
                        scale(out + i &* d, by: z[i], count: dh)
                    }
                }
            }
        }
        hasForward = true
    }
}
