import Testing
@testable import Datasets
import TensorKernels

/// TensorKernels' `permutation`, as the training order uses it.
@Suite struct EpochPermutationTests {
    @Test func isAPermutationReproducibleAndDifferentPerEpochAndSeed() {
        let count = 1000
        let first = permutation(count: count, seed: 7, epoch: 0)
        #expect(first.sorted() == Array(0..<count))
        #expect(first != Array(0..<count))
        #expect(permutation(count: count, seed: 7, epoch: 0) == first)
        #expect(permutation(count: count, seed: 7, epoch: 1) != first)
        #expect(permutation(count: count, seed: 8, epoch: 0) != first)
        #expect(permutation(count: 0, seed: 1, epoch: 0).isEmpty)
        #expect(permutation(count: 1, seed: 1, epoch: 0) == [0])
    }

    @Test func positionsAreRoughlyUniform() {
        // Where sample 0 lands over many epochs: each of 8 positions about 1/8 of the time.
        var landed = [Int](repeating: 0, count: 8)
        for epoch in 0..<4000 {
            landed[permutation(count: 8, seed: 3, epoch: epoch).firstIndex(of: 0)!] += 1
        }
        for hits in landed { #expect(hits > 400 && hits < 600, "position counts \(landed)") }
    }
}

@Suite struct TrainingOrderTests {
    let sampleCount = 103      // 103 = 8·12 + 7: seven samples dropped per epoch at B = 12
    let globalBatch = 12

    func orders(worldSize: Int, seed: UInt64 = 5) throws -> [TrainingOrder] {
        try (0..<worldSize).map {
            try TrainingOrder(sampleCount: sampleCount, globalBatchSize: globalBatch, worldSize: worldSize,
                              rank: $0, seed: seed)
        }
    }

    @Test func ranksSplitTheSameGlobalBatchForEveryWorldSize() throws {
        let single = try orders(worldSize: 1)[0]
        #expect(single.batchesPerEpoch == 8)
        for worldSize in [1, 2, 3, 4] {
            let ranks = try orders(worldSize: worldSize)
            for epoch in 0..<3 {
                for batch in 0 ..< single.batchesPerEpoch {
                    let position = DataPosition(epoch: epoch, batchInEpoch: batch)
                    let concatenated = ranks.flatMap { Array($0.localBatch(at: position)) }
                    #expect(concatenated == Array(single.globalBatch(at: position)),
                            "W=\(worldSize) \(position)")
                    #expect(ranks.allSatisfy { $0.localBatch(at: position).count == globalBatch / worldSize })
                }
            }
        }
    }

    @Test func anEpochVisitsDistinctSamplesAndDropsOnlyTheTail() throws {
        let order = try orders(worldSize: 1)[0]
        var dropped: [Set<Int>] = []
        for epoch in 0..<4 {
            let seen = (0 ..< order.batchesPerEpoch).flatMap {
                Array(order.globalBatch(at: DataPosition(epoch: epoch, batchInEpoch: $0)))
            }
            #expect(seen.count == 96)
            #expect(Set(seen).count == 96, "a sample repeats in epoch \(epoch)")
            #expect(seen == Array(order.permutation(epoch: epoch).prefix(96)))
            dropped.append(Set(0..<sampleCount).subtracting(seen))
        }
        #expect(dropped.allSatisfy { $0.count == 7 })
        #expect(Set(dropped).count > 1, "the same samples are dropped every epoch")
    }

    @Test func epochsDifferAndSeedAndEpochReproduceThem() throws {
        let a = try orders(worldSize: 1, seed: 11)[0]
        let b = try orders(worldSize: 1, seed: 11)[0]
        let c = try orders(worldSize: 1, seed: 12)[0]
        let first = DataPosition(epoch: 0, batchInEpoch: 0)
        let second = DataPosition(epoch: 1, batchInEpoch: 0)
        #expect(a.permutation(epoch: 0) != a.permutation(epoch: 1))
        #expect(Array(a.globalBatch(at: first)) != Array(a.globalBatch(at: second)))
        // b asks in another order: the cache must not matter.
        _ = b.permutation(epoch: 3)
        #expect(Array(b.globalBatch(at: second)) == Array(a.globalBatch(at: second)))
        #expect(Array(b.globalBatch(at: first)) == Array(a.globalBatch(at: first)))
        #expect(Array(c.globalBatch(at: first)) != Array(a.globalBatch(at: first)))
    }

    @Test func positionsAdvanceAcrossEpochs() {
        var position = DataPosition()
        var visited: [DataPosition] = []
        for _ in 0..<7 {
            visited.append(position)
            position = position.advanced(batchesPerEpoch: 3)
        }
        #expect(visited.map(\.epoch) == [0, 0, 0, 1, 1, 1, 2])
        #expect(visited.map(\.batchInEpoch) == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test func fewerSamplesThanOneGlobalBatchIsAnError() {
        let message = datasetErrorMessage {
            _ = try TrainingOrder(sampleCount: 5, globalBatchSize: 8, seed: 0, splitName: "tiny.h5")
        }
        #expect(message == "tiny.h5: 5 samples, fewer than one global batch of 8")
    }
}

@Suite struct ValidationPartitionTests {
    @Test func everySampleOnceAcrossRanksInContiguousRanges() {
        for sampleCount in [0, 1, 7, 10, 101] {
            for worldSize in 1...4 {
                var covered: [Int] = []
                var counts: [Int] = []
                for rank in 0..<worldSize {
                    let partition = ValidationPartition(sampleCount: sampleCount, worldSize: worldSize,
                                                        rank: rank, batchSize: 4)
                    var mine: [Int] = []
                    for batch in 0 ..< partition.batchCount {
                        let range = partition.batch(batch)
                        #expect(range.count == 4 || batch == partition.batchCount - 1)
                        #expect(!range.isEmpty)
                        mine += Array(range)
                    }
                    #expect(mine.count == partition.count)
                    counts.append(partition.count)
                    covered += mine
                }
                #expect(covered == Array(0..<sampleCount), "N=\(sampleCount) W=\(worldSize)")
                #expect((counts.max() ?? 0) - (counts.min() ?? 0) <= 1)
            }
        }
    }
}

@Suite struct RowRunPlanTests {
    /// Naive reference: each sample's rows read on their own.
    func check(samples: [Int], stride: Int, span: Int) {
        let plan = RowRunPlan(capacity: max(samples.count, 1), rowStride: stride, rowsPerSample: span)
        let used = plan.plan(samples)
        #expect(used <= samples.count * span)
        // Staging as the reader would fill it: run i's rows at runStagingRow[i].
        var staging = [Int](repeating: -1, count: max(used, 1))
        var totalRows = 0
        for run in 0 ..< plan.runCount {
            #expect(plan.runEnd[run] > plan.runStart[run])
            if run > 0 { #expect(plan.runStart[run] > plan.runEnd[run - 1], "runs not coalesced") }
            for (offset, row) in (plan.runStart[run] ..< plan.runEnd[run]).enumerated() {
                staging[plan.runStagingRow[run] + offset] = row
            }
            totalRows += plan.runEnd[run] - plan.runStart[run]
        }
        #expect(totalRows == used)
        for (slot, sample) in samples.enumerated() {
            let rows = (0..<span).map { staging[plan.slotStagingRow[slot] + $0] }
            #expect(rows == Array(sample * stride ..< sample * stride + span), "slot \(slot)")
        }
    }

    @Test func runsCoverEverySampleForRowsAndWindows() {
        check(samples: [5, 3, 4, 9, 0, 1, 20], stride: 1, span: 1)
        check(samples: [5, 3, 4, 9, 0, 1, 20], stride: 4, span: 5)   // windows sharing one token
        check(samples: [2, 2, 7], stride: 1, span: 1)                // a repeat
        check(samples: [8], stride: 3, span: 4)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let samples = (0..<50).map { _ in Int.random(in: 0..<80, using: &generator) }
            check(samples: samples, stride: 2, span: 3)
        }
        let consecutive = RowRunPlan(capacity: 4)
        consecutive.plan([13, 10, 12, 11])
        #expect(consecutive.runCount == 1)
    }

    @Test func heapSortSorts() {
        for count in [0, 1, 2, 3, 10, 257] {
            var values = (0..<count).map { _ in UInt64.random(in: 0...1000) }
            let expected = values.sorted()
            values.withUnsafeMutableBufferPointer { if let base = $0.baseAddress { heapSort(base, count: count) } }
            #expect(values == expected)
        }
    }
}
