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
///
/// `run` does a whole sequence. The attention cores instead call `chunkStep` and
/// `accumulateState` one chunk at a time, interleaved with their own per-position work on the same
/// rows while those are in cache, with one state per head that they keep themselves.
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
        let state = self.state.pointer
        for step in 0..<chunkCount {
            let index = reverse ? chunkCount - 1 - step : step
            let start = index * chunk
            let rows = min(chunk, length - start)
            let aChunk = a + start * lda, bChunk = b + start * ldb, cChunk = c + start * ldc
            chunkStep(reverse: reverse, rows: rows, a: aChunk, lda: lda, b: bChunk, ldb: ldb, c: cChunk, ldc: ldc,
                      state: step > 0 ? UnsafePointer(state) : nil, into: out + start * ldo, ldo: ldo,
                      accumulate: accumulate)
            // State += b_chunkᵀ · c_chunk (not needed after the last chunk)
            if step < chunkCount - 1 {
                accumulateState(rows: rows, b: bChunk, ldb: ldb, c: cChunk, ldc: ldc, into: state, reset: step == 0)
            }
        }
    }

    /// One chunk of `rows` ≤ `chunk` rows (the pointers point at the chunk's first row):
    ///
    ///     out (+)= a · State           State [keyWidth, valueWidth], or with `stateTransposed`
    ///                                  its transpose stored [valueWidth, keyWidth]; nil: no term
    ///     out  += mask(a · bᵀ) · c      j ≤ i (forward) or j ≥ i (reverse) within the chunk
    ///
    /// With `accumulate` both terms are added to `out`, otherwise the first overwrites it.
    func chunkStep(reverse: Bool, rows: Int,
                   a: UnsafePointer<Scalar>, lda: Int,
                   b: UnsafePointer<Scalar>, ldb: Int,
                   c: UnsafePointer<Scalar>, ldc: Int,
                   state: UnsafePointer<Scalar>?, stateTransposed: Bool = false,
                   into out: UnsafeMutablePointer<Scalar>, ldo: Int, accumulate: Bool) {
        precondition(rows > 0 && rows <= chunk, "chunkStep: \(rows) rows for chunks of \(chunk)")
        let s = scores.pointer
        var beta: Scalar = accumulate ? 1 : 0
        if let state {
            // out_chunk (+)= a_chunk · State
            matmul(a, state, transposeB: stateTransposed, into: out, m: rows, n: valueWidth, k: keyWidth,
                   lda: lda, ldb: stateTransposed ? keyWidth : valueWidth, ldc: ldo, beta: beta)
            beta = 1
        }
        // scores = a_chunk · b_chunkᵀ  [rows, rows], then keep j ≤ i (forward) or j ≥ i (reverse).
        matmul(a, b, transposeB: true, into: s, m: rows, n: rows, k: keyWidth, lda: lda, ldb: ldb, ldc: rows)
        for i in 0..<rows {
            let row = s + i &* rows
            if reverse {
                row.update(repeating: 0, count: i)
            } else {
                (row + (i &+ 1)).update(repeating: 0, count: rows &- i &- 1)
            }
        }
        // out_chunk (+)= scores · c_chunk
        matmul(s, c, into: out, m: rows, n: valueWidth, k: rows, lda: rows, ldb: ldc, ldc: ldo, beta: beta)
    }

    /// State (+)= bᵀ · c over `rows` rows: State [keyWidth, valueWidth] is overwritten with
    /// `reset`, added to otherwise.
    func accumulateState(rows: Int, b: UnsafePointer<Scalar>, ldb: Int, c: UnsafePointer<Scalar>, ldc: Int,
                         into state: UnsafeMutablePointer<Scalar>, reset: Bool) {
        matmul(b, transposeA: true, c, into: state, m: keyWidth, n: valueWidth, k: rows, lda: ldb, ldb: ldc,
               ldc: valueWidth, beta: reset ? 0 : 1)
    }
}
