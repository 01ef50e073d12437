// Pointwise activations and their backward passes. Backward kernels write dx (they do not add).
// All buffers are flat [count]; an output may be the same buffer as an input (`mapElements`
// keeps that case vectorised). Each activation's per-element math is a small function object
// (`…Function`), so that it is always inlined into the loop (ElementwiseLoops.swift).

// MARK: - Sigmoid (Flow-Attention's competition gate)

/// y = σ(x) = 1 / (1 + e^(−x)). Saturates towards 0 and 1 for large |x| (Float gives exactly
/// 0 below about −88.7 and 1 above about 17) and is never NaN or ±∞ for finite x.  x, y: [count]
@inlinable @inline(__always)
public func sigmoid<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, into: y, count: count, SigmoidFunction<Scalar>())
}

/// σ(x) = 1 / (1 + e^(−x)) of one element.
@usableFromInline
struct SigmoidFunction<Scalar: TensorScalar>: ElementFunction1 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ x: Scalar) -> Scalar { 1 / (1 + Scalar.fastExp(-x)) }
}

/// dx = dy · σ'(x) = dy · y · (1 − y), from the forward output y = σ(x).  y, dy, dx: [count]
@inlinable
public func sigmoidBackward<Scalar: TensorScalar>(
    output y: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(y, dy, into: dx, count: count) { s, g in g * s * (1 - s) }
}

// MARK: - elu(x) + 1 (feature map of linear attention, Katharopoulos et al. 2020)

/// y = elu(x) + 1 = x + 1 for x > 0, eˣ otherwise (positive everywhere).  x, y: [count]
@inlinable
public func eluPlusOne<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, into: y, count: count, ELUPlusOneFunction<Scalar>())
}

/// elu(x) + 1 of one element.
@usableFromInline
struct ELUPlusOneFunction<Scalar: TensorScalar>: ElementFunction1 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ v: Scalar) -> Scalar {
        let negativeSide = Scalar.fastExp(v < 0 ? v : 0)  // eˣ, evaluated only where it is used
        return v > 0 ? v + 1 : negativeSide
    }
}

/// dx = dy · d(elu(x)+1)/dx, with the derivative 1 for x > 0 and eˣ otherwise.
/// x, dy, dx: [count]
@inlinable
public func eluPlusOneBackward<Scalar: TensorScalar>(
    input x: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, dy, into: dx, count: count, ELUPlusOneBackwardFunction<Scalar>())
}

/// dy · d(elu(x)+1)/dx of one element.
@usableFromInline
struct ELUPlusOneBackwardFunction<Scalar: TensorScalar>: ElementFunction2 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ v: Scalar, _ g: Scalar) -> Scalar {
        let derivative = v > 0 ? 1 : Scalar.fastExp(v < 0 ? v : 0)
        return g * derivative
    }
}

// MARK: - GELU, exact form

/// y = GELU(x) = x · Φ(x) = x · ½ · (1 + erf(x/√2)) — the exact (erf) form, not the tanh
/// approximation.  x, y: [count]
@inlinable
public func gelu<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, into: y, count: count, GELUFunction<Scalar>())
}

/// x · ½ · (1 + erf(x/√2)) of one element.
@usableFromInline
struct GELUFunction<Scalar: TensorScalar>: ElementFunction1 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ v: Scalar) -> Scalar {
        let inverseSqrt2: Scalar = 0.70710678118654752440
        return v * (0.5 + 0.5 * Scalar.fastErf(v * inverseSqrt2))
    }
}

/// dx = dy · GELU'(x) = dy · (Φ(x) + x·φ(x)), with φ(x) = e^(−x²/2)/√(2π) the standard normal
/// density.  x, dy, dx: [count]
///
/// One `fastErfAndGaussian(x/√2)` gives both Φ (through erf) and e^(−x²/2) (the exponential that
/// erf's tail branch computes anyway), so the backward costs one exp, not two.
@inlinable
public func geluBackward<Scalar: TensorScalar>(
    input x: UnsafePointer<Scalar>, outputGradient dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
) {
    mapElements(x, dy, into: dx, count: count, GELUBackwardFunction<Scalar>())
}

/// dy · (Φ(x) + x·φ(x)) of one element.
@usableFromInline
struct GELUBackwardFunction<Scalar: TensorScalar>: ElementFunction2 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ v: Scalar, _ g: Scalar) -> Scalar { g * GELUDerivativeFunction<Scalar>()(v) }
}

/// GELU forward that also writes its derivative, for a backward that is one multiply:
///
///     y[i] = x[i] · Φ(x[i]),     derivative[i] = Φ(x[i]) + x[i] · φ(x[i])
///
/// then `multiply(dy, derivative, into: dx, count:)` is GELU's backward (bitwise what
/// `geluBackward` computes: the same two values, multiplied the same way). The derivative costs
/// the forward three more operations (erf's tail already computes e^(−x²/2)), where
/// `geluBackward` recomputes erf and the exponential: about 45 % of GELU's forward-plus-backward
/// time. `derivative` may be `x` (the pre-activation is needed for nothing else); `y` must not
/// overlap x or derivative.  x, y, derivative: [count]
@inlinable @inline(__always)
public func gelu<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>,
    derivative: UnsafeMutablePointer<Scalar>, count: Int
) {
    geluWithSlope(x, into: ScalarOutput(values: y), derivative: derivative, count: count)
}

/// `gelu(_:into:derivative:count:)` whose output is stored as bf16 bit patterns (nearest even),
/// for an output that only feeds bf16 products (fc2): the bits equal rounding the Float output,
/// written in half the bytes. `derivative` may be `x`.  x, derivative: [count]; y: [count] bf16
@inlinable @inline(__always)
public func gelu(
    _ x: UnsafePointer<Float>, intoBFloat16 y: UnsafeMutablePointer<UInt16>,
    derivative: UnsafeMutablePointer<Float>, count: Int
) {
    geluWithSlope(x, into: BFloat16Output(bits: y), derivative: derivative, count: count)
}

/// Where an elementwise kernel's values go: Scalars, or bf16 bit patterns.
@usableFromInline
protocol ElementOutput {
    associatedtype Scalar: TensorScalar
    func store(_ value: Scalar, at i: Int)
}

/// Values stored as they are.
@usableFromInline
struct ScalarOutput<Scalar: TensorScalar>: ElementOutput {
    @usableFromInline let values: UnsafeMutablePointer<Scalar>
    @inlinable @inline(__always) init(values: UnsafeMutablePointer<Scalar>) { self.values = values }
    @inlinable @inline(__always) func store(_ value: Scalar, at i: Int) { values[i] = value }
}

/// Floats stored as bf16 bit patterns (nearest even).
@usableFromInline
struct BFloat16Output: ElementOutput {
    @usableFromInline let bits: UnsafeMutablePointer<UInt16>
    @inlinable @inline(__always) init(bits: UnsafeMutablePointer<UInt16>) { self.bits = bits }
    @inlinable @inline(__always) func store(_ value: Float, at i: Int) {
        bits[i] = BFloat16.bits(roundingToNearestEven: value)
    }
}

/// GELU into `output` and its slope into `derivative` (which may be x), one loop per aliasing
/// case so that both vectorise (see ElementwiseLoops.swift).
@inlinable @inline(__always)
func geluWithSlope<Output: ElementOutput>(
    _ x: UnsafePointer<Output.Scalar>, into output: Output, derivative: UnsafeMutablePointer<Output.Scalar>,
    count: Int
) {
    let value = GELUFunction<Output.Scalar>(), slope = GELUDerivativeFunction<Output.Scalar>()
    var i = 0
    if UnsafePointer(derivative) == x {
        while i < count {
            let v = derivative[i]
            output.store(value(v), at: i)
            derivative[i] = slope(v)
            i &+= 1
        }
    } else {
        while i < count {
            let v = x[i]
            output.store(value(v), at: i)
            derivative[i] = slope(v)
            i &+= 1
        }
    }
}

/// GELU'(x) = Φ(x) + x·φ(x) of one element.
@usableFromInline
struct GELUDerivativeFunction<Scalar: TensorScalar>: ElementFunction1 {
    @inlinable init() {}
    @inlinable @inline(__always)
    func callAsFunction(_ v: Scalar) -> Scalar {
        let inverseSqrt2: Scalar = 0.70710678118654752440
        let inverseSqrt2Pi: Scalar = 0.39894228040143267794
        let (erf, gaussian) = Scalar.fastErfAndGaussian(v * inverseSqrt2)  // e^(−(v/√2)²) = e^(−v²/2)
        let cdf = 0.5 + 0.5 * erf
        let density = inverseSqrt2Pi * gaussian
        return cdf + v * density
    }
}
