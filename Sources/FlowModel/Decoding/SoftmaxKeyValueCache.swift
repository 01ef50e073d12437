import TensorKernels

/// Causal softmax attention for decoding: every key and value seen so far is kept
/// (`keys`, `values` [capacity, D]) and new rows attend to all of them,
///
///     P_i = softmax_{j ≤ p+i}(q_i·k_j / √d_h),   A_i = Σ_j P_ij v_j
///
/// so a generated token costs O(position · D): the baseline that the recurrent states beat.
final class SoftmaxKeyValueCache<Scalar: TensorScalar>: AttentionDecodingState {
    let modelWidth: Int, heads: Int, headWidth: Int, maxRows: Int, capacity: Int
    private(set) var position = 0

    let keys: Tensor<Scalar>     // k of every position so far   [capacity, D]
    let values: Tensor<Scalar>   // v of every position so far   [capacity, D]
    let scores: Tensor<Scalar>   // one head's scores, then P    [maxRows, capacity]

    init(modelWidth d: Int, heads h: Int, maxRows: Int, capacity: Int) {
        precondition(maxRows > 0 && capacity > 0 && h > 0 && d % h == 0,
                     "SoftmaxKeyValueCache: bad sizes D=\(d) H=\(h) rows=\(maxRows) capacity=\(capacity)")
        modelWidth = d
        heads = h
        headWidth = d / h
        self.maxRows = maxRows
        self.capacity = capacity
        keys = Tensor(capacity, d)
        values = Tensor(capacity, d)
        scores = Tensor(maxRows, capacity)
    }

    func reset() { position = 0 }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func append(queries q: UnsafePointer<Scalar>, keys k: UnsafePointer<Scalar>, values v: UnsafePointer<Scalar>,
                rows: Int, output out: UnsafeMutablePointer<Scalar>) {
        precondition(rows >= 1 && rows <= maxRows, "append: \(rows) rows for blocks of at most \(maxRows)")
        precondition(position + rows <= capacity, "append: positions beyond the cache's \(capacity)")
        let (d, dh) = (modelWidth, headWidth)
        (keys.pointer + position &* d).update(from: k, count: rows &* d)
        (values.pointer + position &* d).update(from: v, count: rows &* d)
        let seen = position &+ rows, p = scores.pointer
        let scoreScale = 1 / Scalar.sqrt(Scalar(dh))
        for h in 0..<heads {
            let o = h &* dh
            // scores [rows, seen] = q kᵀ / √d_h; row r sees keys 0 … position + r.
            matmul(q + o, UnsafePointer(keys.pointer + o), transposeB: true, into: p, m: rows, n: seen, k: dh,
                   lda: d, ldb: d, ldc: seen, alpha: scoreScale)
            causalSoftmaxRows(p, into: p, rows: rows, cols: seen, offset: position)
            matmul(UnsafePointer(p), UnsafePointer(values.pointer + o), into: out + o, m: rows, n: dh, k: seen,
                   lda: seen, ldb: d, ldc: d)
        }
        position = seen
    }
}
