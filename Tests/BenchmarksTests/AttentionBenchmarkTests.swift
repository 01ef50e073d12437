import FlowModel
import Foundation
import Testing
@testable import Benchmarks

@Suite struct AttentionBenchmarkTests {
    @Test func gridCoversEveryCaseAndSkipsLongSoftmax() {
        let results = AttentionBenchmark.run(kinds: [.flow, .softmax], causal: [false, true], lengths: [8, 16],
                                             batch: 1, dModel: 8, heads: 2, softmaxMaxLength: 8, policy: .quick)
        #expect(results.count == 8)
        for result in results {
            let skipped = result.kind == "softmax" && result.length == 16
            #expect((result.skipped != nil) == skipped, "\(result)")
            #expect((result.forwardBackwardMilliseconds == nil) == skipped)
            if let forward = result.forward, let backward = result.backward, let total = result.forwardBackwardMilliseconds {
                #expect(forward.count == 1 && backward.count == 1)
                // One timed run: the total is that run's forward + backward.
                #expect(abs(total - (forward.median + backward.median) * 1000) < 1e-6 * max(total, 1))
            }
        }
        let scaling = AttentionBenchmark.scaling(results, shortLength: 8, longLength: 16)
        #expect(scaling.count == 2)  // flow causal and not; softmax has no L = 16 figure
        #expect(scaling.allSatisfy { $0.kind == "flow" && $0.lengthRatio == 2 })
    }

    @Test func warmupRunsAreNotInTheTimings() {
        let policy = RepeatPolicy(warmup: 2, minRepeats: 3, maxRepeats: 3, budgetSeconds: 0)
        let shape = AttentionShape(batch: 1, length: 8, modelWidth: 8, heads: 2, causal: true)
        let (forward, backward, total) = AttentionBenchmark.time(.linear, shape: shape, policy: policy)
        #expect(forward.count == 3 && backward.count == 3 && total.count == 3)
    }

    @Test func softmaxMemoryEstimate() {
        // 8 heads × 16384² Floats saved + one 16384² workspace.
        #expect(AttentionBenchmark.softmaxBytes(batch: 1, length: 16384, heads: 8) == 9 * 16384 * 16384 * 4)
    }
}
