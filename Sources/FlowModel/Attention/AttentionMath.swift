import TensorKernels

// Small fused vector helpers shared by the attention cores. Vectors are `count` contiguous
// elements (one head's slice of a row). Dot products sum in eight SIMD lanes: a Float reduction
// written as a plain loop is not vectorised (strict FP order).

/// σ(x) = 1 / (1 + e^(−x)); saturates to 0 or 1 without NaN for large |x|.
@inline(__always)
func logisticSigmoid<Scalar: TensorScalar>(_ x: Scalar) -> Scalar {
    1 / (1 + Scalar.exp(-x))
}

/// Loads 8 consecutive elements (no alignment needed).
@inline(__always)
func load8<Scalar: TensorScalar>(_ p: UnsafePointer<Scalar>) -> SIMD8<Scalar> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Scalar>.self)
}

/// Σ_c u_c · w_c, in eight lanes (a head's width is normally a multiple of 8).
@inline(__always)
func dot<Scalar: TensorScalar>(_ u: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var lanes = SIMD8<Scalar>()
    var c = 0
    while c &+ 8 <= count {
        lanes += load8(u + c) * load8(w + c)
        c &+= 8
    }
    var total = lanes.sum()
    while c < count { total += u[c] * w[c]; c &+= 1 }
    return total
}

/// Σ_c (u_c + ε) · w_c — the "(u + ε)·(w + ε)" of the flow equations with w already shifted.
@inline(__always)
func shiftedDot<Scalar: TensorScalar>(_ u: UnsafePointer<Scalar>, plus epsilon: Scalar,
                                      _ w: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var lanes = SIMD8<Scalar>()
    let shift = SIMD8<Scalar>(repeating: epsilon)
    var c = 0
    while c &+ 8 <= count {
        lanes += (load8(u + c) + shift) * load8(w + c)
        c &+= 8
    }
    var total = lanes.sum()
    while c < count { total += (u[c] + epsilon) * w[c]; c &+= 1 }
    return total
}

/// y_c += alpha · x_c
@inline(__always)
func addScaled<Scalar: TensorScalar>(_ alpha: Scalar, _ x: UnsafePointer<Scalar>,
                                     to y: UnsafeMutablePointer<Scalar>, count: Int) {
    for c in 0..<count { y[c] += alpha * x[c] }
}

/// y_c = x_c + ε
@inline(__always)
func shiftCopy<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, plus epsilon: Scalar,
                                     into y: UnsafeMutablePointer<Scalar>, count: Int) {
    for c in 0..<count { y[c] = x[c] + epsilon }
}

/// y_c *= alpha
@inline(__always)
func scale<Scalar: TensorScalar>(_ y: UnsafeMutablePointer<Scalar>, by alpha: Scalar, count: Int) {
    for c in 0..<count { y[c] *= alpha }
}

/// Σ over `rows` rows (stride `rowStride`) of `width` columns into `sum` (overwritten).
@inline(__always)
func columnSums<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, rows: Int, width: Int,
                                      rowStride: Int, into sum: UnsafeMutablePointer<Scalar>) {
    sum.update(repeating: 0, count: width)
    var row = x
    for _ in 0..<rows {
        for c in 0..<width { sum[c] += row[c] }
        row += rowStride
    }
}

/// Writes σ(x) for `count` contiguous elements.
@inline(__always)
func applySigmoid<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>,
                                        count: Int) {
    for e in 0..<count { y[e] = logisticSigmoid(x[e]) }
}
