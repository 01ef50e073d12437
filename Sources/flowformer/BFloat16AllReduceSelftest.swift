import MPIComm
import TensorKernels

/// The `train.allreduce_dtype: bf16` check of `flowformer selftest`: a gradient buffer reduced by
/// `GradientReducer(bfloat16OnTheWire: true)` equals, bitwise on every rank, the bf16 rounding of
/// the fp32 sum (rank 0 first) of every rank's bf16-rounded values — computed here from the closed
/// form of each rank's values.
///
/// Rank r contributes pseudo-random values with full Float precision over twenty binades (so the
/// rounding to bf16 matters), and +∞ at index 7 on every rank (kept through the exchange).
enum BFloat16AllReduceSelftest {
    /// Not a multiple of 2 or 3, so the last shard is padded.
    static let length = 1001

    /// Rank r's gradient at index i.
    static func value(rank: Int, index i: Int) -> Float {
        var state = UInt64(truncatingIfNeeded: (rank + 1) &* 0x9E37_79B9 &+ i &* 0x85EB_CA6B) | 1
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        let unit = Float(state >> 40) / Float(1 << 24)             // [0, 1)
        return (unit - 0.5) * Float(1 << (i % 20))                    // several binades
    }

    static func run(world: Communicator, watchdogSeconds: Double) throws -> [String] {
        var gradients = (0..<length).map { value(rank: world.rank, index: $0) }
        gradients[7] = .infinity
        var expected = [Float](repeating: 0, count: length)
        for i in 0..<length {
            var sum: Float = 0
            for r in 0..<world.size {
                sum += BFloat16.rounded(i == 7 ? .infinity : value(rank: r, index: i))
            }
            expected[i] = world.size == 1 ? gradients[i] : BFloat16.rounded(sum)   // one rank: nothing travels
        }
        try gradients.withUnsafeMutableBufferPointer { buffer in
            let reducer = GradientReducer(communicator: world, gradients: buffer.baseAddress!, count: length,
                                          bucketBytes: 256, overlap: true, timeoutSeconds: watchdogSeconds,
                                          bfloat16OnTheWire: true)
            reducer.begin()
            try reducer.gradientsReady(0 ..< length)
            try reducer.finish()
        }
        let wrong = (0..<length).filter { gradients[$0].bitPattern != expected[$0].bitPattern }
        guard let first = wrong.first else { return [] }
        return ["bf16 gradient all-reduce: \(wrong.count) of \(length) sums differ from the bf16-rounded fp32 sum "
                + "of the bf16-rounded values (index \(first): \(gradients[first]), expected \(expected[first]))"]
    }
}
