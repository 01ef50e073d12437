import Testing
import TensorKernels

// The portable bf16 conversion: round to nearest, ties to even; NaN kept (quiet); ±∞ kept.
@Suite("bfloat16 conversion")
struct BFloat16Tests {
    @Test("ties round to the even neighbour, other values to the nearest")
    func nearestEven() {
        // 1 + 2⁻⁸ is exactly halfway between 1 and 1 + 2⁻⁷ (bf16 keeps 7 fraction bits): the even
        // neighbour is 1 (fraction 0). 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: up.
        let one = Float(1), ulp = Float(1) / 128
        #expect(BFloat16.rounded(one + ulp / 2) == one)
        #expect(BFloat16.rounded(one + 3 * ulp / 2) == one + 2 * ulp)
        #expect(BFloat16.rounded(-(one + ulp / 2)) == -one)
        #expect(BFloat16.rounded(-(one + 3 * ulp / 2)) == -(one + 2 * ulp))
        // Just above / below the tie: the nearest.
        #expect(BFloat16.rounded((one + ulp / 2).nextUp) == one + ulp)
        #expect(BFloat16.rounded((one + ulp / 2).nextDown) == one)
        // The tie that carries into the exponent: 2 − 2⁻⁸ lies halfway between 2 − 2⁻⁷ (odd) and 2.
        #expect(BFloat16.rounded(2 - ulp / 2) == 2)
    }

    @Test("every rounded value is a bf16 value within half a bf16 ulp, ties even (exhaustive over a range)")
    func againstDoubleReference() {
        var pattern: UInt32 = 0x3F00_0000   // 0.5 … 2 and across one exponent change
        while pattern < 0x4000_1000 {
            let x = Float(bitPattern: pattern)
            let got = BFloat16.rounded(x)
            #expect(got.bitPattern & 0xFFFF == 0)
            // Reference: the two bf16 neighbours and which is nearer, in Double.
            let below = Float(bitPattern: pattern & 0xFFFF_0000), above = Float(bitPattern: (pattern & 0xFFFF_0000) + 0x1_0000)
            let distanceBelow = Double(x) - Double(below), distanceAbove = Double(above) - Double(x)
            let expected: Float = distanceBelow < distanceAbove ? below : distanceAbove < distanceBelow ? above
                : ((below.bitPattern >> 16) & 1 == 0 ? below : above)
            if got != expected {
                Issue.record("\(x) rounded to \(got), expected \(expected)")
                return
            }
            pattern &+= 7
        }
    }

    @Test("NaN stays NaN (quiet), infinities stay, the largest finite values round to infinity")
    func specialValues() {
        #expect(BFloat16.rounded(.nan).isNaN)
        #expect(BFloat16.rounded(-.nan).isNaN)
        // A signalling NaN whose payload sits only in the low 16 bits would truncate to ∞.
        let signalling = Float(bitPattern: 0x7F80_0001)
        #expect(signalling.isNaN)
        let bits = BFloat16.bits(roundingToNearestEven: signalling)
        #expect(BFloat16.float(bits: bits).isNaN)
        #expect(bits & 0x0040 != 0, "quiet bit set")
        #expect(BFloat16.rounded(.infinity) == .infinity)
        #expect(BFloat16.rounded(-.infinity) == -.infinity)
        #expect(BFloat16.rounded(.greatestFiniteMagnitude) == .infinity)
        #expect(BFloat16.rounded(-.greatestFiniteMagnitude) == -.infinity)
        // The largest finite bf16 value stays finite.
        let largest = Float(bitPattern: 0x7F7F_0000)
        #expect(BFloat16.rounded(largest) == largest)
        #expect(BFloat16.rounded(0) == 0)
        #expect(BFloat16.rounded(-0.0).sign == .minus)
    }

    @Test("round(_:into:count:) and the strided block agree with element rounding")
    func bulk() {
        let source: [Float] = (0..<40).map { Float($0) * 0.123_456_7 - 2 }
        var target = [Float](repeating: .nan, count: 40)
        BFloat16.round(source, into: &target, count: 40)
        #expect(target == source.map(BFloat16.rounded))
        var block = [Float](repeating: .nan, count: 12)
        BFloat16.round(source, stride: 10, rows: 3, columns: 4, into: &block)
        for r in 0..<3 { for c in 0..<4 { #expect(block[r * 4 + c] == BFloat16.rounded(source[r * 10 + c])) } }
    }
}
