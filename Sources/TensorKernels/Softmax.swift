// Softmax along the rows of a row-major [rows, cols] matrix, and its backward pass.

/// y[i, j] = e^(x[i, j] − mᵢ) / Σₖ e^(x[i, k] − mᵢ), mᵢ = maxₖ x[i, k] (subtracting the row
/// maximum keeps every exponent ≤ 0, so nothing overflows).  x, y: [rows, cols]; y may be x.
@inlinable
public func softmaxRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
) {
    for i in 0..<rows {
        softmaxRow(x + i &* cols, into: y + i &* cols, count: cols)
    }
}

/// Causal (lower-triangular) softmax: row i is a softmax over its first
/// vᵢ = min(cols, i + 1 + offset) columns, and y[i, j] = 0 for j ≥ vᵢ. With offset 0 and
/// rows = cols, query i attends to keys 0…i; offset = cols − rows aligns the last query with the
/// last key. The backward pass is `softmaxRowsBackward` (masked entries have y = 0, so their
/// gradient is 0).  x, y: [rows, cols]; y may be x. Masked x entries are never read.
@inlinable
public func causalSoftmaxRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int,
    offset: Int = 0
) {
    precondition(offset >= 0, "causalSoftmaxRows: offset must be ≥ 0 (every row sees a key), got \(offset)")
    for i in 0..<rows {
        let visible = min(cols, i &+ 1 &+ offset)
        let outRow = y + i &* cols
        softmaxRow(x + i &* cols, into: outRow, count: visible)
        fill(outRow + visible, with: 0, count: cols &- visible)
    }
}

/// One row: y = softmax(x).  x, y: [count]
@inlinable @inline(__always)
func softmaxRow<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    let rowMax = laneMaximum(x, count: count)
    var j = 0
    while j < count { y[j] = Scalar.fastExp(x[j] - rowMax); j &+= 1 }
    let inverseSum = 1 / laneSum(count: count) { y[$0] }
    j = 0
    while j < count { y[j] *= inverseSum; j &+= 1 }
}

/// Backward of a row softmax from its output y: dx[i, j] = y[i, j] · (dy[i, j] − Σₖ dy[i, k]·y[i, k]).
/// y, dy, dx: [rows, cols]; dx may be dy.
@inlinable
public func softmaxRowsBackward<Scalar: TensorScalar>(
    output y: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
) {
    for i in 0..<rows {
        let yRow = y + i &* cols, dyRow = dy + i &* cols, dxRow = dx + i &* cols
        let projection = dot(dyRow, yRow, count: cols)
        var j = 0
        while j < cols { dxRow[j] = yRow[j] * (dyRow[j] - projection); j &+= 1 }
    }
}
