// Reductions: whole buffers, and along one axis of a row-major [rows, cols] matrix.
//
// Floating-point addition is not associative, so a compiler may not vectorise `s += x[i]` as
// written. `laneSum` and `laneMaximum` keep eight independent partial results (lanes) that it can
// pack into SIMD registers, and combine them pairwise at the end. The summation order therefore
// differs from a left-to-right loop (results agree to rounding, and are deterministic).

/// Σ_{i<count} term(i), accumulated in eight lanes so that release builds vectorise it.
@inlinable @inline(__always)
func laneSum<Accumulator: TensorScalar>(count: Int, _ term: (Int) -> Accumulator) -> Accumulator {
    var s0: Accumulator = 0, s1: Accumulator = 0, s2: Accumulator = 0, s3: Accumulator = 0
    var s4: Accumulator = 0, s5: Accumulator = 0, s6: Accumulator = 0, s7: Accumulator = 0
    var i = 0
    while i &+ 8 <= count {
        s0 += term(i); s1 += term(i &+ 1); s2 += term(i &+ 2); s3 += term(i &+ 3)
        s4 += term(i &+ 4); s5 += term(i &+ 5); s6 += term(i &+ 6); s7 += term(i &+ 7)
        i &+= 8
    }
    var tail: Accumulator = 0
    while i < count { tail += term(i); i &+= 1 }
    return (((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))) + tail
}

/// max_{i<count} x[i] in eight lanes; −∞ when count is 0. NaNs are skipped.
@inlinable @inline(__always)
func laneMaximum<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var m0 = -Scalar.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
    var i = 0
    while i &+ 8 <= count {
        let v0 = x[i], v1 = x[i &+ 1], v2 = x[i &+ 2], v3 = x[i &+ 3]
        let v4 = x[i &+ 4], v5 = x[i &+ 5], v6 = x[i &+ 6], v7 = x[i &+ 7]
        m0 = v0 > m0 ? v0 : m0; m1 = v1 > m1 ? v1 : m1; m2 = v2 > m2 ? v2 : m2; m3 = v3 > m3 ? v3 : m3
        m4 = v4 > m4 ? v4 : m4; m5 = v5 > m5 ? v5 : m5; m6 = v6 > m6 ? v6 : m6; m7 = v7 > m7 ? v7 : m7
        i &+= 8
    }
    while i < count { let v = x[i]; m0 = v > m0 ? v : m0; i &+= 1 }
    m0 = m1 > m0 ? m1 : m0; m2 = m3 > m2 ? m3 : m2; m4 = m5 > m4 ? m5 : m4; m6 = m7 > m6 ? m7 : m6
    m0 = m2 > m0 ? m2 : m0; m4 = m6 > m4 ? m6 : m4
    return m4 > m0 ? m4 : m0
}

// MARK: - Whole buffers

/// Σᵢ x[i].  x: [count]
@inlinable @inline(__always)
public func sum<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Scalar {
    laneSum(count: count) { x[$0] }
}

/// Σᵢ a[i]·b[i].  a, b: [count]
@inlinable
public func dot<Scalar: TensorScalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, count: Int
) -> Scalar {
    laneSum(count: count) { a[$0] * b[$0] }
}

/// maxᵢ x[i]; −∞ for an empty buffer. NaNs are skipped.  x: [count]
@inlinable
public func maximum<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Scalar {
    laneMaximum(x, count: count)
}

/// Σᵢ x[i]², each term widened to and accumulated in Double (no overflow or loss for Float
/// gradients of any size).  x: [count]
@inlinable
public func sumOfSquares<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Double {
    laneSum(count: count) { (i: Int) -> Double in let v = Double(x[i]); return v * v }
}

/// The global L2 norm √(Σ_segments Σᵢ x[i]²) over several buffers (e.g. every parameter
/// gradient), accumulated in Double — the quantity gradient clipping compares with its limit.
@inlinable
public func globalL2Norm<Scalar: TensorScalar>(
    _ segments: [(pointer: UnsafePointer<Scalar>, count: Int)]
) -> Double {
    var total = 0.0
    for segment in segments { total += sumOfSquares(segment.pointer, count: segment.count) }
    return total.squareRoot()
}

/// `globalL2Norm` over mutable buffers (e.g. `Tensor.pointer` of gradients), read only.
@inlinable
public func globalL2Norm<Scalar: TensorScalar>(
    _ segments: [(pointer: UnsafeMutablePointer<Scalar>, count: Int)]
) -> Double {
    globalL2Norm(segments.map { (pointer: UnsafePointer($0.pointer), count: $0.count) })
}

// MARK: - Along an axis of x: [rows, cols]

/// out[j] = Σᵢ x[i, j]  (or out[j] += … with `accumulate`) — reduces away the rows, e.g. a bias
/// gradient db[j] += Σᵢ dy[i, j].  x: [rows, cols], out: [cols]
///
/// Rows are added one after another into `out` (vectorised across columns); for Float the
/// rounding error grows with `rows` like an ordinary running sum.
@inlinable @inline(__always)
public func sumOverRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int,
    into out: UnsafeMutablePointer<Scalar>, accumulate: Bool = false
) {
    if !accumulate { fill(out, with: 0, count: cols) }
    for i in 0..<rows {
        let row = x + i &* cols
        var j = 0
        while j < cols { out[j] += row[j]; j &+= 1 }
    }
}

/// out[j] = (1/rows) Σᵢ x[i, j]  — e.g. mean pooling over positions.  x: [rows, cols], out: [cols]
@inlinable
public func meanOverRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Scalar>
) {
    precondition(rows > 0, "meanOverRows needs at least one row")
    sumOverRows(x, rows: rows, cols: cols, into: out)
    scale(out, by: 1 / Scalar(rows), into: out, count: cols)
}

/// out[i] = Σⱼ x[i, j]  — reduces away the columns.  x: [rows, cols], out: [rows]
@inlinable
public func sumOverColumns<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Scalar>
) {
    for i in 0..<rows { out[i] = sum(x + i &* cols, count: cols) }
}

/// out[i] = (1/cols) Σⱼ x[i, j].  x: [rows, cols], out: [rows]
@inlinable
public func meanOverColumns<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Scalar>
) {
    precondition(cols > 0, "meanOverColumns needs at least one column")
    let inverse = 1 / Scalar(cols)
    for i in 0..<rows { out[i] = sum(x + i &* cols, count: cols) * inverse }
}

/// out[j] = maxᵢ x[i, j]; −∞ when rows is 0.  x: [rows, cols], out: [cols]
@inlinable
public func maxOverRows<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Scalar>
) {
    fill(out, with: -Scalar.infinity, count: cols)
    for i in 0..<rows {
        let row = x + i &* cols
        var j = 0
        while j < cols { let v = row[j]; out[j] = v > out[j] ? v : out[j]; j &+= 1 }
    }
}

/// out[i] = maxⱼ x[i, j]; −∞ when cols is 0.  x: [rows, cols], out: [rows]
@inlinable
public func maxOverColumns<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Scalar>
) {
    for i in 0..<rows { out[i] = laneMaximum(x + i &* cols, count: cols) }
}

/// out[i] = the first j with x[i, j] = maxⱼ x[i, j] (predicted class).  x: [rows, cols],
/// out: [rows]. Needs cols ≥ 1.
@inlinable
public func argmaxOverColumns<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Int32>
) {
    precondition(cols > 0, "argmaxOverColumns needs at least one column")
    for i in 0..<rows {
        let row = x + i &* cols
        var best = 0
        for j in 1..<cols where row[j] > row[best] { best = j }
        out[i] = Int32(truncatingIfNeeded: best)
    }
}
