/// SplitMix64 (Steele, Lea & Flood 2014): add the golden-ratio increment to the state, then mix
/// it. The tests' deterministic source of inputs, kept apart from the project's `CounterRandom`
/// so that a test never depends on a generator it may be testing.
public struct SplitMix64: RandomNumberGenerator {
    public private(set) var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Marsaglia's xorshift64 (shifts 13, 7, 17), started from `seed` · golden ratio | 1 (never 0):
/// the kernel tests' stream of operand bits.
public struct XorShift64 {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    public mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}

/// `count` deterministic Floats in [−1, 1) with all 24 bits of precision (so that rounding to
/// bf16 matters): the top 24 bits of `XorShift64(seed:)`, scaled.
public func xorshiftFloats(_ count: Int, seed: UInt64) -> [Float] {
    var stream = XorShift64(seed: seed)
    return (0..<count).map { _ in Float(stream.next() >> 40) / Float(1 << 23) - 1 }
}
