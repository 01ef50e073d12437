/// bfloat16: the top 16 bits of an IEEE-754 binary32 (1 sign, 8 exponent, 7 fraction bits) —
/// Float's range with 8 significant bits. Portable conversions (no special instructions), the
/// reference for the VDPBF16PS GEMM (`_CBFloat16Gemm`) and its fallback on other CPUs.
///
/// Rounding to nearest, ties to even, on the bit pattern:
///
///     bits(x) + 0x7FFF + (bit 16 of bits(x))   then keep the top 16 bits
///
/// A carry out of the fraction raises the exponent (correct rounding up to the next binade, and
/// the largest finite values round to ±∞, as IEEE rounding does); ±∞ stays ±∞. NaN is kept a NaN
/// and made quiet (fraction bit 6 set), since truncating a signalling NaN's payload could
/// otherwise give ∞. Denormals round like every other value (the AVX-512 conversion treats
/// denormal inputs as zero instead; the two differ only below 1.2e-38).
public enum BFloat16 {
    /// The bf16 bit pattern nearest to `x` (ties to even). Written without a branch (NaN is a
    /// select), so that loops over it vectorise.
    @inlinable @inline(__always)
    public static func bits(roundingToNearestEven x: Float) -> UInt16 {
        let pattern = x.bitPattern
        let rounded = (pattern &+ 0x7FFF &+ ((pattern >> 16) & 1)) >> 16
        let quietNaN = (pattern >> 16) | 0x0040
        return UInt16(truncatingIfNeeded: x.isNaN ? quietNaN : rounded)
    }

    /// The Float with bf16 bit pattern `bits` (exact: the low 16 bits are zero).
    @inline(__always)
    public static func float(bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// x rounded to the nearest bf16 value, as a Float.
    @inline(__always)
    public static func rounded(_ x: Float) -> Float { float(bits: bits(roundingToNearestEven: x)) }

    /// target[i] = rounded(source[i]) for i < count (target may be source).
    public static func round(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            target[i] = rounded(source[i])
            i &+= 1
        }
    }

    /// target[i] = the bf16 bits of source[i] (nearest even) for i < count.
    @inlinable @inline(__always)
    public static func round(_ source: UnsafePointer<Float>, intoBits target: UnsafeMutablePointer<UInt16>,
                             count: Int) {
        var i = 0
        while i < count {
            target[i] = bits(roundingToNearestEven: source[i])
            i &+= 1
        }
    }

    /// target[i] = the Float of bf16 bits source[i] (exact) for i < count.
    public static func expand(_ source: UnsafePointer<UInt16>, into target: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            target[i] = float(bits: source[i])
            i &+= 1
        }
    }

    /// The rows × columns block of bf16 bits at `source` (row stride `stride`) as Floats in
    /// `target` [rows, columns] (packed, row stride `columns`).
    public static func expand(_ source: UnsafePointer<UInt16>, stride: Int, rows: Int, columns: Int,
                              into target: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            expand(source + r &* stride, into: target + r &* columns, count: columns)
        }
    }

    /// The rows × columns block at `source` (row stride `stride`) rounded into `target`
    /// [rows, columns] (packed, row stride `columns`).
    public static func round(_ source: UnsafePointer<Float>, stride: Int, rows: Int, columns: Int,
                             into target: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            round(source + r &* stride, into: target + r &* columns, count: columns)
        }
    }
}
