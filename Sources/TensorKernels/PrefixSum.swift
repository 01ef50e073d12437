// Inclusive prefix sums (cumulative sums) — what causal Flow-Attention and causal linear
// attention use to let position l see positions 0…l only. The reverse sums are their adjoints
// (backward passes): if y = cumsum(x) then dx = reverseCumsum(dy).
//
// Sums run sequentially along the summed axis (each element depends on the previous), vectorised
// across columns for the matrix forms. All outputs may be the same buffer as their input.

/// y[l, :] = Σ_{l' ≤ l} x[l', :]  — inclusive cumulative sum down the rows.  x, y: [rows, cols]
@inlinable
public func cumulativeSumOverRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
) {
    if rows == 0 { return }
    copy(x, into: y, count: cols)
    for l in 1..<rows {
        let previous = y + (l &- 1) &* cols, input = x + l &* cols, output = y + l &* cols
        var j = 0
        while j < cols { output[j] = previous[j] + input[j]; j &+= 1 }
    }
}

/// y[l, :] = Σ_{l' ≥ l} x[l', :]  — inclusive cumulative sum up the rows; the backward of
/// `cumulativeSumOverRows`.  x, y: [rows, cols]
@inlinable
public func reverseCumulativeSumOverRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
) {
    if rows == 0 { return }
    let last = rows &- 1
    copy(x + last &* cols, into: y + last &* cols, count: cols)
    var l = last &- 1
    while l >= 0 {
        let next = y + (l &+ 1) &* cols, input = x + l &* cols, output = y + l &* cols
        var j = 0
        while j < cols { output[j] = next[j] + input[j]; j &+= 1 }
        l &-= 1
    }
}

/// y[l] = Σ_{l' ≤ l} x[l']  — inclusive cumulative sum of a vector.  x, y: [count]
@inlinable
public func cumulativeSum<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    var running: Scalar = 0
    var l = 0
    while l < count { running += x[l]; y[l] = running; l &+= 1 }
}

/// y[l] = Σ_{l' ≥ l} x[l']  — the backward of `cumulativeSum`.  x, y: [count]
@inlinable
public func reverseCumulativeSum<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    var running: Scalar = 0
    var l = count &- 1
    while l >= 0 { running += x[l]; y[l] = running; l &-= 1 }
}
