#if canImport(Glibc)
import Glibc
#endif
import MPIComm
import Optimizers

/// The sharded side of a ZeRO stage 1 step (`train.shard_optimizer: true`): rank r owns the
/// contiguous slice `shards[r]` of the flat parameter buffer (whole norm chunks, `ShardLayout`)
/// and keeps the optimizer state for it alone.
///
/// One step:
/// 1. `GradientReducer` reduce-scatters each gradient bucket as backward finishes it, in place
///    (`MPI_IN_PLACE`): rank r's sum of the bucket's part inside its shard lands at the start
///    of the bucket, and `finishReduction` moves it to where it belongs, so afterwards
///    `gradient` (`gradients + shard.lowerBound`, `[shard.count]`) holds this rank's reduced
///    shard — no receive buffer. On 2 ranks every element's sum is a + b, as in the all-reduce,
///    so the result is bitwise that of the unsharded run.
/// 2. `norm()`: each rank computes the squared sums of its shard's norm chunks; an all-reduce
///    (sum) of the `[chunkCount]` Doubles — each entry nonzero on one rank only, so the sum is
///    exact — gives every rank every chunk's sum, added in chunk order as `gradientNorm` does:
///    the same bits as the unsharded norm.
/// 3. The caller clips `gradient` and steps the optimizer on the shard.
/// 4. `allGather()`: every rank's updated slice goes to every rank (in place).
final class ShardedGradient: BucketReduction {
    let layout: ShardLayout
    let rank: Int
    let worldSize: Int
    /// Every rank's shard, in rank order.
    let shards: [Range<Int>]
    var shard: Range<Int> { shards[rank] }
    /// This rank's reduced gradients after `finishReduction`, `[shard.count]`: a view of the
    /// model's gradient buffer at the shard.
    let gradient: UnsafeMutablePointer<Float>
    private let gradients: UnsafeMutablePointer<Float>
    /// Squared sum of each norm chunk (this rank's filled in, then all ranks' after the reduce), `[chunkCount]`.
    private var chunkSums: [Double]
    /// Shard lengths and starts as MPI wants them (`[worldSize]` each), for the all-gather.
    private let counts: UnsafeMutablePointer<Int32>
    private let displacements: UnsafeMutablePointer<Int32>
    /// Receive counts of each bucket of a step, `[worldSize]` each, made at the first step and
    /// reused (backward announces the same buckets every step); `bucketRanges` checks that.
    private var bucketCounts: [UnsafeMutablePointer<Int32>] = []
    private var bucketRanges: [Range<Int>] = []
    private var bucketsThisStep = 0

    /// - Parameter gradients: the model's gradient buffer, `[count]`.
    init(gradients: UnsafeMutablePointer<Float>, count: Int, rank: Int, worldSize: Int) {
        precondition(count < Int(Int32.max), "a sharded optimizer state needs fewer than 2^31 parameters")
        let layout = ShardLayout(count: count)
        self.layout = layout
        self.rank = rank
        self.worldSize = worldSize
        shards = (0 ..< worldSize).map { layout.shard(ofRank: $0, worldSize: worldSize) }
        self.gradients = gradients
        gradient = gradients + shards[rank].lowerBound
        chunkSums = [Double](repeating: 0, count: layout.chunkCount)
        counts = .allocate(capacity: worldSize)
        displacements = .allocate(capacity: worldSize)
        for (r, range) in shards.enumerated() {
            counts[r] = Int32(range.count)
            displacements[r] = Int32(range.lowerBound)
        }
    }

    deinit {
        counts.deallocate()
        displacements.deallocate()
        for pointer in bucketCounts { pointer.deallocate() }
    }

    /// Before a step's first bucket.
    func beginStep() { bucketsThisStep = 0 }

    /// Starts the in-place reduce-scatter of `gradients[range]` (a bucket): each rank receives
    /// the sum of the part of `range` inside its shard, at `gradients + range.lowerBound`.
    func startReduceScatter(_ range: Range<Int>, communicator: Communicator) throws -> MPIRequest {
        let index = bucketsThisStep
        bucketsThisStep += 1
        if index == bucketCounts.count {
            bucketCounts.append(.allocate(capacity: worldSize))
            bucketRanges.append(0 ..< 0)
        }
        let receiveCounts = bucketCounts[index]
        if bucketRanges[index] != range {
            bucketRanges[index] = range
            for (r, owned) in shards.enumerated() {
                receiveCounts[r] = Int32(max(0, min(range.upperBound, owned.upperBound) - max(range.lowerBound, owned.lowerBound)))
            }
        }
        return try communicator.reduceScatterInPlaceNonBlocking(gradients + range.lowerBound, counts: receiveCounts)
    }

    /// After every reduce-scatter of the step completed: moves each bucket's result from the
    /// bucket's start to its place in the shard (buckets are disjoint, so no move disturbs
    /// another bucket's result).
    func finishReduction() {
        for index in 0 ..< bucketsThisStep {
            let range = bucketRanges[index]
            let count = Int(bucketCounts[index][rank])
            let destination = max(range.lowerBound, shard.lowerBound)
            guard count > 0, destination != range.lowerBound else { continue }
            memmove(gradients + destination, gradients + range.lowerBound, count * MemoryLayout<Float>.stride)
        }
    }

    /// The global gradient norm (all ranks, same bits as `gradientNorm` of the full reduced
    /// buffer); `allReduce` sums the chunk sums across ranks.
    func norm(allReduce: (UnsafeMutableBufferPointer<Double>) throws -> Void) throws -> Double {
        let owned = layout.chunks(ofRank: rank, worldSize: worldSize)
        for c in 0 ..< layout.chunkCount {
            if owned.contains(c) {
                let range = layout.elements(ofChunk: c)
                chunkSums[c] = chunkSquaredSum(gradient + (range.lowerBound - shard.lowerBound), count: range.count)
            } else {
                chunkSums[c] = 0
            }
        }
        try chunkSums.withUnsafeMutableBufferPointer { try allReduce($0) }
        var total = 0.0
        for sum in chunkSums { total += sum }
        return total.squareRoot()
    }

    /// Starts the all-gather of every rank's slice of `parameters` (`[layout.count]`, in place).
    func startAllGather(_ parameters: UnsafeMutablePointer<Float>, communicator: Communicator) throws -> MPIRequest {
        try communicator.allGatherInPlaceNonBlocking(parameters, counts: counts, displacements: displacements)
    }
}
