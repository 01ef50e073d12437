import Foundation
import Testing
import TensorKernels

/// An exact sum of Floats: limbs of 32 bits (Int64 with room for carries) covering bit positions
/// 2^−160 … 2^160, so any Float (m · 2^k, |m| < 2^24, −149 ≤ k ≤ 104) adds without rounding.
/// The test's reference for "the true sum".
private struct ExactSum {
    var limbs = [Int64](repeating: 0, count: 11)

    mutating func add(_ x: Float) {
        guard x != 0 else { return }
        precondition(x.isFinite)
        // x = significandBits-with-hidden-bit · 2^(exponent − 23)
        let isNormal = x.isNormal
        let integer = Int64(x.significandBitPattern) | (isNormal ? 1 << 23 : 0)
        let power = isNormal ? Int(x.exponent) - 23 : -149
        let signed = x.sign == .minus ? -integer : integer
        let position = power + 160
        let shifted = signed << Int64(position % 32)
        let low = shifted & 0xFFFF_FFFF, high = shifted >> 32
        limbs[position / 32] += low
        limbs[position / 32 + 1] += high
    }

    /// The value, rounded (relative error about 2^−50 after carrying): enough to compare with
    /// error bounds.
    var approximate: Double {
        var carried = limbs
        for i in 0 ..< carried.count - 1 {
            let carry = carried[i] >> 32
            carried[i] -= carry << 32
            carried[i + 1] += carry
        }
        var value = 0.0
        for i in stride(from: carried.count - 1, through: 0, by: -1) {
            value += Double(carried[i]) * Double(sign: .plus, exponent: 32 * i - 160, significand: 1)
        }
        return value
    }
}

/// The fixed-point sum of `terms` (each [count]) with the given exponent: the kernel, used the way
/// the trainer uses it — terms split into `parts` partial sums (ranks), each built from its terms
/// in the given order (micro-batches), the partial sums then added (the all-reduce).
private func fixedPointSum(_ terms: [[Float]], order: [Int], parts: Int, exponent: Int, termBits: Int)
    -> (sums: [Int64], maximum: UInt32)
{
    let count = terms[0].count
    var partials = [[Int64]](repeating: [Int64](repeating: 0, count: count), count: parts)
    var maximum: UInt32 = 0
    var started = [Bool](repeating: false, count: parts)
    for (position, index) in order.enumerated() {
        let part = position * parts / order.count
        let first = !started[part]
        started[part] = true
        var values = terms[index]
        let largest = values.withUnsafeMutableBufferPointer { v in
            partials[part].withUnsafeMutableBufferPointer { s in
                quantizeAndAccumulate(v.baseAddress!, into: s.baseAddress!, count: count, exponent: exponent,
                                      termBits: termBits, overwrite: first)
            }
        }
        #expect(values.allSatisfy { $0 == 0 && $0.sign == .plus }, "the kernel zeroes its input")
        maximum = max(maximum, largest)
    }
    var total = [Int64](repeating: 0, count: count)
    for part in partials.indices.reversed() {
        for i in 0 ..< count { total[i] &+= partials[part][i] }
    }
    return (total, maximum)
}

private func dequantized(_ sums: [Int64], exponent: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: sums.count)
    sums.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { dequantize(s.baseAddress!, into: $0.baseAddress!, count: sums.count, exponent: exponent) }
    }
    return out
}

@Suite struct FixedPointSumTests {
    /// Random Floats over the whole finite range, subnormals included: sign, exponent and
    /// significand drawn independently.
    private static func anyFloat(_ inputs: inout TestInputs, exponents: ClosedRange<Int> = -150 ... 127) -> Float {
        let power = exponents.lowerBound + Int(inputs.next() % UInt64(exponents.count))
        let significand = UInt32(truncatingIfNeeded: inputs.next()) & 0x7F_FFFF
        let value: Float = power < -126
            ? Float(sign: .plus, exponentBitPattern: 0, significandBitPattern: significand | 1)
            : Float(sign: .plus, exponentBitPattern: UInt(power + 127), significandBitPattern: significand)
        return inputs.next() & 1 == 0 ? value : -value
    }

    /// Adversarial term sets: `terms` Floats for each of `count` elements.
    private static func cases() -> [(name: String, terms: [[Float]])] {
        var inputs = TestInputs(seed: 1414)
        let count = 37, n = 24
        func make(_ f: (inout TestInputs, Int, Int) -> Float) -> [[Float]] {
            (0 ..< n).map { t in (0 ..< count).map { i in f(&inputs, t, i) } }
        }
        return [
            ("gradient-like", make { r, _, i in Float(r.uniform(-1, 1)) * Float(sign: .plus, exponent: -(i % 20), significand: 1) }),
            ("whole float range", make { r, _, _ in anyFloat(&r) }),
            ("huge cancellations", make { r, t, i in
                // ±big terms that cancel pairwise, with small terms between them.
                let big = Float(sign: .plus, exponent: 100 + i % 27, significand: 1.5)
                switch t % 4 {
                case 0: return big
                case 2: return -big
                default: return Float(r.uniform(-1, 1)) * Float(sign: .plus, exponent: 70 + i % 20, significand: 1)
                }
            }),
            ("largest finite and its negation", make { _, t, _ in t % 2 == 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude }),
            ("subnormals", make { r, _, _ in anyFloat(&r, exponents: -150 ... -127) }),
            ("signed zeros and a few values", make { r, t, i in
                t == i % n ? Float(r.uniform(-1, 1)) : (r.next() & 1 == 0 ? 0.0 : -0.0)
            }),
            ("all negative zero", make { _, _, _ in -0.0 }),
        ]
    }

    /// The Σq of the kernel equals an independent reference (Double products rounded with
    /// `.rounded(.toNearestOrEven)`, summed in Int128), for any order and any grouping; the Float
    /// result is that sum correctly rounded; and it is within n·2^(e−1) + ½ulp of the exact sum.
    @Test(arguments: cases().indices)
    func matchesTheWideReferenceWhateverTheOrderAndGrouping(_ which: Int) {
        let (name, terms) = Self.cases()[which]
        let n = terms.count, count = terms[0].count
        let termBits = FixedPoint.termBits(terms: n)
        var policy = FixedPointExponents(groups: count, terms: n)
        // One exponent per element here (each element its own group), from the exact maximum.
        let maxima = (0 ..< count).map { i in terms.map { $0[i].bitPattern & 0x7FFF_FFFF }.max()! }
        maxima.withUnsafeBufferPointer { policy.adapt(to: $0) }
        maxima.withUnsafeBufferPointer { #expect(policy.verdict(maxima: $0) == .accept, "\(name): verdict") }

        var reference = [Int128](repeating: 0, count: count)
        for term in terms {
            for i in 0 ..< count {
                let y = Double(term[i]) * Double(sign: .plus, exponent: -policy.exponents[i], significand: 1)
                reference[i] += Int128(y.rounded(.toNearestOrEven))
            }
        }
        var inputs = TestInputs(seed: 99 &+ UInt64(which))
        var results: [[Int64]] = []
        for (parts, shuffled) in [(1, false), (2, true), (3, true), (n, true), (5, false)] {
            var order = Array(0 ..< n)
            if shuffled { for k in stride(from: n - 1, to: 0, by: -1) { order.swapAt(k, Int(inputs.next() % UInt64(k + 1))) } }
            // Elements with different exponents: run the kernel per element (count 1) through a
            // column view; the trainer's groups are contiguous runs with one exponent.
            var sums = [Int64](repeating: 0, count: count)
            var maximum: UInt32 = 0
            for i in 0 ..< count {
                let column = terms.map { [$0[i]] }
                let result = fixedPointSum(column, order: order, parts: parts, exponent: policy.exponents[i], termBits: termBits)
                sums[i] = result.sums[0]
                maximum = max(maximum, result.maximum)
            }
            #expect(maximum == maxima.max()!, "\(name): the kernel's maximum")
            results.append(sums)
        }
        for (k, sums) in results.enumerated() {
            #expect(sums == results[0], "\(name): grouping \(k) gave other bits than grouping 0")
        }
        let sums = results[0]
        for i in 0 ..< count {
            #expect(Int128(sums[i]) == reference[i], "\(name) element \(i): Σq \(sums[i]), reference \(reference[i])")
        }
        for i in 0 ..< count {
            let e = policy.exponents[i]
            let value = dequantized([sums[i]], exponent: e)[0]
            // Correct rounding of the reference integer, scaled (normal results: exact scaling).
            let rounded = Float(Double(Float(reference[i])) * Double(sign: .plus, exponent: e, significand: 1))
            if rounded.isNormal || rounded == 0 || rounded.isInfinite {
                #expect(value.bitPattern == rounded.bitPattern || (value == 0 && rounded == 0),
                        "\(name) element \(i): \(value) is not Float(Σq)·2^e = \(rounded)")
            }
            var exact = ExactSum()
            for term in terms { exact.add(term[i]) }
            if value.isFinite {
                exact.add(-value)
                let error = abs(exact.approximate)
                let bound = Double(n) * Double(sign: .plus, exponent: e - 1, significand: 1)
                    + Double(value.ulp) / 2 + 1e-300
                if !(error <= bound * (1 + 1e-12)) {
                    Issue.record("\(name) element \(i): |fixed-point sum − exact sum| = \(error) > bound \(bound)")
                }
            } else {
                // Only a true sum beyond Float's range may round to ±∞.
                #expect(abs(exact.approximate) >= Double(Float.greatestFiniteMagnitude), "\(name) element \(i): \(value)")
            }
        }
    }

    @Test func zerosGivePositiveZero() {
        let result = fixedPointSum([[-0.0, 0.0], [-0.0, -0.0]], order: [0, 1], parts: 1, exponent: -30, termBits: 50)
        #expect(result.sums == [0, 0] && result.maximum == 0)
        #expect(dequantized(result.sums, exponent: -30).map(\.bitPattern) == [0, 0])
    }

    @Test func nonFiniteAndOutOfBoundTermsAreReportedNotConverted() {
        var policy = FixedPointExponents(groups: 1, terms: 4)
        let termBits = policy.termBits
        let e = policy.exponents[0]
        for bad: Float in [.nan, -.nan, .infinity, -.infinity, .signalingNaN] {
            let result = fixedPointSum([[1], [bad], [2]], order: [0, 1, 2], parts: 2, exponent: e, termBits: termBits)
            #expect(result.sums == [Int64(3) << -e], "\(bad) counted as 0")
            [result.maximum].withUnsafeBufferPointer { #expect(policy.verdict(maxima: $0) == .nonFinite, "\(bad)") }
        }
        // A term 2^13 times the guess exceeds 2^termBits quanta: dropped, and the step is redone.
        let big = Float(sign: .plus, exponent: 13, significand: 1) * FixedPointExponents.initialMaximum * 1.5
        let result = fixedPointSum([[1], [big]], order: [0, 1], parts: 1, exponent: e, termBits: termBits)
        #expect(result.sums == [Int64(1) << -e])
        [result.maximum].withUnsafeBufferPointer {
            #expect(policy.verdict(maxima: $0) == .redo)
            policy.adapt(to: $0)
            #expect(policy.verdict(maxima: $0) == .accept)
        }
        // A maximum 2^15 below the guess carries fewer than 24 bits: redone as well.
        let small = FixedPointExponents.initialMaximum * Float(sign: .plus, exponent: -15, significand: 1)
        [small.bitPattern].withUnsafeBufferPointer {
            #expect(FixedPointExponents(groups: 1, terms: 4).verdict(maxima: $0) == .redo)
        }
    }

    @Test func termBoundKeepsEverySumInsideInt64() {
        #expect(FixedPoint.termBits(terms: 1) == 50)
        #expect(FixedPoint.termBits(terms: 4096) == 50)
        #expect(FixedPoint.termBits(terms: 4097) == 49)
        for n in [1, 2, 3, 4095, 4097, 1 << 20, FixedPointExponents.maxTerms] {
            let bits = FixedPoint.termBits(terms: n)
            // n terms of magnitude 2^bits, summed: at most 2^62.
            #expect(Double(n) * Double(sign: .plus, exponent: bits, significand: 1) <= 0x1p62, "n = \(n)")
        }
        // Extreme maxima give exponents inside the supported range.
        for terms in [1, FixedPointExponents.maxTerms] {
            let target = FixedPoint.termBits(terms: terms) - FixedPointExponents.headroomBits
            for m: Float in [.leastNonzeroMagnitude, .leastNormalMagnitude, 1, .greatestFiniteMagnitude] {
                let e = FixedPointExponents.exponent(forMaximum: m, targetBits: target)
                #expect(FixedPoint.exponentRange.contains(e), "maximum \(m), \(terms) terms: exponent \(e)")
            }
        }
    }

    @Test func dequantizeRoundsOnceAndSaturates() {
        let q: [Int64] = [0, 1, -1, (1 << 53) + 1, Int64.max, Int64.min + 1, 3]
        for e in [-190, -150, -127, -126, -40, 0, 60, 110] {
            let values = dequantized(q, exponent: e)
            for (k, integer) in q.enumerated() {
                let wide = Double(Float(integer)) * Double(sign: .plus, exponent: e, significand: 1)
                let expected = Float(wide)   // exact unless subnormal or beyond Float
                if expected.isNormal || expected.isInfinite || expected == 0 {
                    #expect(values[k] == expected, "q \(integer) · 2^\(e): \(values[k]) vs \(expected)")
                } else if !(abs(Double(values[k]) - wide) <= Double(Float.leastNonzeroMagnitude)) {
                    Issue.record("q \(integer) · 2^\(e): subnormal \(values[k]) is more than one ulp from \(wide)")
                }
            }
        }
    }
}
