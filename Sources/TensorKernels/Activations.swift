// Pointwise activations and their backward passes. Backward kernels write dx (they do not add).
// All buffers are flat [count]; an output may be the same buffer as an input.

// MARK: - Sigmoid (Flow-Attention's competition gate)

/// y = σ(x) = 1 / (1 + e^(−x)). Saturates towards 0 and 1 for large |x| (Float gives exactly
/// 0 below about −88.7 and 1 above about 17) and is never NaN or ±∞ for finite x.  x, y: [count]
@inlinable
public func sigmoid<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    var i = 0
    while i < count { y[i] = 1 / (1 + Scalar.fastExp(-x[i])); i &+= 1 }
}

/// dx = dy · σ'(x) = dy · y · (1 − y), from the forward output y = σ(x).  y, dy, dx: [count]
@inlinable
public func sigmoidBackward<Scalar: TensorScalar>(
    output y: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    var i = 0
    while i < count { let s = y[i]; dx[i] = dy[i] * s * (1 - s); i &+= 1 }
}

// MARK: - elu(x) + 1 (feature map of linear attention, Katharopoulos et al. 2020)

/// y = elu(x) + 1 = x + 1 for x > 0, eˣ otherwise (positive everywhere).  x, y: [count]
@inlinable
public func eluPlusOne<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    var i = 0
    while i < count {
        let v = x[i]
        let negativeSide = Scalar.fastExp(v < 0 ? v : 0)  // eˣ, evaluated only where it is used
        y[i] = v > 0 ? v + 1 : negativeSide
        i &+= 1
    }
}

/// dx = dy · d(elu(x)+1)/dx, with the derivative 1 for x > 0 and eˣ otherwise.
/// x, dy, dx: [count]
@inlinable
public func eluPlusOneBackward<Scalar: TensorScalar>(
    input x: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    var i = 0
    while i < count {
        let v = x[i]
        let derivative = v > 0 ? 1 : Scalar.fastExp(v < 0 ? v : 0)
        dx[i] = dy[i] * derivative
        i &+= 1
    }
}

// MARK: - GELU, exact form

/// y = GELU(x) = x · Φ(x) = x · ½ · (1 + erf(x/√2)) — the exact (erf) form, not the tanh
/// approximation.  x, y: [count]
@inlinable
public func gelu<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    let inverseSqrt2: Scalar = 0.70710678118654752440
    var i = 0
    while i < count {
        let v = x[i]
        y[i] = v * (0.5 + 0.5 * Scalar.fastErf(v * inverseSqrt2))
        i &+= 1
    }
}

/// dx = dy · GELU'(x) = dy · (Φ(x) + x·φ(x)), with φ(x) = e^(−x²/2)/√(2π) the standard normal
/// density.  x, dy, dx: [count]
@inlinable
public func geluBackward<Scalar: TensorScalar>(
    input x: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    let inverseSqrt2: Scalar = 0.70710678118654752440
    let inverseSqrt2Pi: Scalar = 0.39894228040143267794
    var i = 0
    while i < count {
        let v = x[i]
        let cdf = 0.5 + 0.5 * Scalar.fastErf(v * inverseSqrt2)
        let density = inverseSqrt2Pi * Scalar.fastExp(-0.5 * v * v)
        dx[i] = dy[i] * (cdf + v * density)
        i &+= 1
    }
}
