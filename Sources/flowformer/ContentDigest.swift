/// A 64-bit FNV-1a hash of bytes, for `inspect`'s digest: two checkpoints whose parameters (or
/// optimizer states) hold the same bits print the same digest, and different bits almost surely
/// a different one. Not a checksum against tampering; the datasets' CRC-32s guard the file.
///
///     h₀ = 0xcbf29ce484222325;  hᵢ₊₁ = (hᵢ ⊕ byteᵢ) · 0x100000001b3  (mod 2⁶⁴)
struct ContentDigest {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        value = h
    }

    /// 16 hexadecimal digits.
    var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
