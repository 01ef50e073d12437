// Exact, order-independent sums of Float terms: fixed point in Int64 with one exponent per group.
//
// A group (a parameter tensor) of terms x (Float) shares a quantum 2^e. Each term becomes
//
//     q = roundToNearestEven(x · 2^−e)                                  (an Int64)
//
// computed exactly: Double(x) is exact, · 2^−e is exact (a power of two, no underflow or
// overflow for |x| ∈ [2^−149, 2^128) and e ∈ exponentRange), and the rounding to an integer is
// the "magic number" add: for |y| < 2^51, y + 1.5·2^52 lands in [2^52, 2^53) where the spacing of
// doubles is 1, so the add rounds y to the nearest integer (ties to even) and the integer sits in
// the low bits of the sum's bit pattern: q = bits(y + 1.5·2^52) − bits(1.5·2^52). Plain adds and
// integer subtracts: the loops vectorise at every kernel level, and no conversion can trap.
//
// Terms are then added as integers (`&+`), which is exact and associative as long as no partial
// sum leaves Int64: every term is kept to |q| ≤ 2^termBits with termBits = min(50, 62 − ⌈log₂ n⌉)
// for n terms per element, so |Σq| ≤ n·2^termBits ≤ 2^62. A term beyond 2^termBits (or a NaN/±∞)
// is not converted: it is counted as 0 and reported through the group's largest magnitude,
// which the caller must check (`FixedPointExponents.verdict`). Because integer addition is
// associative, the sum is the same bits whatever the order and grouping of the terms — on one
// rank or across ranks with MPI_SUM on int64.
//
// Back to Float, once: s = Float(Σq) · 2^e. Float(Σq) is one correctly rounded conversion; the
// scaling by 2^e is exact unless the result is below 2^−126 (subnormal), where it is split so
// that only the last multiply rounds (a second rounding, in the subnormal range only).
//
// Error against the exact sum S = Σx of n terms of a group whose largest |x| is M:
//
//     |s − S| ≤ n · 2^(e−1) + ½ ulp(s)        with  2^e ≤ M · 2^(1−24)  (the caller keeps M · 2^−e ≥ 2^24)
//
// i.e. at most n·M·2^−24 from the quantisation plus the final rounding, and with the exponent
// policy (M · 2^−e ≈ 2^38) n·M·2^−39: far below the error of a Float running sum of the same
// terms, which is up to (n−1)·2^−24·Σ|x| and depends on the order.

/// The fixed-point constants: 1.5·2^52 for the rounding add, and the term bound.
public enum FixedPoint {
    /// 1.5 · 2^52: y + roundingConstant rounds y (|y| < 2^51) to an integer held in the low bits.
    public static let roundingConstant: Double = 6_755_399_441_055_744.0
    /// Its bit pattern, subtracted to recover the integer.
    public static let roundingConstantBits = Int64(bitPattern: 6_755_399_441_055_744.0.bitPattern)
    /// The largest term bound the rounding add allows (|y| ≤ 2^50 < 2^51).
    public static let maxTermBits = 50
    /// Exponents stay in this range — what `FixedPointExponents` can choose for any finite Float
    /// maximum, [−149 + 1 − 38, 127 + 1 − 25] — so that every scaling in `quantizeAndAccumulate` is
    /// an exact Double product and 2^e splits into at most two normal Floats in `dequantize`.
    public static let exponentRange = -190 ... 110

    /// The bound on |q| for sums of `terms` terms per element: min(50, 62 − ⌈log₂ terms⌉).
    public static func termBits(terms: Int) -> Int {
        precondition(terms >= 1, "a fixed-point sum needs at least one term, got \(terms)")
        let ceilLog2 = terms == 1 ? 0 : Int.bitWidth - (terms - 1).leadingZeroBitCount
        return min(maxTermBits, 62 - ceilLog2)
    }

    /// 2^k as a Double, for k in `exponentRange`.
    @inlinable @inline(__always)
    public static func powerOfTwo(_ k: Int) -> Double {
        Double(sign: .plus, exponent: k, significand: 1)
    }

    /// The magnitude of a Float bit pattern with the sign cleared, as a Float (NaN and ∞ included).
    @inlinable @inline(__always)
    public static func magnitude(bits: UInt32) -> Float { Float(bitPattern: bits & 0x7FFF_FFFF) }
}

/// Quantises `values[0..<count]` to multiples of 2^`exponent` and adds them to `sums` (or
/// overwrites `sums` when `overwrite`), then zeroes `values` for the next backward to add into:
///
///     q[i] = roundToNearestEven(values[i] · 2^−exponent)   if |values[i] · 2^−exponent| ≤ 2^termBits, else 0
///     sums[i] = (overwrite ? 0 : sums[i]) + q[i];   values[i] = 0
///
/// - Parameters:
///   - values: `[count]` Float terms; zeroed on return.
///   - sums: `[count]` Int64 accumulators.
///   - exponent: the group's quantum is 2^exponent; in `FixedPoint.exponentRange`.
///   - termBits: the term bound (`FixedPoint.termBits(terms:)`), ≤ 50.
/// - Returns: the largest |values[i]| as a bit pattern with the sign cleared (an order-exact
///   maximum: NaN patterns > +∞ > every finite magnitude; 0 for count 0). The caller must treat
///   a result ≥ 0x7F80_0000 (NaN or ∞) or one whose magnitude exceeds 2^(exponent + termBits) as
///   "this sum is invalid": such terms were counted as 0.
@inlinable @inline(__always)
public func quantizeAndAccumulate(_ values: UnsafeMutablePointer<Float>, into sums: UnsafeMutablePointer<Int64>,
                                  count: Int, exponent: Int, termBits: Int, overwrite: Bool) -> UInt32 {
    precondition(FixedPoint.exponentRange.contains(exponent), "fixed-point exponent \(exponent) is out of range")
    precondition(termBits >= 0 && termBits <= FixedPoint.maxTermBits, "term bound 2^\(termBits) is out of range")
    let scale = FixedPoint.powerOfTwo(-exponent)
    let limit = FixedPoint.powerOfTwo(termBits)
    if overwrite {
        return quantizeLoop(values, sums, count, scale, limit, overwrite: true)
    }
    return quantizeLoop(values, sums, count, scale, limit, overwrite: false)
}

@inlinable @inline(__always)
func quantizeLoop(_ values: UnsafeMutablePointer<Float>, _ sums: UnsafeMutablePointer<Int64>, _ count: Int,
                  _ scale: Double, _ limit: Double, overwrite: Bool) -> UInt32 {
    let magic = FixedPoint.roundingConstant
    let magicBits = FixedPoint.roundingConstantBits
    // Four lanes of the running maximum keep the loop free of a serial dependency.
    var m0: UInt32 = 0, m1: UInt32 = 0, m2: UInt32 = 0, m3: UInt32 = 0
    @inline(__always) func term(_ i: Int) -> (bits: UInt32, q: Int64) {
        let value = values[i]
        let y = Double(value) * scale
        let kept = y.magnitude <= limit ? y : 0   // NaN, ±∞ and out-of-bound terms count as 0
        return (value.bitPattern & 0x7FFF_FFFF, Int64(bitPattern: (kept + magic).bitPattern) &- magicBits)
    }
    var i = 0
    let blocked = count & ~3
    while i < blocked {
        let a = term(i), b = term(i &+ 1), c = term(i &+ 2), d = term(i &+ 3)
        m0 = a.bits > m0 ? a.bits : m0
        m1 = b.bits > m1 ? b.bits : m1
        m2 = c.bits > m2 ? c.bits : m2
        m3 = d.bits > m3 ? d.bits : m3
        if overwrite {
            sums[i] = a.q; sums[i &+ 1] = b.q; sums[i &+ 2] = c.q; sums[i &+ 3] = d.q
        } else {
            sums[i] &+= a.q; sums[i &+ 1] &+= b.q; sums[i &+ 2] &+= c.q; sums[i &+ 3] &+= d.q
        }
        values[i] = 0; values[i &+ 1] = 0; values[i &+ 2] = 0; values[i &+ 3] = 0
        i &+= 4
    }
    while i < count {
        let a = term(i)
        m0 = a.bits > m0 ? a.bits : m0
        if overwrite { sums[i] = a.q } else { sums[i] &+= a.q }
        values[i] = 0
        i &+= 1
    }
    let m01 = m0 > m1 ? m0 : m1, m23 = m2 > m3 ? m2 : m3
    return m01 > m23 ? m01 : m23
}

/// The fixed-point sums back to Float, one rounding each (see the header):
///
///     values[i] = Float(sums[i]) · 2^exponent
///
/// - Parameters:
///   - sums: `[count]` Int64 sums of quantised terms.
///   - values: `[count]` Float results (may not overlap `sums`).
///   - exponent: the quantum the terms were quantised with; in `FixedPoint.exponentRange`.
@inlinable @inline(__always)
public func dequantize(_ sums: UnsafePointer<Int64>, into values: UnsafeMutablePointer<Float>, count: Int,
                       exponent: Int) {
    precondition(FixedPoint.exponentRange.contains(exponent), "fixed-point exponent \(exponent) is out of range")
    // Float(q) ∈ {0} ∪ [1, 2^63]. For e ≥ −126 one multiply by 2^e (a normal Float) is exact, or
    // overflows to ±∞, the correctly rounded result. For e < −126, first scale by 2^(e+126) ∈
    // [2^−64, 2^−1] (exact: the product stays ≥ 2^−64), then by 2^−126, which alone rounds, into
    // the subnormals.
    let split = exponent < -126
    let a = Float(FixedPoint.powerOfTwo(split ? exponent + 126 : exponent))
    let b = Float(FixedPoint.powerOfTwo(split ? -126 : 0))
    var i = 0
    while i < count {
        values[i] = Float(sums[i]) * a * b
        i &+= 1
    }
}
