/// Sums the gradient buffer across ranks in size-capped buckets, started while backward is
/// still running (the PyTorch DDP reducer, on one flat buffer).
///
/// The model's backward announces ranges of parameter indices whose gradients are final, in
/// reverse layer order (head first, embeddings last); together they cover the buffer exactly
/// once. Consecutive announced ranges are merged into one bucket — a contiguous slice growing
/// downward — until it holds `bucketElements`; then its non-blocking all-reduce is started.
/// Every rank announces the same ranges in the same order, so every rank starts the same
/// collectives in the same order, as MPI requires.
///
/// Open MPI progresses non-blocking collectives only inside MPI calls, so each announcement also
/// tests the outstanding requests.
///
/// With `overlap == false` nothing starts during backward: `finish()` all-reduces the whole
/// buffer at once (kept to measure what overlap buys; with two ranks both give bitwise-equal
/// sums, since a + b is exact per element whichever way the buffer is cut).
///
/// Two reduction modes (`ReducedBuffer`): the Float gradients themselves (MPI_SUM on float, whose
/// order of additions depends on the number of ranks), or their Int64 fixed-point accumulators
/// (`train.deterministic`; MPI_SUM on int64 is exact and associative, so the sum is the same bits
/// for any number of ranks — see Training's `FixedPointGradients`). Buckets hold `bucketBytes` either way.
///
/// With `bfloat16OnTheWire` the gradients travel as bfloat16 and are summed in fp32
/// (`BFloat16GradientExchange`): per bucket as above with overlap, all at once in `finish()`
/// without. Either way gives the same bits (each element's sum involves only that element).
///
/// With a `BucketReduction` (ZeRO stage 1: `Training.ShardedGradient`) each bucket is
/// reduce-scattered instead, in place:
/// afterwards each rank's gradient buffer holds the sum over ranks only inside its own shard
/// (the rest is undefined).
public final class GradientReducer {
    /// The buffer the reducer sums across ranks, [count] elements in the parameter layout.
    public enum ReducedBuffer {
        /// The Float gradient buffer.
        case float(UnsafeMutablePointer<Float>)
        /// Int64 fixed-point sums of the gradients (Training's `FixedPointGradients.sums`).
        case fixedPoint(UnsafeMutablePointer<Int64>)

        var elementBytes: Int {
            switch self {
            case .float: return MemoryLayout<Float>.stride
            case .fixedPoint: return MemoryLayout<Int64>.stride
            }
        }
    }

    private let communicator: Communicator
    private let buffer: ReducedBuffer
    private let count: Int
    private let bucketElements: Int
    private let overlap: Bool
    private let timeoutSeconds: Double
    private let sharded: (any BucketReduction)?

    /// The current bucket is gradients[bucketStart ..< bucketEnd]; empty when equal.
    private var bucketStart = 0
    private var bucketEnd = 0
    private var inFlight: [MPIRequest] = []
    private var covered = 0

    /// Seconds spent blocked in `finish()` waiting for the reductions (communication not hidden
    /// behind backward).
    public private(set) var waitSeconds = 0.0

    /// `bfloat16OnTheWire` (more than one rank, Float buffer only): the buckets are exchanged as
    /// bf16 with fp32 sums.
    private let bfloat16Exchange: BFloat16GradientExchange?

    public convenience init(communicator: Communicator, gradients: UnsafeMutablePointer<Float>, count: Int,
                            bucketBytes: Int, overlap: Bool, timeoutSeconds: Double, bfloat16OnTheWire: Bool = false,
                            sharded: (any BucketReduction)? = nil) {
        self.init(communicator: communicator, buffer: .float(gradients), count: count, bucketBytes: bucketBytes,
                  overlap: overlap, timeoutSeconds: timeoutSeconds, bfloat16OnTheWire: bfloat16OnTheWire,
                  sharded: sharded)
    }

    /// - Parameters:
    ///   - buffer: what to sum, `[count]`.
    ///   - sharded: reduce-scatter into this rank's shard instead of all-reducing (Float buffer,
    ///     not with `bfloat16OnTheWire`).
    public init(communicator: Communicator, buffer: ReducedBuffer, count: Int,
                bucketBytes: Int, overlap: Bool, timeoutSeconds: Double, bfloat16OnTheWire: Bool = false,
                sharded: (any BucketReduction)? = nil) {
        if case .fixedPoint = buffer {
            precondition(!bfloat16OnTheWire && sharded == nil, "bf16 on the wire and sharding apply to Float gradients only")
        }
        precondition(!(bfloat16OnTheWire && sharded != nil), "the sharded reduction sums fp32 gradients")
        precondition(bucketBytes > 0, "bucket size must be positive")
        let bucketElements = max(1, bucketBytes / buffer.elementBytes)
        // A bucket closes once it holds bucketElements, so a step has at most count / bucketElements
        // full buckets and one partial one.
        bfloat16Exchange = bfloat16OnTheWire && communicator.size > 1
            ? BFloat16GradientExchange(communicator: communicator, count: count,
                                           maxBuckets: overlap ? count / bucketElements + 1 : 1) : nil
        self.communicator = communicator
        self.buffer = buffer
        self.count = count
        self.bucketElements = bucketElements
        self.overlap = overlap
        self.timeoutSeconds = timeoutSeconds
        self.sharded = sharded
        inFlight.reserveCapacity(64)
    }

    /// The first error an announcement met; `finish()` throws it.
    private var announcementError: Error?

    /// `gradientsReady` as the model's backward hook (`onGradientsReady:`), made once so that a
    /// step allocates no closure; an error is kept and thrown by `finish()`.
    public private(set) lazy var hook: (Range<Int>) -> Void = { [unowned self] range in
        guard self.announcementError == nil else { return }
        do { try self.gradientsReady(range) } catch { self.announcementError = error }
    }

    /// Starts a new step's reduction.
    public func begin() {
        announcementError = nil
        bucketStart = count
        bucketEnd = count
        covered = 0
        inFlight.removeAll(keepingCapacity: true)
        sharded?.beginStep()
        bfloat16Exchange?.begin()
    }

    /// Backward's announcement: gradients[range] are final.
    public func gradientsReady(_ range: Range<Int>) throws {
        guard overlap, communicator.size > 1 else { covered += range.count; return }
        precondition(range.upperBound == bucketStart,
                     "gradient ranges must arrive in reverse layer order: got \(range), expected one ending at \(bucketStart)")
        bucketStart = range.lowerBound
        covered += range.count
        if bucketEnd - bucketStart >= bucketElements { try startBucket() }
        for request in inFlight where !request.isComplete { _ = try request.test() }
        try bfloat16Exchange?.progress()
    }

    /// Starts whatever remains and waits for every reduction: afterwards every rank holds the
    /// sum of all ranks' gradients (sharded: of its shard's gradients, in the shard's buffer).
    public func finish() throws {
        if let announcementError { throw announcementError }
        guard communicator.size > 1 else { return }
        let started = ContinuousClock.now
        if let bfloat16Exchange, case .float(let gradients) = buffer {
            if overlap {
                precondition(covered == count && bucketStart == 0,
                             "backward announced \(covered) of \(count) gradient entries")
                try startBucket()
                try bfloat16Exchange.finish(gradients, timeoutSeconds: timeoutSeconds)
            } else {
                try bfloat16Exchange.allReduce(gradients, timeoutSeconds: timeoutSeconds)
            }
        } else if overlap {
            precondition(covered == count && bucketStart == 0,
                         "backward announced \(covered) of \(count) gradient entries")
            try startBucket()
            for request in inFlight { try request.wait(seconds: timeoutSeconds) }
            sharded?.finishReduction()
        } else if let sharded {
            try sharded.startReduceScatter(0 ..< count, communicator: communicator).wait(seconds: timeoutSeconds)
            sharded.finishReduction()
        } else {
            try startReduction(0 ..< count).wait(seconds: timeoutSeconds)
        }
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        waitSeconds += Double(seconds) + Double(attoseconds) * 1e-18
    }

    private func startBucket() throws {
        guard bucketEnd > bucketStart else { return }
        if let bfloat16Exchange, case .float(let gradients) = buffer {
            try bfloat16Exchange.start(bucketStart ..< bucketEnd, of: gradients)
        } else if let sharded {
            inFlight.append(try sharded.startReduceScatter(bucketStart ..< bucketEnd, communicator: communicator))
        } else {
            inFlight.append(try startReduction(bucketStart ..< bucketEnd))
        }
        bucketEnd = bucketStart
    }

    /// Starts the non-blocking sum of buffer[range] across ranks.
    private func startReduction(_ range: Range<Int>) throws -> MPIRequest {
        switch buffer {
        case .float(let values):
            return try communicator.allReduceNonBlocking(
                UnsafeMutableBufferPointer(start: values + range.lowerBound, count: range.count), op: .sum)
        case .fixedPoint(let sums):
            return try communicator.allReduceNonBlocking(
                UnsafeMutableBufferPointer(start: sums + range.lowerBound, count: range.count), op: .sum)
        }
    }
}

/// What replaces the all-reduce of each gradient bucket when the optimizer state is sharded
/// (ZeRO stage 1; `Training.ShardedGradient`): every rank starts the same collective per bucket,
/// in the same order.
public protocol BucketReduction: AnyObject {
    /// Before a step's first bucket.
    func beginStep()
    /// Starts the reduction of `gradients[range]`, one bucket.
    func startReduceScatter(_ range: Range<Int>, communicator: Communicator) throws -> MPIRequest
    /// After every bucket's request of the step has completed.
    func finishReduction()
}
