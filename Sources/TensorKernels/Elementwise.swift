// Elementwise kernels over flat buffers. Every function takes raw pointers and an explicit element
// count; outputs may be the same buffer as an input (in-place), never a partial overlap.
// Loops index with `&+` so release builds vectorise them; kernels that may run in place go
// through `mapElements` (ElementwiseLoops.swift), which keeps the in-place case vectorised too.

/// out[i] = a[i] + b[i].  a, b, out: [count]
@inlinable @inline(__always)
public func add<Scalar: TensorScalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(a, b, into: out, count: count) { $0 + $1 }
}

/// out[i] = a[i] − b[i].  a, b, out: [count]
@inlinable
public func subtract<Scalar: TensorScalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(a, b, into: out, count: count) { $0 - $1 }
}

/// out[i] = a[i] · b[i].  a, b, out: [count]
@inlinable @inline(__always)
public func multiply<Scalar: TensorScalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(a, b, into: out, count: count) { $0 * $1 }
}

/// out[i] = α · x[i].  x, out: [count]
@inlinable
public func scale<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, by alpha: Scalar,
    into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, into: out, count: count) { alpha * $0 }
}

/// y[i] += α · x[i]  (BLAS axpy).  x, y: [count]
@inlinable
public func axpy<Scalar: TensorScalar>(
    _ alpha: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, count: Int
) {
    var i = 0
    while i < count { y[i] += alpha * x[i]; i &+= 1 }
}

/// x[i, j] += bias[j]  — a Linear layer's bias after its matmul.  x: [rows, cols], bias: [cols]
///
/// The gradient counterpart is `sumOverRows(dy, …, accumulate: true)`: dbias[j] += Σᵢ dy[i, j].
@inlinable
public func addBiasToRows<Scalar: TensorScalar>(
    _ bias: UnsafePointer<Scalar>, to x: UnsafeMutablePointer<Scalar>, rows: Int, cols: Int
) {
    for i in 0..<rows {
        let row = x + i &* cols
        var j = 0
        while j < cols { row[j] += bias[j]; j &+= 1 }
    }
}

/// out[i] = x[i].  x, out: [count] (the same buffer is a no-op; partial overlap is not allowed)
@inlinable
public func copy<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    if count > 0 && UnsafePointer(out) != x { out.update(from: x, count: count) }
}

/// x[i] = value.  x: [count]
@inlinable @inline(__always)
public func fill<Scalar: TensorScalar>(
    _ x: UnsafeMutablePointer<Scalar>, with value: Scalar, count: Int
) {
    if count > 0 { x.update(repeating: value, count: count) }
}

/// out[i] = e^(x[i]) through `Scalar.fastExp` (the vectorised polynomial for Float).
/// x, out: [count]
@inlinable
public func exponential<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, into: out, count: count, ShiftedExponentialFunction(shift: 0))
}

/// e^(x − shift) of one element (softmax and cross-entropy subtract the row maximum).
@usableFromInline
struct ShiftedExponentialFunction<Scalar: TensorScalar>: ElementFunction1 {
    @usableFromInline let shift: Scalar
    @inlinable init(shift: Scalar) { self.shift = shift }
    @inlinable @inline(__always)
    func callAsFunction(_ x: Scalar) -> Scalar { Scalar.fastExp(x - shift) }
}
