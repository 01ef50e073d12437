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

    @Test("every exponent, NaN and ±∞: the bits of the nearest bf16 value (an independent Double reference)")
    func randomBitPatterns() {
        var inputs: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, .greatestFiniteMagnitude,
                               -.greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude,
                               Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFF80_0001),
                               Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000)]
        var stream: UInt32 = 12_345
        for _ in 0..<100_000 {   // random bit patterns: every exponent, NaNs included
            stream = stream &* 1_664_525 &+ 1_013_904_223
            inputs.append(Float(bitPattern: stream))
        }
        /// The nearest bf16 value by distance in Double (ties to the even neighbour; beyond the
        /// largest finite bf16 value the next one up is ∞); NaN → its top bits, made quiet.
        func reference(_ x: Float) -> UInt16 {
            let top = UInt16(truncatingIfNeeded: x.bitPattern >> 16)
            if x.isNaN { return top | 0x0040 }
            if x.isInfinite { return top }
            let magnitude = x.bitPattern & 0x7FFF_FFFF, below = magnitude & 0xFFFF_0000
            let lower = Float(bitPattern: below)
            let step = Double(lower.ulp) * 65_536   // one bf16 ulp at `lower`
            let distance = Double(Float(bitPattern: magnitude)) - Double(lower)
            let up = distance > step / 2 || (distance == step / 2 && (below >> 16) & 1 == 1)
            return (top & 0x8000) | UInt16(truncatingIfNeeded: (below >> 16) + (up ? 1 : 0))
        }
        for x in inputs {
            #expect(BFloat16.bits(roundingToNearestEven: x) == reference(x), "\(x.bitPattern)")
        }
        var bits = [UInt16](repeating: 0, count: inputs.count)
        BFloat16.round(inputs, intoBits: &bits, count: inputs.count)
        #expect(bits == inputs.map { BFloat16.bits(roundingToNearestEven: $0) })
        var widened = [Float](repeating: 0, count: bits.count)
        BFloat16.expand(bits, into: &widened, count: bits.count)
        #expect(widened.map(\.bitPattern) == bits.map { UInt32($0) << 16 }, "widening is exact")
    }

    @Test("GELU and LayerNorm stored as bf16 are the bits of their Float outputs rounded")
    func bf16OutputKernels() {
        let count = 1031
        var x: [Float] = (0..<count).map { Float($0 % 97) * 0.173 - 8 }
        x[5] = .nan; x[6] = .infinity; x[7] = -.infinity; x[8] = 0
        // GELU, out of place and with the derivative over x.
        var y = [Float](repeating: 0, count: count), slope = y
        gelu(x, into: &y, derivative: &slope, count: count)
        var bits = [UInt16](repeating: 0, count: count), bf16Slope = y
        gelu(x, intoBFloat16: &bits, derivative: &bf16Slope, count: count)
        #expect(bits == y.map { BFloat16.bits(roundingToNearestEven: $0) })
        #expect(bf16Slope.map(\.bitPattern) == slope.map(\.bitPattern))
        var inPlace = x, inPlaceBits = [UInt16](repeating: 0, count: count)
        inPlace.withUnsafeMutableBufferPointer { buffer in
            gelu(buffer.baseAddress!, intoBFloat16: &inPlaceBits, derivative: buffer.baseAddress!, count: count)
        }
        #expect(inPlaceBits == bits)
        #expect(inPlace.map(\.bitPattern) == slope.map(\.bitPattern))

        // LayerNorm, 7 rows of 147.
        let rows = 7, cols = 147
        let input = (0..<rows * cols).map { Float(($0 * 37) % 101) * 0.05 - 2 }
        let weight = (0..<cols).map { 1 + Float($0 % 5) * 0.1 }, bias = (0..<cols).map { Float($0 % 3) * 0.01 }
        var normalised = [Float](repeating: 0, count: rows * cols)
        var mean = [Float](repeating: 0, count: rows), rstd = mean, bf16Mean = mean, bf16Rstd = mean
        layerNorm(input, weight: weight, bias: bias, into: &normalised, mean: &mean, rstd: &rstd, rows: rows,
                  cols: cols, epsilon: 1e-5)
        var normalisedBits = [UInt16](repeating: 0, count: rows * cols), row = [Float](repeating: 0, count: cols)
        layerNorm(input, weight: weight, bias: bias, intoBFloat16: &normalisedBits, rowScratch: &row,
                  mean: &bf16Mean, rstd: &bf16Rstd, rows: rows, cols: cols, epsilon: 1e-5)
        #expect(normalisedBits == normalised.map { BFloat16.bits(roundingToNearestEven: $0) })
        #expect(bf16Mean == mean && bf16Rstd == rstd)
    }
}
