import TensorKernels

/// The causal "linear attention" product, computed in chunks at GEMM speed:
///
///     forward:  out_i = Σ_{j ≤ i} (a_i · b_j) c_j        = a_i ᵀ · Σ_{j ≤ i} b_j ⊗ c_j
///     reverse:  out_i = Σ_{j ≥ i} (a_i · b_j) c_j        (the adjoint direction, for backward)
///
/// for rows a_i, b_j of width `keyWidth` and c_j, out_i of width `valueWidth`, i, j < length.
/// Positions are cut into chunks of `chunk` rows. For each chunk (in order, or in reverse order)
///
///     out_chunk  = a_chunk · State                       the earlier (later) chunks
///     out_chunk += mask(a_chunk · b_chunkᵀ) · c_chunk     inside the chunk, lower (upper) triangle
///     State     += b_chunkᵀ · c_chunk                     State is keyWidth × valueWidth
///
/// so no length × keyWidth × valueWidth prefix tensor exists: the extra memory is one
/// chunk × chunk score block and one keyWidth × valueWidth state, and the work is
/// O(length · (chunk + valueWidth) · keyWidth) in BLAS calls. The result does not depend on
/// `chunk` beyond rounding.
final class ChunkedCausalProduct<Scalar: TensorScalar> {
    let chunk: Int
    let keyWidth: Int
    let valueWidth: Int
    private let scores: Tensor<Scalar>  // [chunk, chunk]
    private let state: Tensor<Scalar>   // [keyWidth, valueWidth]

    init(chunk: Int, keyWidth: Int, valueWidth: Int) {
        precondition(chunk > 0, "causal chunk length must be positive, got \(chunk)")
        self.chunk = chunk
        self.keyWidth = keyWidth
        self.valueWidth = valueWidth
        scores = Tensor(chunk, chunk)
        state = Tensor(keyWidth, valueWidth)
    }

    /// Computes the product over `length` rows. Row r of a is `a + r·lda` (likewise b, c, out).
    /// With `accumulate` the result is added to `out`, otherwise it overwrites it.
    /// `out` must not overlap a, b or c.
    func run(reverse: Bool, length: Int,
             a: UnsafePointer<Scalar>, lda: Int,
             b: UnsafePointer<Scalar>, ldb: Int,
             c: UnsafePointer<Scalar>, ldc: Int,
             into out: UnsafeMutablePointer<Scalar>, ldo: Int,
             accumulate: Bool = false) {
        let chunkCount = (length + chunk - 1) / chunk
        let s = scores.pointer
        let state = self.state.pointer
        for step in 0..<chunkCount {
            let index = reverse ? chunkCount - 1 - step : step
            let start = index * chunk
            let rows = min(chunk, length - start)
            let aChunk = a + start * lda, bChunk = b + start * ldb, cChunk = c + start * ldc
            let outChunk = out + start * ldo
            var beta: Scalar = accumulate ? 1 : 0
            if step > 0 {
                // out_chunk (+)= a_chunk · State
                matmul(aChunk, state, into: outChunk, m: rows, n: valueWidth, k: keyWidth,
                       lda: lda, ldb: valueWidth, ldc: ldo, beta: beta)
                beta = 1
            }
            // scores = a_chunk · b_chunkᵀ  [rows, rows], then keep j ≤ i (forward) or j ≥ i (reverse).
            matmul(aChunk, bChunk, transposeB: true, into: s, m: rows, n: rows, k: keyWidth,
                   lda: lda, ldb: ldb, ldc: rows)
            for i in 0..<rows {
                let row = s + i &* rows
                if reverse {
                    for j in 0..<i { row[j] = 0 }
                } else {
                    for j in (i &+ 1)..<rows { row[j] = 0 }
                }
            }
            // out_chunk (+)= scores · c_chunk
            matmul(s, cChunk, into: outChunk, m: rows, n: valueWidth, k: rows,
                   lda: rows, ldb: ldc, ldc: ldo, beta: beta)
            // State += b_chunkᵀ · c_chunk (not needed after the last chunk)
            if step < chunkCount - 1 {
                matmul(bChunk, transposeA: true, cChunk, into: state, m: keyWidth, n: valueWidth,
                       k: rows, lda: ldb, ldb: ldc, ldc: valueWidth, beta: step == 0 ? 0 : 1)
            }
        }
    }
}
