
/// The gradient all-reduce of `train.allreduce_dtype: bf16`: values travel as bfloat16, half the
/// bytes of fp32 both ways, and every partial sum is fp32.
///
///     g[i] ← bf16( Σ_{r = 0, 1, …, P−1} bf16(g_r[i]) )    fp32 additions in rank order, one rounding
///                                                           of the sum; the same bits on every rank
///
/// Per bucket (a contiguous slice of the gradient buffer; the whole buffer without overlap), as a
/// reduce-scatter followed by an all-gather over P shards of ⌈length/P⌉ elements:
///
///  1. every rank rounds the bucket to bf16 (nearest even) and sends shard j to rank j
///     (`MPI_Ialltoall`, 2 bytes per element);
///  2. once that has arrived, rank r adds the P bf16 copies of its shard in fp32, rank 0 first,
///     and rounds the sum to bf16;
///  3. the rounded shard sums are gathered on every rank (`MPI_Iallgather`, 2 bytes per element)
///     and widened back into the gradient buffer.
///
/// Each element's result depends only on the P values of that element, so any cut into buckets
/// gives the same bits. Step 2 runs when a bucket's all-to-all is seen complete, which happens at
/// different moments on different ranks; MPI requires every rank to start the collectives of one
/// communicator in the same order, so the all-gathers run on a duplicate of the communicator,
/// in bucket order (the all-to-alls on the original, in bucket order too).
///
/// Each rank sends (P−1)/P · (2 + 2) bytes per element where a ring all-reduce of fp32 sends
/// (P−1)/P · 8: half the bytes. Buffers are allocated once (`init`) for up to `maxBuckets` buckets
/// per step; a step allocates only the request objects. The rounding is `TensorKernels.BFloat16`'s
/// (nearest even, NaN quiet), restated here because this module depends on MPI alone;
/// `flowformer selftest` checks the result bitwise against `TensorKernels.BFloat16`.
final class BFloat16GradientExchange {
    private let communicator: Communicator
    /// A duplicate of `communicator` for the all-gathers (see above), made by the first bucket
    /// (a collective: every rank reaches it at the same point of the first step).
    private var gatherCommunicator: Communicator?
    private let count: Int
    private let maxBuckets: Int
    /// Per bucket b, a region [P, shard_b] at `offset_b`: the bucket rounded to bf16 (sent by the
    /// all-to-all), then the rounded shard sums of every rank (filled by the all-gather).
    private let outgoing: UnsafeMutablePointer<UInt16>
    /// Per bucket, [P, shard_b] at the same offset: every rank's copy of this rank's shard.
    private let incoming: UnsafeMutablePointer<UInt16>
    private let sums: UnsafeMutablePointer<Float>        // [⌈count / P⌉]: one shard summed in fp32
    /// Elements of `outgoing` and of `incoming`: count plus each bucket's padding.
    private let capacity: Int

    private struct Bucket {
        let range: Range<Int>
        let shard: Int
        let offset: Int
        let scatter: MPIRequest
        var gather: MPIRequest?
    }
    private var buckets: [Bucket] = []
    /// Buckets before this index have started their all-gather.
    private var gathered = 0
    /// Elements of `outgoing` / `incoming` used by this step's buckets.
    private var used = 0

    /// - Parameter maxBuckets: the most buckets one step starts (each adds at most P − 1
    ///   elements of padding to the buffers).
    init(communicator: Communicator, count: Int, maxBuckets: Int = 1) {
        self.communicator = communicator
        self.count = count
        self.maxBuckets = max(1, maxBuckets)
        let ranks = communicator.size
        let largestShard = max(1, (count + ranks - 1) / ranks)
        precondition(largestShard * 2 <= Int(Int32.max), "BFloat16GradientExchange: shard of \(largestShard) elements too large")
        capacity = count + ranks * self.maxBuckets
        outgoing = .allocate(capacity: capacity)
        incoming = .allocate(capacity: capacity)
        sums = .allocate(capacity: largestShard)
        outgoing.initialize(repeating: 0, count: capacity)
        incoming.initialize(repeating: 0, count: capacity)
        sums.initialize(repeating: 0, count: largestShard)
        buckets.reserveCapacity(self.maxBuckets)
    }

    deinit {
        outgoing.deallocate()
        incoming.deallocate()
        sums.deallocate()
        gatherCommunicator?.free()
    }

    /// Starts a step: no bucket in flight.
    func begin() {
        buckets.removeAll(keepingCapacity: true)
        gathered = 0
        used = 0
    }

    /// gradients[0 ..< count] ← bf16 of the fp32 sum over ranks of the bf16-rounded gradients,
    /// as one bucket.
    func allReduce(_ gradients: UnsafeMutablePointer<Float>, timeoutSeconds: Double) throws {
        begin()
        try start(0 ..< count, of: gradients)
        try finish(gradients, timeoutSeconds: timeoutSeconds)
    }

    /// Rounds gradients[range] to bf16 and starts its all-to-all (every rank, same ranges, same order).
    func start(_ range: Range<Int>, of gradients: UnsafeMutablePointer<Float>) throws {
        if gatherCommunicator == nil { gatherCommunicator = try communicator.duplicate() }
        let ranks = communicator.size
        let shard = max(1, (range.count + ranks - 1) / ranks)
        precondition(buckets.count < maxBuckets && used + ranks * shard <= capacity,
                     "BFloat16GradientExchange: more than \(maxBuckets) buckets in one step")
        let send = outgoing + used
        var i = 0
        while i < range.count {
            send[i] = Self.bfloat16Bits(gradients[range.lowerBound &+ i])
            i &+= 1
        }
        (send + range.count).update(repeating: 0, count: ranks * shard - range.count)   // padding of the last shard
        let scatter = try communicator.allToAllNonBlocking(send: send, receive: incoming + used, blockBytes: shard * 2)
        buckets.append(Bucket(range: range, shard: shard, offset: used, scatter: scatter, gather: nil))
        used += ranks * shard
    }

    /// Sums and starts the all-gather of every bucket whose all-to-all has arrived, in bucket
    /// order (stops at the first one still in flight); tests the all-gathers in flight.
    func progress() throws {
        while gathered < buckets.count, try buckets[gathered].scatter.test() {
            try startGather(gathered)
            gathered += 1
        }
        for bucket in buckets[..<gathered] {
            if let gather = bucket.gather, !gather.isComplete { _ = try gather.test() }
        }
    }

    /// Waits for every bucket started this step and writes the sums into `gradients`.
    func finish(_ gradients: UnsafeMutablePointer<Float>, timeoutSeconds: Double) throws {
        while gathered < buckets.count {
            try buckets[gathered].scatter.wait(seconds: timeoutSeconds)
            try startGather(gathered)
            gathered += 1
        }
        for bucket in buckets {
            try bucket.gather?.wait(seconds: timeoutSeconds)
            let result = outgoing + bucket.offset
            var i = 0
            while i < bucket.range.count {
                gradients[bucket.range.lowerBound &+ i] = Float(bitPattern: UInt32(result[i]) << 16)
                i &+= 1
            }
        }
    }

    /// Bucket `index`: this rank's shard summed in fp32 (rank 0 first), rounded, and its
    /// all-gather started.
    private func startGather(_ index: Int) throws {
        guard let gatherCommunicator else { preconditionFailure("a bucket's all-gather before its start") }
        let bucket = buckets[index]
        let ranks = communicator.size, shard = bucket.shard
        let copies = incoming + bucket.offset   // copies[j, ·]: rank j's bf16 copy of this rank's shard
        for e in 0..<shard { sums[e] = 0 }
        for j in 0..<ranks {
            let copy = copies + j * shard
            var e = 0
            while e < shard {
                sums[e] += Float(bitPattern: UInt32(copy[e]) << 16)
                e &+= 1
            }
        }
        // The all-to-all has completed: the bucket's `outgoing` region now collects the rounded
        // sums, this rank's in place.
        let own = outgoing + bucket.offset + communicator.rank * shard
        for e in 0..<shard { own[e] = Self.bfloat16Bits(sums[e]) }
        buckets[index].gather = try gatherCommunicator.allGatherNonBlocking(outgoing + bucket.offset,
                                                                            blockBytes: shard * 2)
    }

    /// The bf16 bit pattern nearest to x (ties to even; NaN stays NaN, made quiet).
    @inline(__always)
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        let pattern = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: pattern >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (pattern &+ 0x7FFF &+ ((pattern >> 16) & 1)) >> 16)
    }
}
