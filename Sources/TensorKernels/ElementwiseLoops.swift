// Loop drivers for pointwise kernels whose output may be one of their inputs.
//
// LLVM vectorises `out[i] = f(a[i], b[i])` over raw pointers only after a run-time check that
// `out` lies at least one vector away from `a` and `b`. When `out` *is* `a` (an in-place call,
// distance 0) the check fails, although reading and then writing the same element is safe, and
// the loop falls back to one element at a time: geluBackward in place ran 3× slower than out of
// place. These drivers test for the in-place cases first and run, for each, a loop in which the
// compiler sees the same pointer for the output and that input, so every case vectorises.
//
// Each kernel compiles to up to four copies of its loop; only the one matching the pointers runs.
// The function applied per element must be inlined into every copy, or the loop cannot be
// vectorised at all. A closure literal is inlined only when the optimiser finds it cheap enough
// (a short expression: `{ $0 + $1 }`), which a polynomial erf or exp is not; those kernels pass a
// function object instead (`ElementFunction1`/`2`), whose `callAsFunction` is
// `@inline(__always)` and is called directly once the driver is specialised, so it is always
// inlined.

/// A pointwise function of one value, for `mapElements` (see the note at the top of the file).
@usableFromInline
protocol ElementFunction1 {
    associatedtype Scalar
    func callAsFunction(_ a: Scalar) -> Scalar
}

/// A pointwise function of two values, for `mapElements`.
@usableFromInline
protocol ElementFunction2 {
    associatedtype Scalar
    func callAsFunction(_ a: Scalar, _ b: Scalar) -> Scalar
}

/// out[i] = f(x[i]) for i < count; `out` may be `x`.
@inlinable @inline(__always)
func mapElements<F: ElementFunction1>(
    _ x: UnsafePointer<F.Scalar>, into out: UnsafeMutablePointer<F.Scalar>, count: Int, _ f: F
) {
    var i = 0
    if UnsafePointer(out) == x {
        while i < count { out[i] = f(out[i]); i &+= 1 }
    } else {
        while i < count { out[i] = f(x[i]); i &+= 1 }
    }
}

/// out[i] = f(a[i], b[i]) for i < count; `out` may be `a`, `b` or both.
@inlinable @inline(__always)
func mapElements<F: ElementFunction2>(
    _ a: UnsafePointer<F.Scalar>, _ b: UnsafePointer<F.Scalar>, into out: UnsafeMutablePointer<F.Scalar>,
    count: Int, _ f: F
) {
    let target = UnsafePointer(out)
    var i = 0
    if target == a && target == b {
        while i < count { let v = out[i]; out[i] = f(v, v); i &+= 1 }
    } else if target == a {
        while i < count { out[i] = f(out[i], b[i]); i &+= 1 }
    } else if target == b {
        while i < count { out[i] = f(a[i], out[i]); i &+= 1 }
    } else {
        while i < count { out[i] = f(a[i], b[i]); i &+= 1 }
    }
}

// MARK: - The same drivers for short closures

/// out[i] = f(x[i]) for i < count; `out` may be `x`.
@inlinable @inline(__always)
func mapElements<Scalar>(
    _ x: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int,
    _ f: (Scalar) -> Scalar
) {
    var i = 0
    if UnsafePointer(out) == x {
        while i < count { out[i] = f(out[i]); i &+= 1 }
    } else {
        while i < count { out[i] = f(x[i]); i &+= 1 }
    }
}

/// out[i] = f(a[i], b[i]) for i < count; `out` may be `a`, `b` or both.
@inlinable @inline(__always)
func mapElements<Scalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
    count: Int, _ f: (Scalar, Scalar) -> Scalar
) {
    let target = UnsafePointer(out)
    var i = 0
    if target == a && target == b {
        while i < count { let v = out[i]; out[i] = f(v, v); i &+= 1 }
    } else if target == a {
        while i < count { out[i] = f(out[i], b[i]); i &+= 1 }
    } else if target == b {
        while i < count { out[i] = f(a[i], out[i]); i &+= 1 }
    } else {
        while i < count { out[i] = f(a[i], b[i]); i &+= 1 }
    }
}

/// out[i] = f(a[i], b[i], c[i]) for i < count; `out` may be any one of the inputs.
@inlinable @inline(__always)
func mapElements<Scalar>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ c: UnsafePointer<Scalar>,
    into out: UnsafeMutablePointer<Scalar>, count: Int, _ f: (Scalar, Scalar, Scalar) -> Scalar
) {
    let target = UnsafePointer(out)
    var i = 0
    if target == a {
        while i < count { out[i] = f(out[i], b[i], c[i]); i &+= 1 }
    } else if target == b {
        while i < count { out[i] = f(a[i], out[i], c[i]); i &+= 1 }
    } else if target == c {
        while i < count { out[i] = f(a[i], b[i], out[i]); i &+= 1 }
    } else {
        while i < count { out[i] = f(a[i], b[i], c[i]); i &+= 1 }
    }
}
