import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `train.shard_optimizer: true` (ZeRO stage 1): the same numbers as the replicated optimizer
    /// state, and checkpoints any world size, sharded or not, resumes from.
    @Suite struct ShardedOptimizer {
        static let sharded = ["--set", "train.shard_optimizer=true"]
        /// Micro-batches of 1 so that 1, 3 and 4 ranks all split the global batch of 12.
        static let microOne = ["--set", "train.micro_batch=1"]

        /// 2 ranks, 20 steps: bitwise-equal parameters and optimizer state, sharded or not.
        @Test(arguments: ["adamw", "sgd"])
        func twoRanksAreBitwiseTheUnshardedRun(optimizer: String) throws {
            let steps = ["--set", "train.steps=20", "--set", "train.optimizer=\(optimizer)"]
            let replicated = try RunSetup("lm")
            let plain = try replicated.train(ranks: 2, steps)
            #expect(plain.status == 0, "\(plain)")
            let shardedRun = try RunSetup("lm")
            let result = try shardedRun.train(ranks: 2, steps + Self.sharded)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("sharded: 1/2 of the state"), "\(result)")
            let a = try checkpointContents(try #require(try replicated.checkpoints()[20]))
            let b = try checkpointContents(try #require(try shardedRun.checkpoints()[20]))
            #expect(a.count > 10)
            #expect(a == b, "sharded parameters or optimizer state differ from the replicated run's")
        }

        /// 3 and 4 ranks (accumulation 4 and 3, clipping active): the loss curve of one
        /// unsharded rank within 1e-5 relative.
        @Test(arguments: [3, 4])
        func moreRanksFollowTheSameCurve(ranks: Int) throws {
            let reference = try RunSetup("lm")
            #expect(try reference.train(ranks: 1, Self.microOne).status == 0)
            let run = try RunSetup("lm")
            let result = try run.train(ranks: ranks, Self.microOne + Self.sharded)
            #expect(result.status == 0, "\(result)")
            let clipped = try run.metrics().contains { ($0["grad_norm"] as? Double ?? 0) > 1.0 }
            #expect(clipped, "the test should exercise clipping (clip_grad_norm 1.0)")
            let difference = relativeDifference(try run.losses(), try reference.losses(), steps: 1...10)
            #expect(difference < 1e-5, "\(ranks) sharded ranks: losses differ by \(difference) (relative)")
        }

        /// Sharded W=4 → unsharded W=1 → sharded W=3 continues the uninterrupted curve.
        @Test func resumeAcrossWorldSizesAndSharding() throws {
            let steps = ["--set", "train.steps=15"] + Self.microOne
            let reference = try RunSetup("lm")
            #expect(try reference.train(ranks: 1, steps).status == 0)
            let run = try RunSetup("lm")
            let first = try run.train(ranks: 4, steps + Self.sharded + ["--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: 1, steps + ["--stop-at-step", "10"])
            #expect(second.status == 75 && second.stdout.contains("resuming from"), "\(second)")
            let third = try run.train(ranks: 3, steps + Self.sharded)
            #expect(third.status == 0 && third.stdout.contains("resuming from"), "\(third)")
            let difference = relativeDifference(try run.losses(), try reference.losses(), steps: 1...15)
            #expect(difference < 1e-5, "W=4 sharded → W=1 → W=3 sharded: losses differ by \(difference) (relative)")
        }

        /// Sharded, 2 ranks: stop at 5 and resume gives the bits of the uninterrupted sharded run.
        @Test func stopAndResumeIsBitwise() throws {
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 2, Self.sharded).status == 0)
            let run = try RunSetup("lm")
            let first = try run.train(ranks: 2, Self.sharded + ["--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: 2, Self.sharded)
            #expect(second.status == 0 && second.stdout.contains("resuming from"), "\(second)")
            let a = try checkpointContents(try #require(try straight.checkpoints()[10]))
            let b = try checkpointContents(try #require(try run.checkpoints()[10]))
            #expect(a == b, "the resumed sharded run's final state differs from the uninterrupted one")
        }
    }
}
