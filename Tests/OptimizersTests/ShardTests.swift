import Optimizers
import TensorKernels
import Testing

/// The sharded optimizer state (ZeRO stage 1) at the optimizer level: shards tile the buffer,
/// and updating every shard separately gives the bits of one update of the whole buffer.
@Suite struct ShardTests {
    /// A table whose entries straddle shard boundaries, mixing decaying and non-decaying entries.
    func makeTable() -> ParameterTable {
        var table = ParameterTable()
        table.append("w1", shape: [37, 29], decays: true)
        table.append("b1", shape: [29], decays: false)
        table.append("w2", shape: [61, 17], decays: true)
        table.append("ln", shape: [113], decays: false)
        table.append("w3", shape: [23, 41], decays: true)
        return table
    }

    @Test(arguments: [1, 2, 3, 4, 7])
    func shardsTileTheBufferInRankOrderOnChunkBoundaries(worldSize: Int) {
        for count in [0, 1, 63, 64, 65, 5000, 1_000_003] {
            let layout = ShardLayout(count: count)
            var next = 0
            for rank in 0 ..< worldSize {
                let shard = layout.shard(ofRank: rank, worldSize: worldSize)
                #expect(shard.lowerBound == next, "count \(count), rank \(rank) of \(worldSize)")
                #expect(shard.lowerBound % layout.chunk == 0)
                next = shard.upperBound
            }
            #expect(next == count)
        }
    }

    /// Norm chunks depend on the element count alone.
    @Test func chunkSizeFollowsTheCount() {
        #expect(ShardLayout(count: 13_184).chunk == 64)
        #expect(ShardLayout(count: 5_000_000).chunk == 8192)
        #expect(ShardLayout(count: 300_000_000).chunk == 16384)
    }

    /// The norm as the sum of chunk sums equals the norm of the buffer to rounding of a Double sum.
    @Test func chunkedNormMatchesAPlainSum() {
        let values = (0 ..< 10_007).map { Float(($0 * 7919) % 1000) / 997 - 0.5 }
        let norm = values.withUnsafeBufferPointer { gradientNorm($0.baseAddress!, count: $0.count) }
        let reference = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let error = abs(norm - reference) / reference
        #expect(error <= 1e-14, "relative error \(error)")
    }

    /// AdamW and SGD: W shard optimizers, each stepping its slice, equal one full optimizer bit
    /// for bit over several steps, states included.
    @Test(arguments: [2, 3, 5])
    func shardedUpdatesAreBitwiseTheFullUpdate(worldSize: Int) {
        let table = makeTable()
        let layout = ShardLayout(count: table.count)
        func makeOptimizers(_ shard: Range<Int>?) -> [any Optimizer] {
            [AdamW(table: table, betas: (0.9, 0.99), eps: 1e-8, weightDecay: 0.1, shard: shard),
             SGD(table: table, momentum: 0.9, nesterov: true, weightDecay: 0.01, shard: shard)]
        }
        for kind in 0 ..< 2 {
            let full = makeOptimizers(nil)[kind]
            let shards = (0 ..< worldSize).map { layout.shard(ofRank: $0, worldSize: worldSize) }
            let parts = shards.map { makeOptimizers($0)[kind] }
            var p1 = (0 ..< table.count).map { Float($0 % 13) * 0.01 - 0.06 }
            var p2 = p1
            for step in 0 ..< 4 {
                let g = (0 ..< table.count).map { Float(($0 * 31 + step * 7) % 17) * 0.003 - 0.02 }
                g.withUnsafeBufferPointer { gradients in
                    p1.withUnsafeMutableBufferPointer { full.step(parameters: $0.baseAddress!, gradients: gradients.baseAddress!, learningRate: 1e-2) }
                    p2.withUnsafeMutableBufferPointer { parameters in
                        for (optimizer, shard) in zip(parts, shards) where !shard.isEmpty {
                            optimizer.step(parameters: parameters.baseAddress! + shard.lowerBound,
                                           gradients: gradients.baseAddress! + shard.lowerBound, learningRate: 1e-2)
                        }
                    }
                }
            }
            #expect(p1.map(\.bitPattern) == p2.map(\.bitPattern), "optimizer \(kind), \(worldSize) shards")
            for (index, state) in full.stateBuffers.enumerated() {
                let joined = zip(parts, shards).flatMap { optimizer, shard in
                    Array(UnsafeBufferPointer(start: optimizer.stateBuffers[index].buffer.pointer, count: shard.count))
                }
                #expect(joined.map(\.bitPattern) == state.buffer.array.map(\.bitPattern), "state \(state.name)")
            }
        }
    }
}
