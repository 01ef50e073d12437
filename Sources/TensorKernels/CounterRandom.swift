#if canImport(Glibc)
import Glibc
#endif

/// What a random stream is for. Its raw value is the first stream word, so that, say, the dropout
/// stream of (step 3, sample 5) and the data order of epoch 3 never share numbers.
public enum RandomDomain: UInt64, Sendable {
    /// Epoch permutations of the training samples: stream (dataOrder, epoch).
    case dataOrder = 1
    /// Dropout masks: stream (dropout, step, global sample index, layer, site).
    case dropout = 2
    /// Parameter initialisation: stream (initialization, parameter index).
    case initialization = 3
    /// Sampling generated tokens: stream (sampling); draw t picks generated token t.
    case sampling = 4
}

/// A counter-based random generator: every number is a pure function of (seed, stream, index),
/// so any draw can be recomputed anywhere — by any rank, after a resume — without carrying state.
///
/// Algorithm: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as
/// 1, 2, 3", SC 2011). A block function maps a 128-bit counter and a 64-bit key through ten rounds
/// of two 32×32→64-bit multiplications to four 32-bit words. Here
///
///     key     = (seed low 32 bits, seed high 32 bits)
///     counter = (blockIndex low, blockIndex high, stream low, stream high)
///
/// where `stream` is a 64-bit hash (SplitMix64 finaliser chain, see `hashStream`) of the stream
/// words, e.g. (dropout, step, sample, layer). Two different stream tuples share numbers only if
/// their hashes collide (probability 2⁻⁶⁴ per pair).
///
/// Draws are numbered by an index. Each draw kind has its own index space over the same blocks:
/// `word(at: w)` is word w mod 4 of block w/4; `uint64(at: i)` is words 2i, 2i+1 (low, high);
/// `uniformFloat(at: w)` uses word w; `uniformDouble(at: i)` and `normal(at: i)` use 64-bit draws.
public struct CounterRandom: Hashable, Sendable {
    /// The key: the run's seed.
    public let seed: UInt64
    /// The 64-bit hash of the stream words.
    public let stream: UInt64

    /// A generator for `seed` and the stream named by `words` (any number, including none).
    public init(seed: UInt64, stream words: UInt64...) {
        self.init(seed: seed, streamWords: words)
    }

    /// A generator for `seed` and the stream (domain, words…).
    public init(seed: UInt64, domain: RandomDomain, stream words: UInt64...) {
        self.init(seed: seed, streamWords: [domain.rawValue] + words)
    }

    public init(seed: UInt64, streamWords: [UInt64]) {
        self.seed = seed
        self.stream = CounterRandom.hashStream(streamWords)
    }

    /// h₀ = mix(count), h_{k+1} = mix(h_k ⊕ w_k), where mix(z) is the SplitMix64 output function
    /// (add the golden-ratio increment 0x9E3779B97F4A7C15, then xor-shift-multiply twice and
    /// xor-shift). The count makes (a) and (a, 0) differ.
    public static func hashStream(_ words: [UInt64]) -> UInt64 {
        var h = splitMix64(UInt64(words.count))
        for w in words { h = splitMix64(h ^ w) }
        return h
    }

    /// The SplitMix64 output function of z (Steele, Lea & Flood 2014).
    @inlinable
    public static func splitMix64(_ z: UInt64) -> UInt64 {
        var v = z &+ 0x9E37_79B9_7F4A_7C15
        v = (v ^ (v >> 30)) &* 0xBF58_476D_1CE4_E5B9
        v = (v ^ (v >> 27)) &* 0x94D0_49BB_1331_11EB
        return v ^ (v >> 31)
    }

    /// The Philox4x32-10 block function. Each round, with multipliers M₀ = 0xD2511F53,
    /// M₁ = 0xCD9E8D57 and (hi, lo) the halves of a 64-bit product:
    ///
    ///     (c₀, c₁, c₂, c₃) ← (hi(M₁c₂) ⊕ c₁ ⊕ k₀, lo(M₁c₂), hi(M₀c₀) ⊕ c₃ ⊕ k₁, lo(M₀c₀))
    ///
    /// and between rounds the key advances by the Weyl increments (0x9E3779B9, 0xBB67AE85).
    @inlinable
    public static func philox4x32_10(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3]
        var k0 = key[0], k1 = key[1]
        for round in 0..<10 {
            if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
            let product0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let product1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let next0 = UInt32(truncatingIfNeeded: product1 >> 32) ^ c1 ^ k0
            let next2 = UInt32(truncatingIfNeeded: product0 >> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: product1)
            c3 = UInt32(truncatingIfNeeded: product0)
            c0 = next0
            c2 = next2
        }
        return SIMD4(c0, c1, c2, c3)
    }

    /// The four 32-bit words of block `index`.
    @inlinable
    public func block(_ index: UInt64) -> SIMD4<UInt32> {
        CounterRandom.philox4x32_10(
            counter: SIMD4(UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                           UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
            key: SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// 32-bit draw w: word w mod 4 of block w/4.
    @inlinable
    public func word(at index: UInt64) -> UInt32 {
        block(index >> 2)[Int(index & 3)]
    }

    /// 64-bit draw i: words 2i (low half) and 2i + 1 (high half).
    @inlinable
    public func uint64(at index: UInt64) -> UInt64 {
        let words = block(index >> 1)
        let first = Int(index & 1) &* 2
        return UInt64(words[first]) | UInt64(words[first &+ 1]) << 32
    }

    /// Uniform on [0, 1) with 24 random bits: (word(at: index) >> 8) · 2⁻²⁴.
    @inlinable
    public func uniformFloat(at index: UInt64) -> Float {
        Float(word(at: index) >> 8) * 0x1p-24
    }

    /// Uniform on [0, 1) with 53 random bits: (uint64(at: index) >> 11) · 2⁻⁵³.
    @inlinable
    public func uniformDouble(at index: UInt64) -> Double {
        Double(uint64(at: index) >> 11) * 0x1p-53
    }

    /// Standard normal by Box–Muller: block ⌊index/2⌋ gives u₁ ∈ (0, 1] (words 0, 1) and
    /// u₂ ∈ [0, 1) (words 2, 3), each with 53 bits; with ρ = √(−2 ln u₁) and θ = 2πu₂,
    /// an even index returns ρ·cos θ and the odd index after it ρ·sin θ (an independent pair).
    public func normal(at index: UInt64) -> Double {
        let (cosine, sine) = normalPair(block: index >> 1)
        return index & 1 == 0 ? cosine : sine
    }

    /// The pair (ρ cos θ, ρ sin θ) of block `blockIndex` (see `normal(at:)`).
    public func normalPair(block blockIndex: UInt64) -> (Double, Double) {
        let words = block(blockIndex)
        let first = UInt64(words[0]) | UInt64(words[1]) << 32
        let second = UInt64(words[2]) | UInt64(words[3]) << 32
        let u1 = (Double(first >> 11) + 1) * 0x1p-53
        let u2 = Double(second >> 11) * 0x1p-53
        let radius = (-2 * Glibc.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (radius * Glibc.cos(angle), radius * Glibc.sin(angle))
    }

    /// x[i] = a uniform draw on [0, 1) at index firstIndex + i, at the element type's precision:
    /// `uniformFloat(at:)` for Float, `uniformDouble(at:)` for Double.  x: [count]
    @inlinable
    public func fillUniform<Scalar: TensorScalar>(
        _ x: UnsafeMutablePointer<Scalar>, count: Int, firstIndex: UInt64 = 0
    ) {
        let bits = Scalar.significandBitCount + 1
        let unit = Scalar(sign: .plus, exponent: Scalar.Exponent(-bits), significand: 1)  // 2^(−bits)
        if bits <= 32 {
            for i in 0..<count {
                x[i] = Scalar(word(at: firstIndex &+ UInt64(i)) >> UInt32(32 - bits)) * unit
            }
        } else {
            for i in 0..<count {
                x[i] = Scalar(uint64(at: firstIndex &+ UInt64(i)) >> UInt64(64 - bits)) * unit
            }
        }
    }

    /// x[i] = mean + standardDeviation · normal(at: firstIndex + i) — e.g. weight initialisation
    /// normal(0, 0.02).  x: [count]
    public func fillNormal<Scalar: TensorScalar>(
        _ x: UnsafeMutablePointer<Scalar>, count: Int,
        mean: Double = 0, standardDeviation: Double, firstIndex: UInt64 = 0
    ) {
        precondition(standardDeviation >= 0, "fillNormal: standard deviation \(standardDeviation) is negative")
        var i = 0
        while i < count {
            let index = firstIndex &+ UInt64(i)
            let (cosine, sine) = normalPair(block: index >> 1)
            if index & 1 == 0 {
                x[i] = Scalar(mean + standardDeviation * cosine)
                if i + 1 < count { x[i + 1] = Scalar(mean + standardDeviation * sine) }
                i += 2
            } else {
                x[i] = Scalar(mean + standardDeviation * sine)
                i += 1
            }
        }
    }
}

/// A uniformly random permutation of 0..<count determined by (seed, epoch) alone: the epoch's
/// sample order.
///
/// Fisher–Yates from the back: for i = count−1 down to 1, swap positions i and j, where
/// j = ⌊u·(i+1)/2⁶⁴⌋ and u = uint64(at: count−1−i) of CounterRandom(seed, stream (dataOrder,
/// epoch)). The multiply-shift maps u to 0…i with a bias below (i+1)/2⁶⁴ per step — negligible
/// for any dataset (< 10⁻¹⁰ at a billion samples), and no rejection loop is needed.
public func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    precondition(count >= 0, "permutation: count \(count) is negative")
    precondition(epoch >= 0, "permutation: epoch \(epoch) is negative")
    let random = CounterRandom(seed: seed, domain: .dataOrder, stream: UInt64(epoch))
    var order = Array(0..<count)
    var draw: UInt64 = 0
    var i = count - 1
    while i > 0 {
        let j = random.uint64(at: draw).multipliedFullWidth(by: UInt64(i + 1)).high
        order.swapAt(i, Int(j))
        draw += 1
        i -= 1
    }
    return order
}
