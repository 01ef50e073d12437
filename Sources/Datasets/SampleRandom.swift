// Random numbers for data order and augmentation, keyed by counters so that they depend only on
// (seed, epoch, sample) — never on how many ranks there are or what was drawn before.
//
// The mixing function is SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection of UInt64
// with good avalanche, applied to a key built from the counters.

/// SplitMix64 finaliser: z ← (z ⊕ z≫30)·0xbf58476d1ce4e5b9; z ← (z ⊕ z≫27)·0x94d049bb133111eb; z ⊕ z≫31.
@inline(__always)
func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
}

/// 64 random bits for counter `counter` of the stream keyed by (seed, domain, epoch, sample).
/// `domain` separates independent uses (shuffle, crop, flip) of the same seed.
@inline(__always)
func counterBits(seed: UInt64, domain: UInt64, epoch: UInt64, sample: UInt64, counter: UInt64 = 0) -> UInt64 {
    let golden: UInt64 = 0x9e37_79b9_7f4a_7c15
    var key = mix64(seed &+ golden &* (domain &+ 1))
    key = mix64(key ^ (epoch &* golden))
    key = mix64(key ^ (sample &* 0xd1b5_4a32_d192_ed03))
    return mix64(key &+ counter &* golden)
}

/// A uniform integer in 0..<bound from 64 random bits (Lemire's multiply-shift; the bias is below
/// bound/2⁶⁴, negligible for dataset sizes).
@inline(__always)
func boundedValue(_ bits: UInt64, below bound: Int) -> Int {
    Int(bits.multipliedFullWidth(by: UInt64(bound)).high)
}

enum RandomDomain {
    static let shuffle: UInt64 = 1
    static let crop: UInt64 = 2
    static let flip: UInt64 = 3
}

/// The order of epoch `epoch`: a permutation of 0..<count drawn from (seed, epoch) alone
/// (Fisher–Yates; swap i with a uniform j ≤ i, for i = count−1 … 1, using counter i).
public func epochPermutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    precondition(count >= 0, "epochPermutation: negative count \(count)")
    precondition(epoch >= 0, "epochPermutation: negative epoch \(epoch)")
    var order = Array(0..<count)
    order.withUnsafeMutableBufferPointer { order in
        var i = count - 1
        while i > 0 {
            let bits = counterBits(seed: seed, domain: RandomDomain.shuffle, epoch: UInt64(epoch),
                                   sample: 0, counter: UInt64(i))
            let j = boundedValue(bits, below: i + 1)
            order.swapAt(i, j)
            i -= 1
        }
    }
    return order
}
