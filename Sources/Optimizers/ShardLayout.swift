/// How a flat buffer of `count` elements (parameters, gradients, optimizer state) is cut into
/// norm chunks and, for a sharded optimizer state (ZeRO stage 1), into one contiguous shard per
/// rank.
///
/// - **Chunks** depend on `count` only: `chunk` elements each (a power of two between 64 and
///   16384, about count / 1024), the last one shorter. The gradient norm is the square root of
///   the chunks' squared sums added in chunk order (`gradientNorm`), so it is the same number
///   whether one rank sums every chunk or each rank sums the chunks of its shard.
/// - **Shards** are whole chunks: rank r of W owns chunks ⌊C·r/W⌋ ..< ⌊C·(r+1)/W⌋ of the C
///   chunks, so shards differ in length by at most one chunk (a rank may own none when C < W).
public struct ShardLayout: Sendable, Equatable {
    /// Elements of the flat buffer.
    public let count: Int
    /// Elements per norm chunk.
    public let chunk: Int

    public init(count: Int) {
        precondition(count >= 0, "ShardLayout count must be >= 0, got \(count)")
        self.count = count
        var chunk = 64
        while chunk < 16384 && chunk * 1024 < count { chunk *= 2 }
        self.chunk = chunk
    }

    /// C, the number of chunks.
    public var chunkCount: Int { (count + chunk - 1) / chunk }

    /// Element range of chunk `c`.
    public func elements(ofChunk c: Int) -> Range<Int> {
        c * chunk ..< min((c + 1) * chunk, count)
    }

    /// Chunk indices of rank `rank`'s shard among `worldSize` ranks.
    public func chunks(ofRank rank: Int, worldSize: Int) -> Range<Int> {
        precondition(worldSize >= 1 && rank >= 0 && rank < worldSize, "rank \(rank) of \(worldSize)")
        return chunkCount * rank / worldSize ..< chunkCount * (rank + 1) / worldSize
    }

    /// Element range of rank `rank`'s shard among `worldSize` ranks.
    public func shard(ofRank rank: Int, worldSize: Int) -> Range<Int> {
        let chunks = self.chunks(ofRank: rank, worldSize: worldSize)
        return min(chunks.lowerBound * chunk, count) ..< min(chunks.upperBound * chunk, count)
    }
}
