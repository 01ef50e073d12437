import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The same global batch gives the same training whatever the number of ranks and the
    /// micro-batch size (docs/FORMATS.md, "Data order"): only the order of floating-point sums differs.
    @Suite struct RankEquivalence {
        @Test func lossesAgreeAcrossWorldSizesAndAccumulation() throws {
            // Reference: one rank, the whole global batch in one micro-batch.
            let reference = try RunSetup("image")
            let single = try reference.train(ranks: 0, ["--set", "train.micro_batch=12", "--set", "train.steps=20"])
            #expect(single.status == 0, "\(single)")
            let expected = try reference.losses()
            #expect(expected.count == 20)

            for (ranks, micro) in [(1, 2), (2, 2), (3, 4), (2, 6)] {
                let run = try RunSetup("image")
                let result = try run.train(ranks: ranks, ["--set", "train.micro_batch=\(micro)", "--set", "train.steps=20"])
                #expect(result.status == 0, "np=\(ranks) micro=\(micro): \(result)")
                let difference = relativeDifference(try run.losses(), expected, steps: 1...20)
                #expect(difference < 1e-5, "np=\(ranks) micro_batch=\(micro): losses differ from np=1 by \(difference) (relative)")
            }
        }

        @Test func overlapOnAndOffGiveBitwiseEqualParameters() throws {
            let finals = try finalCheckpointsWithOverlapOnAndOff(ranks: 2)
            #expect(finals[0].count > 10)
            #expect(finals[0] == finals[1], "overlapped and one-shot all-reduce gave different parameters")
        }

        @Test func trainingOnRealDataReducesTheLoss() throws {
            let run = try RunSetup("image")
            let result = try run.train(ranks: 2, ["--set", "train.steps=150", "--set", "train.global_batch=32",
                                                  "--set", "train.micro_batch=16", "--set", "train.warmup_steps=5",
                                                  "--set", "model.d_model=32", "--set", "train.eval_every=150",
                                                  "--set", "data.val=\(try RealData.path("fashion-mnist-val.h5"))"])
            #expect(result.status == 0, "\(result)")
            let losses = try run.losses()
            let first = (1...10).compactMap { losses[$0] }.reduce(0, +) / 10
            let last = (141...150).compactMap { losses[$0] }.reduce(0, +) / 10
            #expect(last < first * 0.8, "mean loss of steps 141-150 (\(last)) is not well below that of steps 1-10 (\(first))")
            let evaluation = try #require(try run.metrics().last { $0["event"] as? String == "eval" })
            let accuracy = try #require(evaluation["val_accuracy"] as? Double)
            #expect(accuracy > 0.3, "validation accuracy after 150 steps: \(accuracy)")
        }
    }
}
