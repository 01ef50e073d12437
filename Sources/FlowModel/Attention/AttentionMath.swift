import TensorKernels

// Small fused vector helpers shared by the attention cores. Vectors are `count` contiguous
// elements (one head's slice of a row). Dot products sum in eight SIMD lanes: a Float reduction
// written as a plain loop is not vectorised (strict FP order).

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

/// x_c += ε
@inline(__always)
func shiftInPlace<Scalar: TensorScalar>(_ x: UnsafeMutablePointer<Scalar>, by epsilon: Scalar, count: Int) {
    var c = 0
    while c < count { x[c] += epsilon; c &+= 1 }
}

/// y_c = clamp(x_c, −1, 1); NaN stays NaN.
@inline(__always)
func clampToUnit<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>,
                                       count: Int) {
    var c = 0
    while c < count { let v = x[c]; y[c] = v < -1 ? -1 : (v > 1 ? 1 : v); c &+= 1 }
}

/// y_c = alpha · x_c
@inline(__always)
func scaleCopy<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, by alpha: Scalar,
                                     into y: UnsafeMutablePointer<Scalar>, count: Int) {
    var c = 0
    while c < count { y[c] = alpha * x[c]; c &+= 1 }
}

/// sum_c += Σ over `rows` rows (stride `rowStride`) of `width` columns, rows added in order.
@inline(__always)
func columnSums<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, rows: Int, width: Int, rowStride: Int,
                                      accumulatingInto sum: UnsafeMutablePointer<Scalar>) {
    var row = x
    for _ in 0..<rows {
        var c = 0
        while c < width { sum[c] += row[c]; c &+= 1 }
        row += rowStride
    }
}

/// Σ_c u_c · w_c over two d_h × d_h (or any) contiguous blocks, in eight lanes.
@inline(__always)
func frobeniusProduct<Scalar: TensorScalar>(_ u: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>,
                                            count: Int) -> Scalar {
    dot(u, w, count: count)
}

/// Reads one element per 64-byte cache line of x[0 ..< count] in order and returns their sum:
/// a sequential pass that makes the hardware prefetcher bring a block into cache before a GEMM
/// reads it column block by column block (one strided miss per row and head otherwise). The
/// caller stores the result somewhere so the loads are kept.
@inline(__always)
func touchCacheLines<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, count: Int) -> Scalar {
    let step = max(1, 64 / MemoryLayout<Scalar>.stride)
    var total: Scalar = 0
    var c = 0
    while c < count { total += x[c]; c &+= step }
    return total
}

/// A [B, H, L] copy of per-position, per-head scalars stored [B, L, H] (the cores keep them
/// position-major; tests and inspection read them head-major).
func headMajorCopy<Scalar: TensorScalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    precondition(x.shape.count == 3, "headMajorCopy needs a [B, L, H] tensor, got \(x.shape)")
    let (batch, length, heads) = (x.shape[0], x.shape[1], x.shape[2])
    let result = Tensor<Scalar>(batch, heads, length)
    for b in 0..<batch {
        for i in 0..<length {
            for h in 0..<heads {
                result.pointer[(b * heads + h) * length + i] = x.pointer[(b * length + i) * heads + h]
            }
        }
    }
    return result
}

/// How many rows ahead the sweeps prefetch (`prefetchRow`): 8 rows of d_model 256 Floats are
/// 8 KiB per tensor, far enough to cover memory latency at the rate a sweep consumes rows.
let prefetchDistance = 8

/// Asks for the `count` elements at `row` to be loaded into cache, one hint per 64-byte line.
/// The sweeps over [L, D] tensors read several of them row by row; at L = 16384 those rows come
/// from memory (each tensor is 16 MiB), and the hardware prefetchers do not keep up with that
/// many streams: hinting rows a few positions ahead made the non-causal forward 9 % faster there.
@inline(__always)
func prefetchRow<Scalar>(_ row: UnsafePointer<Scalar>, count: Int) {
    let bytes = count &* MemoryLayout<Scalar>.stride
    let start = UnsafeRawPointer(row)
    var offset = 0
    while offset < bytes { prefetch(start + offset); offset &+= 64 }
}

