import TensorKernels

/// What one attention layer remembers about the tokens a sequence has seen so far, so that new
/// tokens can be attended without running the earlier ones again (one sequence, batch 1).
///
///     append(q, k, v)[rows, D] for positions p ..< p + rows  →  out [rows, D]
///
/// equals rows p ..< p + rows of the causal core's output on the whole sequence (up to
/// rounding). Causal flow and linear attention keep a fixed-size state per head (prefix sums and
/// a d_h × d_h aggregation), so each appended token costs the same at any position; softmax keeps
/// every key and value (`SoftmaxKeyValueCache`), so its cost grows with the position.
///
/// States allocate everything at `init` for blocks of at most `maxRows` positions;
/// `append` allocates nothing.
protocol AttentionDecodingState<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar

    /// Positions appended since the last `reset` (0-based index of the next one).
    var position: Int { get }

    /// Forgets every position.
    func reset()

    /// Attends `rows` ≤ `maxRows` new positions: q, k, v and out are [rows, D], row-major.
    func append(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>, values: UnsafePointer<Scalar>,
                rows: Int, output: UnsafeMutablePointer<Scalar>)
}

/// The decoding state of a causal `kind` core with `heads` heads over width `modelWidth`.
///
/// - Parameters:
///   - maxRows: most positions per `append` (the prompt's chunk length).
///   - capacity: most positions in all (the softmax cache's size; the recurrent states ignore it).
func makeDecodingState<Scalar: TensorScalar>(
    _ kind: AttentionKind, modelWidth: Int, heads: Int, maxRows: Int, capacity: Int, scalar: Scalar.Type = Scalar.self
) -> any AttentionDecodingState<Scalar> {
    switch kind {
    case .flow: return CausalFlowDecodingState<Scalar>(modelWidth: modelWidth, heads: heads, maxRows: maxRows)
    case .linear: return LinearDecodingState<Scalar>(modelWidth: modelWidth, heads: heads, maxRows: maxRows)
    case .softmax:
        return SoftmaxKeyValueCache<Scalar>(modelWidth: modelWidth, heads: heads, maxRows: maxRows, capacity: capacity)
    }
}
