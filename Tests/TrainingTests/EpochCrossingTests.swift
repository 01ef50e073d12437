import Checkpoints
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Training with dropout and image augmentation on, over 60 samples with a global batch of
    /// 12 (5 steps an epoch), so that 12 steps cross two epoch boundaries: the runs draw dropout
    /// masks, crops and flips, and start new epoch permutations, exactly where the claims of
    /// docs/FORMATS.md ("Data order") matter.
    @Suite struct EpochCrossing {
        static let options = ["--set", "model.dropout=0.1", "--set", "train.augment=true", "--set", "train.steps=12"]

        /// 1, 2 and 3 ranks: the same losses and the same final parameters, to float rounding (the
        /// ranks add the gradients in another order, so the last bits differ). Measured on this
        /// machine: losses within 1e-8 relative, final parameters within 4e-6–6e-6 of the largest
        /// value of their tensor (AdamW's g/√v turns rounding in small gradients into visible
        /// steps); the bounds leave a factor of ~20 and stay far below what other masks or crops
        /// do (turning dropout and augmentation off moves the losses by more than 1e-3, checked
        /// below).
        static let lossBound = 1e-5, parameterBound = 1e-4
        @Test func oneTwoAndThreeRanksAgree() throws {
            let reference = try RunSetup("image", trainSamples: 60)
            let single = try reference.train(ranks: 0, Self.options)
            #expect(single.status == 0, "\(single)")
            let final = try #require(try reference.checkpoints()[12])
            let state = try CheckpointReader(path: final).trainer
            #expect(state.epoch == 2 && state.batchInEpoch == 2, "12 steps of 5 an epoch end in epoch 2 at batch 2: \(state)")
            let expectedLosses = try reference.losses()
            #expect(expectedLosses.count == 12)
            let expected = try checkpointContents(final)

            // Dropout and augmentation are really on: without them the losses differ.
            let plain = try RunSetup("image", trainSamples: 60)
            #expect(try plain.train(ranks: 0, ["--set", "train.steps=12"]).status == 0)
            #expect(!(relativeDifference(try plain.losses(), expectedLosses, steps: 1...12) <= 1e-3),
                    "dropout and augmentation changed nothing")

            for ranks in [2, 3] {
                let run = try RunSetup("image", trainSamples: 60)
                let result = try run.train(ranks: ranks, Self.options)
                #expect(result.status == 0, "np=\(ranks): \(result)")
                let losses = relativeDifference(try run.losses(), expectedLosses, steps: 1...12)
                #expect(losses <= Self.lossBound, "np=\(ranks): losses differ from one rank's by \(losses) (relative)")
                let parameters = parameterDifference(try checkpointContents(try #require(try run.checkpoints()[12])), expected)
                #expect(parameters <= Self.parameterBound, "np=\(ranks): final parameters differ from one rank's by \(parameters) (relative)")
            }
        }

        /// Stopped at step 4 (inside epoch 0) or 5 (at the boundary: the next batch is epoch 1's
        /// first) and resumed on the same number of ranks: bitwise the uninterrupted run.
        @Test(arguments: [4, 5])
        func resumeOnTheSameRanksIsBitwise(stopStep: Int) throws {
            let straight = try RunSetup("image", trainSamples: 60)
            #expect(try straight.train(ranks: 2, Self.options).status == 0)

            let run = try RunSetup("image", trainSamples: 60)
            let first = try run.train(ranks: 2, Self.options + ["--stop-at-step", "\(stopStep)"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: 2, Self.options)
            #expect(second.status == 0, "\(second)")
            #expect(try run.losses() == (try straight.losses()), "the resumed run's losses differ")
            let a = try checkpointContents(try #require(try straight.checkpoints()[12]))
            let b = try checkpointContents(try #require(try run.checkpoints()[12]))
            #expect(a.count > 10)
            #expect(a == b, "stopped at step \(stopStep), resumed: final parameters or optimizer state differ")
        }

        /// Stopped on 2 ranks, resumed on 3: the same curve and final parameters to float rounding.
        @Test func resumeOnOtherRanksContinuesTheSameRun() throws {
            let straight = try RunSetup("image", trainSamples: 60)
            #expect(try straight.train(ranks: 2, Self.options).status == 0)
            let run = try RunSetup("image", trainSamples: 60)
            #expect(try run.train(ranks: 2, Self.options + ["--stop-at-step", "7"]).status == 75)
            let second = try run.train(ranks: 3, Self.options)
            #expect(second.status == 0, "\(second)")
            let losses = relativeDifference(try run.losses(), try straight.losses(), steps: 1...12)
            #expect(losses <= Self.lossBound, "2 → 3 ranks: losses differ by \(losses) (relative)")
            let parameters = parameterDifference(try checkpointContents(try #require(try run.checkpoints()[12])),
                                                 try checkpointContents(try #require(try straight.checkpoints()[12])))
            #expect(parameters <= Self.parameterBound, "2 → 3 ranks: final parameters differ by \(parameters) (relative)")
        }
    }
}
