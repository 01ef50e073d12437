
/// The gradient all-reduce of `train.allreduce_dtype: bf16`: values travel as bfloat16, half the
/// bytes of fp32 both ways, and every partial sum is fp32.
///
///     g[i] ← bf16( Σ_{r = 0, 1, …, P−1} bf16(g_r[i]) )    fp32 additions in rank order, one rounding
///                                                           of the sum; the same bits on every rank
///
/// As a reduce-scatter followed by an all-gather, over P shards of ⌈count/P⌉ elements:
///
///  1. every rank rounds its gradient to bf16 (nearest even) and sends shard j to rank j
///     (`MPI_Ialltoall`, 2 bytes per element);
///  2. rank r adds the P bf16 copies of its shard in fp32, rank 0 first, and rounds the sum to bf16;
///  3. the rounded shard sums are gathered on every rank (`MPI_Iallgather`, 2 bytes per element).
///
/// Each rank sends (P−1)/P · (2 + 2) bytes per element where a ring all-reduce of fp32 sends
/// (P−1)/P · 8: half the bytes. Buffers are allocated once (`init`); a step allocates nothing.
/// The rounding is `TensorKernels.BFloat16`'s (nearest even, NaN quiet), restated here because
/// this module depends on MPI alone; `flowformer selftest` checks the result bitwise against
/// `TensorKernels.BFloat16`.
final class BFloat16GradientExchange {
    private let communicator: Communicator
    private let count: Int
    /// Elements per shard: ⌈count / P⌉ (the last shard zero-padded).
    private let shard: Int
    /// [P, shard]: this rank's rounded gradient (sent by the all-to-all), then, once that is
    /// done, every rank's rounded shard sums (filled by the all-gather).
    private let outgoing: UnsafeMutablePointer<UInt16>
    private let incoming: UnsafeMutablePointer<UInt16>   // [P, shard]: every rank's copy of this rank's shard
    private let sums: UnsafeMutablePointer<Float>        // [shard]: this rank's shard summed in fp32

    init(communicator: Communicator, count: Int) {
        self.communicator = communicator
        self.count = count
        let ranks = communicator.size
        shard = max(1, (count + ranks - 1) / ranks)
        precondition(shard * 2 <= Int(Int32.max), "BFloat16GradientExchange: shard of \(shard) elements too large")
        outgoing = .allocate(capacity: ranks * shard)
        incoming = .allocate(capacity: ranks * shard)
        sums = .allocate(capacity: shard)
        outgoing.initialize(repeating: 0, count: ranks * shard)
        incoming.initialize(repeating: 0, count: ranks * shard)
        sums.initialize(repeating: 0, count: shard)
    }

    deinit {
        outgoing.deallocate()
        incoming.deallocate()
        sums.deallocate()
    }

    /// gradients[0 ..< count] ← bf16 of the fp32 sum over ranks of the bf16-rounded gradients.
    func allReduce(_ gradients: UnsafeMutablePointer<Float>, timeoutSeconds: Double) throws {
        let ranks = communicator.size, rank = communicator.rank
        var i = 0
        while i < count {
            outgoing[i] = Self.bfloat16Bits(gradients[i])
            i &+= 1
        }
        try communicator.allToAllNonBlocking(send: outgoing, receive: incoming, blockBytes: shard * 2)
            .wait(seconds: timeoutSeconds)
        // incoming[j, ·] is rank j's bf16 copy of shard `rank`.
        for e in 0..<shard { sums[e] = 0 }
        for j in 0..<ranks {
            let copy = incoming + j * shard
            var e = 0
            while e < shard {
                sums[e] += Float(bitPattern: UInt32(copy[e]) << 16)
                e &+= 1
            }
        }
        // The all-to-all has completed: `outgoing` now collects the rounded sums, this rank's in place.
        let own = outgoing + rank * shard
        for e in 0..<shard { own[e] = Self.bfloat16Bits(sums[e]) }
        try communicator.allGatherNonBlocking(outgoing, blockBytes: shard * 2).wait(seconds: timeoutSeconds)
        i = 0
        while i < count {
            gradients[i] = Float(bitPattern: UInt32(outgoing[i]) << 16)
            i &+= 1
        }
    }

    /// The bf16 bit pattern nearest to x (ties to even; NaN stays NaN, made quiet).
    @inline(__always)
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        let pattern = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: pattern >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (pattern &+ 0x7FFF &+ ((pattern >> 16) & 1)) >> 16)
    }
}
