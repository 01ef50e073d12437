import MPIComm
import TensorKernels

/// The `train.allreduce_dtype: bf16` check of `flowformer selftest`: a gradient buffer reduced by
/// `GradientReducer(bfloat16OnTheWire: true)`, bucket by bucket during the announcements and all at
/// once, equals, bitwise on every rank, the bf16 rounding of
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
        var problems: [String] = []
        // Overlapped: ranges of 37 announced downward, buckets of 64 elements (odd lengths, padded
        // shards, many buckets in flight), two steps; then the whole buffer at once.
        for overlap in [true, false] {
            var reduced = gradients
            try reduced.withUnsafeMutableBufferPointer { buffer in
                let reducer = GradientReducer(communicator: world, gradients: buffer.baseAddress!, count: length,
                                              bucketBytes: 256, overlap: overlap, timeoutSeconds: watchdogSeconds,
                                              bfloat16OnTheWire: true)
                for step in 0..<2 {
                    if step == 1 { buffer.baseAddress!.update(from: gradients, count: length) }
                    reducer.begin()
                    var end = length
                    while end > 0 {
                        let start = max(0, end - 37)
                        try reducer.gradientsReady(start ..< end)
                        end = start
                    }
                    try reducer.finish()
                }
            }
            let wrong = (0..<length).filter { reduced[$0].bitPattern != expected[$0].bitPattern }
            if let first = wrong.first {
                problems.append("bf16 gradient all-reduce (overlap \(overlap)): \(wrong.count) of \(length) sums "
                                + "differ from the bf16-rounded fp32 sum of the bf16-rounded values (index \(first): "
                                + "\(reduced[first]), expected \(expected[first]))")
            }
        }
        return problems
    }
}
