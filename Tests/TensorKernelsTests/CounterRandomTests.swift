import Foundation
import Testing
import TensorKernels

@Suite struct CounterRandomTests {
    /// Known-answer vectors of Philox4x32-10 published with its reference implementation
    /// (Random123, kat_vectors): (counter, key) → output.
    @Test func philoxKnownAnswers() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8)),
            (SIMD4(repeating: 0xFFFF_FFFF), SIMD2(repeating: 0xFFFF_FFFF),
             SIMD4(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD)),
            (SIMD4(0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), SIMD2(0xA409_3822, 0x299F_31D0),
             SIMD4(0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1)),
        ]
        for (counter, key, expected) in cases {
            #expect(CounterRandom.philox4x32_10(counter: counter, key: key) == expected, "Philox(\(counter), \(key))")
        }
    }

    @Test func blockLayoutIsSeedAsKeyAndIndexThenStreamAsCounter() {
        let random = CounterRandom(seed: 0x0123_4567_89AB_CDEF, stream: 5)
        let expected = CounterRandom.philox4x32_10(
            counter: SIMD4(0x89AB_CDEF, 0x0000_0007, UInt32(truncatingIfNeeded: random.stream),
                           UInt32(truncatingIfNeeded: random.stream >> 32)),
            key: SIMD2(0x89AB_CDEF, 0x0123_4567))
        #expect(random.block(0x7_89AB_CDEF) == expected)
        #expect(random.word(at: 4 * 9 + 2) == random.block(9)[2])
        #expect(random.uint64(at: 2 * 9 + 1) == UInt64(random.block(9)[2]) | UInt64(random.block(9)[3]) << 32)
    }

    @Test func drawsAreReproducible() {
        let a = CounterRandom(seed: 42, domain: .dropout, stream: 3, 17, 2)
        let b = CounterRandom(seed: 42, domain: .dropout, stream: 3, 17, 2)
        #expect(a == b)
        for index: UInt64 in [0, 1, 2, 3, 1000, UInt64.max] {
            #expect(a.uint64(at: index) == b.uint64(at: index))
            #expect(a.uniformFloat(at: index) == b.uniformFloat(at: index))
            #expect(a.normal(at: index) == b.normal(at: index))
        }
        // Filling from an offset gives the same numbers as filling from 0 and slicing.
        let whole = Tensor<Float>(shape: [100]), tail = Tensor<Float>(shape: [63])
        a.fillUniform(whole.pointer, count: 100)
        a.fillUniform(tail.pointer, count: 63, firstIndex: 37)
        #expect(Array(whole.array[37...]) == tail.array)
        #expect(whole.array[5] == a.uniformFloat(at: 5))
        let normals = Tensor<Double>(shape: [9]), shifted = Tensor<Double>(shape: [6])
        a.fillNormal(normals.pointer, count: 9, standardDeviation: 1)
        a.fillNormal(shifted.pointer, count: 6, standardDeviation: 1, firstIndex: 3)
        #expect(Array(normals.array[3...]) == shifted.array)
        #expect(normals.array == (0..<9).map { a.normal(at: UInt64($0)) })
    }

    @Test func differentKeysGiveDifferentNumbers() {
        let base = CounterRandom(seed: 1, stream: 2, 3)
        let others = [
            CounterRandom(seed: 2, stream: 2, 3),
            CounterRandom(seed: 1, stream: 3, 2),
            CounterRandom(seed: 1, stream: 2),
            CounterRandom(seed: 1, stream: 2, 3, 0),
            CounterRandom(seed: 1, streamWords: []),
            CounterRandom(seed: 1, domain: .dropout, stream: 2, 3),
        ]
        let baseWords = (0..<64).map { base.word(at: UInt64($0)) }
        for other in others {
            let words = (0..<64).map { other.word(at: UInt64($0)) }
            let equal = zip(baseWords, words).filter { $0 == $1 }.count
            #expect(equal == 0, "\(equal) of 64 words coincide between streams \(base) and \(other)")
        }
        // Neighbouring indices differ too.
        #expect(Set(baseWords).count == baseWords.count)
    }

    private func meanAndVariance(_ values: [Double]) -> (Double, Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (mean, variance)
    }

    @Test func uniformDrawsHaveUniformMoments() {
        let count = 100_000
        let random = CounterRandom(seed: 7, stream: 1)
        let floats = Tensor<Float>(shape: [count]), doubles = Tensor<Double>(shape: [count])
        random.fillUniform(floats.pointer, count: count)
        random.fillUniform(doubles.pointer, count: count)
        for (name, values) in [("Float", floats.doubles), ("Double", doubles.doubles)] {
            #expect(values.allSatisfy { $0 >= 0 && $0 < 1 }, "\(name) uniform outside [0, 1)")
            let (mean, variance) = meanAndVariance(values)
            // Standard errors: 1/√(12n) ≈ 0.0009 for the mean, ≈ 0.0003 for the variance.
            #expect(abs(mean - 0.5) < 0.005, "\(name) uniform mean \(mean)")
            #expect(abs(variance - 1.0 / 12) < 0.002, "\(name) uniform variance \(variance)")
            // Ten equal bins each hold about a tenth (σ ≈ 0.001).
            var bins = [Int](repeating: 0, count: 10)
            for v in values { bins[min(Int(v * 10), 9)] += 1 }
            #expect(bins.allSatisfy { abs(Double($0) / Double(count) - 0.1) < 0.006 }, "\(name) bins \(bins)")
        }
    }

    @Test func normalDrawsHaveNormalMoments() {
        let count = 100_000
        let random = CounterRandom(seed: 8, domain: .initialization, stream: 0)
        let x = Tensor<Double>(shape: [count])
        random.fillNormal(x.pointer, count: count, mean: 1, standardDeviation: 0.02)
        let (mean, variance) = meanAndVariance(x.doubles)
        #expect(abs(mean - 1) < 0.02 * 0.02, "normal mean \(mean)")
        #expect(abs(variance.squareRoot() / 0.02 - 1) < 0.02, "normal standard deviation \(variance.squareRoot())")
        let standard = x.doubles.map { ($0 - 1) / 0.02 }
        let kurtosis = standard.reduce(0) { $0 + $1 * $1 * $1 * $1 } / Double(count)
        #expect(abs(kurtosis - 3) < 0.15, "normal fourth moment \(kurtosis)")
        let withinOneSigma = Double(standard.filter { abs($0) < 1 }.count) / Double(count)
        #expect(abs(withinOneSigma - 0.6827) < 0.01, "fraction within 1σ: \(withinOneSigma)")
        // Float fill: the same numbers rounded.
        let xf = Tensor<Float>(shape: [10])
        random.fillNormal(xf.pointer, count: 10, mean: 1, standardDeviation: 0.02)
        #expect(xf.array == x.array.prefix(10).map { Float($0) })
    }

    @Test func permutationIsAPermutationDeterminedBySeedAndEpoch() {
        for count in [0, 1, 2, 7, 1000] {
            let order = permutation(count: count, seed: 3, epoch: 0)
            #expect(order.sorted() == Array(0..<count), "permutation(count: \(count)) is not a permutation")
            #expect(order == permutation(count: count, seed: 3, epoch: 0))
        }
        let base = permutation(count: 1000, seed: 3, epoch: 0)
        #expect(base != Array(0..<1000))
        #expect(base != permutation(count: 1000, seed: 3, epoch: 1))
        #expect(base != permutation(count: 1000, seed: 4, epoch: 0))
    }

    /// Each of 5 items lands in each of 5 positions about equally often over 4000 epochs
    /// (expected 800, σ ≈ 25).
    @Test func permutationPositionsAreUniform() {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 5), count: 5)
        for epoch in 0..<4000 {
            for (position, item) in permutation(count: 5, seed: 11, epoch: epoch).enumerated() {
                counts[item][position] += 1
            }
        }
        #expect(counts.joined().allSatisfy { abs($0 - 800) < 125 }, "position counts \(counts)")
    }

    @Test func dropoutKeepsAboutOneMinusPAndScales() {
        let count = 100_000, p = 0.3
        let random = CounterRandom(seed: 5, domain: .dropout, stream: 1, 2, 3)
        let x = Tensor<Float>(shape: [count]); x.fill(2)
        let y = Tensor<Float>(shape: [count])
        dropout(x.pointer, into: y.pointer, count: count, probability: p, random: random)
        let kept = y.array.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == Float(2 / (1 - p)) })
        #expect(abs(Double(kept.count) / Double(count) - (1 - p)) < 0.006, "kept fraction \(Double(kept.count) / Double(count))")
        // The mask is the generator's: element i kept iff word(at: i) ≥ ⌈p·2³²⌉.
        let threshold = UInt64((p * 0x1p32).rounded(.up))
        #expect((0..<1000).allSatisfy { (y[$0] != 0) == (UInt64(random.word(at: UInt64($0))) >= threshold) })

        // The backward pass is the same call on dy: the same mask.
        let dy = Tensor<Float>(shape: [count]); dy.fill(-1)
        let dx = Tensor<Float>(shape: [count])
        dropout(dy.pointer, into: dx.pointer, count: count, probability: p, random: random)
        #expect(zip(y.array, dx.array).allSatisfy { ($0 == 0) == ($1 == 0) })

        // A slice from an offset reproduces the same mask (any split into micro-batches).
        let part = Tensor<Float>(shape: [50])
        dropout(x.pointer, into: part.pointer, count: 50, probability: p, random: random, firstIndex: 101)
        #expect(part.array == Array(y.array[101..<151]))

        // p = 0 copies; another stream gives another mask.
        dropout(x.pointer, into: y.pointer, count: count, probability: 0, random: random)
        #expect(y.array == x.array)
        dropout(x.pointer, into: y.pointer, count: count, probability: p, random: CounterRandom(seed: 5, domain: .dropout, stream: 1, 2, 4))
        #expect(zip(y.array, dx.array).contains { ($0 == 0) != ($1 == 0) })
        keepAlive(x, dy)
    }

    /// Dropout is linear in x with a fixed mask, so its backward (the same call on dy) must match
    /// central differences of L(x) = Σ w ⊙ dropout(x).
    @Test func dropoutBackwardMatchesFiniteDifferences() {
        let count = 33, p = 0.4
        let random = CounterRandom(seed: 9, domain: .dropout, stream: 0, 1, 2)
        var generator = TestInputs(seed: 6)
        let x = generator.array(count), w = generator.array(count)
        let loss: ([Double]) -> Double = { input in
            let tx = Tensor<Double>(shape: [count], doubles: input), ty = Tensor<Double>(shape: [count])
            dropout(tx.pointer, into: ty.pointer, count: count, probability: p, random: random)
            keepAlive(tx)
            return weightedSum(ty.doubles, w)
        }
        let dy = Tensor<Double>(shape: [count], doubles: w), dx = Tensor<Double>(shape: [count])
        dropout(dy.pointer, into: dx.pointer, count: count, probability: p, random: random)
        keepAlive(dy)
        #expect(dx.doubles.contains(0) && dx.doubles.contains { $0 != 0 })
        expectGradientMatches(dx.doubles, numericalGradient(at: x, loss), "dropout backward")
    }
}
