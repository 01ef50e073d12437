import TensorKernels

// Small fused vector helpers shared by the attention cores. Vectors are `count` contiguous
// elements (one head's slice of a row). Sums use four accumulators so that Float loops vectorise.

/// σ(x) = 1 / (1 + e^(−x)); saturates to 0 or 1 without NaN for large |x|.
@inline(__always)
func logisticSigmoid<Scalar: TensorScalar>(_ x: Scalar) -> Scalar {
    1 / (1 + Scalar.exp(-x))
}

/// Σ_c u_c · w_c
@inline(__always)
func dot<Scalar: TensorScalar>(_ u: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var s0: Scalar = 0, s1: Scalar = 0, s2: Scalar = 0, s3: Scalar = 0
    var c = 0
    while c &+ 4 <= count {
        s0 += u[c] * w[c]
        s1 += u[c &+ 1] * w[c &+ 1]
        s2 += u[c &+ 2] * w[c &+ 2]
        s3 += u[c &+ 3] * w[c &+ 3]
        c &+= 4
    }
    while c < count { s0 += u[c] * w[c]; c &+= 1 }
    return (s0 + s1) + (s2 + s3)
}

/// Σ_c (u_c + ε) · w_c — the "(u + ε)·(w + ε)" of the flow equations with w already shifted.
@inline(__always)
func shiftedDot<Scalar: TensorScalar>(_ u: UnsafePointer<Scalar>, plus epsilon: Scalar,
                                      _ w: UnsafePointer<Scalar>, count: Int) -> Scalar {
    var s0: Scalar = 0, s1: Scalar = 0, s2: Scalar = 0, s3: Scalar = 0
    var c = 0
    while c &+ 4 <= count {
        s0 += (u[c] + epsilon) * w[c]
        s1 += (u[c &+ 1] + epsilon) * w[c &+ 1]
        s2 += (u[c &+ 2] + epsilon) * w[c &+ 2]
        s3 += (u[c &+ 3] + epsilon) * w[c &+ 3]
        c &+= 4
    }
    while c < count { s0 += (u[c] + epsilon) * w[c]; c &+= 1 }
    return (s0 + s1) + (s2 + s3)
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
