// Branch-free Float exp and erf that the compiler can vectorise when they are inlined into a loop.
//
// libm's `expf`/`erff` are opaque calls: a loop that calls them runs one element at a time. These
// versions are straight-line arithmetic plus selects (`c ? a : b`), so a loop over a buffer that
// calls them becomes SIMD code in release builds. Measured accuracy is in the README and checked by
// the tests (FastMathTests).

extension Float {
    /// eˣ as a polynomial, for kernels.
    ///
    /// Method: write x = n·ln2 + r with n = round(x·log₂e) and |r| ≤ ln2/2 (Cody–Waite: ln2 split
    /// into a 9-bit head, so n·head is exact, and a tail), evaluate eʳ by its degree-7 Taylor
    /// polynomial (truncation error < 4·10⁻⁹ relative on |r| ≤ 0.347), and scale by 2ⁿ = 2^⌊n/2⌋ ·
    /// 2^(n−⌊n/2⌋), each factor built directly in the exponent bits (two factors keep both
    /// normal for every n in [−150, 129], so the result overflows to +∞ and underflows through
    /// the subnormals to 0 by ordinary rounding).
    ///
    /// n is rounded with the 1.5·2²³ trick (adding and subtracting it leaves x·log₂e rounded to an
    /// integer, and the integer in the low significand bits), so no float→int conversion is needed.
    ///
    /// Accuracy: ≤ 2 ulp on [−87, 88] (measured maximum about 1.2 ulp). x < −103.9 → 0;
    /// x > 88.73 → +∞; NaN → NaN.
    @inlinable @inline(__always)
    public static func polynomialExp(_ x: Float) -> Float {
        // Clamp so that n stays in [−150, 129]; NaN passes through (comparisons are false).
        var v = x < -104 ? -104 : x
        v = v > 89 ? 89 : v
        let roundingShift: Float = 12_582_912  // 1.5 · 2²³
        let shifted = v * 1.44269504 + roundingShift  // log₂e
        let n = shifted - roundingShift               // round(v · log₂e), exact integer
        let ln2Head: Float = 0.693359375              // 355/512
        let ln2Tail: Float = -2.12194440e-4           // ln2 − 355/512
        var r = v - n * ln2Head
        r = r - n * ln2Tail
        // eʳ ≈ Σ_{k=0}^{7} rᵏ/k!  (Horner)
        var p: Float = 1.98412698e-4                  // 1/7!
        p = p * r + 1.38888889e-3                     // 1/6!
        p = p * r + 8.33333333e-3                     // 1/5!
        p = p * r + 4.16666667e-2                     // 1/4!
        p = p * r + 1.66666667e-1                     // 1/3!
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // n as an integer: the significand bits of `shifted` hold 0x400000 + n.
        let integerN = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let half = integerN &>> 1
        let rest = integerN &- half
        let scaleA = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let scaleB = Float(bitPattern: UInt32(bitPattern: (rest &+ 127) &<< 23))
        return p * scaleA * scaleB
    }

    /// erf(x) as two polynomials, for kernels.
    ///
    /// |x| < 0.9:  erf(x) = x + x·P(x²), P of degree 5.
    /// |x| ≥ 0.9:  erf(x) = 1 − e^(−x²)·R(t), t = 1/(1 + |x|/2), R of degree 5 (R approximates the
    ///             smooth function erfc(x)·e^(x²)); |x| is clamped to 4, beyond which erf rounds to
    ///             ±1 in Float.
    /// Both branches are computed and one is selected, so the function vectorises. The
    /// coefficients are this project's own weighted least-squares fits on 4000 Chebyshev nodes
    /// (relative weight for P, weight e^(−x²) for R), fitted in Double and rounded to Float.
    ///
    /// Accuracy: absolute error ≤ 1.5·10⁻⁷ everywhere (measured maximum about 1·10⁻⁷ on
    /// [−6, 6]); odd, erf(±∞) = ±1, NaN → NaN.
    @inlinable @inline(__always)
    public static func polynomialErf(_ x: Float) -> Float {
        var a = x.magnitude
        a = a > 4 ? 4 : a
        let z = a * a
        // Near zero: erf(a) = a + a·P(z).
        var p: Float = -6.12318100e-4
        p = p * z + 5.01910830e-3
        p = p * z - 2.67845000e-2
        p = p * z + 1.12823280e-1
        p = p * z - 3.76125480e-1
        p = p * z + 1.28379170e-1
        let small = a + a * p
        // Tail: erf(a) = 1 − e^(−z)·R(t).
        let t = 1 / (1 + 0.5 * a)
        var q: Float = -2.29010520e-1
        q = q * t + 6.31485100e-1
        q = q * t - 5.84559140e-2
        q = q * t + 3.93344880e-1
        q = q * t + 2.60691940e-1
        q = q * t + 1.70924290e-3
        let large = 1 - polynomialExp(-z) * q
        let magnitude = a < 0.9 ? small : large
        return x < 0 ? -magnitude : magnitude
    }
}
