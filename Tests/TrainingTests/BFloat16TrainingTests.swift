import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `train.precision: bf16` and `train.allreduce_dtype: bf16` through the real command under
    /// mpirun: world-size independence, bitwise resume, resume across precisions.
    @Suite struct BFloat16Training {
        /// bf16 rounds each row's operands the same way whatever the split of the batch, and every
        /// sum is fp32: 1, 2 and 3 ranks (and other micro-batches) give the same losses up to the
        /// order of fp32 sums.
        @Test func lossesAgreeAcrossWorldSizes() throws {
            let reference = try RunSetup("image")
            let single = try reference.train(ranks: 0, ["--set", "train.precision=bf16",
                                                        "--set", "train.micro_batch=12", "--set", "train.steps=12"])
            #expect(single.status == 0, "\(single)")
            #expect(single.stdout.contains("bf16 products"), "\(single)")
            let expected = try reference.losses()
            #expect(expected.count == 12)
            for (ranks, micro) in [(1, 2), (2, 2), (3, 4)] {
                let run = try RunSetup("image")
                let result = try run.train(ranks: ranks, ["--set", "train.precision=bf16",
                                                          "--set", "train.micro_batch=\(micro)", "--set", "train.steps=12"])
                #expect(result.status == 0, "np=\(ranks) micro=\(micro): \(result)")
                let difference = relativeDifference(try run.losses(), expected, steps: 1...12)
                #expect(difference < 1e-5, "bf16 np=\(ranks) micro_batch=\(micro): losses differ from np=1 by \(difference)")
            }
        }

        /// bf16: 10 steps straight vs 5 + stop + resume + 5 on 2 ranks: bitwise equal checkpoints
        /// (parameters and optimizer state, all fp32).
        @Test func resumeIsBitwise() throws {
            let straight = try RunSetup("lm")
            let full = try straight.train(ranks: 2, ["--set", "train.precision=bf16"])
            #expect(full.status == 0, "\(full)")
            let interrupted = try RunSetup("lm")
            let first = try interrupted.train(ranks: 2, ["--set", "train.precision=bf16", "--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            let second = try interrupted.train(ranks: 2, ["--set", "train.precision=bf16"])
            #expect(second.status == 0, "\(second)")
            let a = try checkpointContents(try #require(try straight.checkpoints()[10]))
            let b = try checkpointContents(try #require(try interrupted.checkpoints()[10]))
            #expect(a.count > 10)
            #expect(a == b, "resumed bf16 run's final parameters or optimizer state differ from the uninterrupted run's")
        }

        /// Checkpoints hold the fp32 master weights whatever the precision, so a run started in one
        /// precision resumes in the other and follows the other's curve to bf16 accuracy.
        @Test(arguments: [("fp32", "bf16"), ("bf16", "fp32")])
        func resumesInTheOtherPrecision(before: String, after: String) throws {
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 2, ["--set", "train.precision=\(after)"]).status == 0)
            let run = try RunSetup("lm")
            let first = try run.train(ranks: 2, ["--set", "train.precision=\(before)", "--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: 2, ["--set", "train.precision=\(after)"])
            #expect(second.status == 0, "\(second)")
            #expect(second.stdout.contains("resuming from"), "\(second)")
            // bf16 tolerance: operands carry 8 significant bits (relative rounding 2⁻⁹); after ten
            // steps of a tiny LM the losses of the two precisions differ by well under 1 %.
            let difference = relativeDifference(try run.losses(), try straight.losses(), steps: 6...10)
            #expect(difference < 1e-2, "\(before)→\(after): losses differ by \(difference) from a straight \(after) run")
        }

        /// Gradients travelling as bf16 (exactness of the sum: `flowformer selftest`'s "bf16 gradient
        /// all-reduce" check, run under mpirun by MPICommTests): training follows the fp32 curve
        /// to bf16 accuracy, on 2 and 3 ranks.
        @Test(arguments: [2, 3])
        func bf16AllReduceFollowsTheFp32Curve(ranks: Int) throws {
            let reference = try RunSetup("lm")
            #expect(try reference.train(ranks: ranks).status == 0)
            let run = try RunSetup("lm")
            let result = try run.train(ranks: ranks, ["--set", "train.allreduce_dtype=bf16"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("bf16 all-reduce"), "\(result)")
            let difference = relativeDifference(try run.losses(), try reference.losses(), steps: 1...10)
            #expect(difference < 1e-2, "np=\(ranks): bf16 all-reduce losses differ from fp32 by \(difference)")
            #expect(difference > 0, "bf16 all-reduce gave exactly the fp32 losses: were the gradients rounded?")
        }

        /// bf16 on the wire bucket by bucket during backward (1 KiB buckets: many in flight, each
        /// reduce-scatter's all-gather started as it arrives) gives bitwise the parameters of the
        /// whole buffer exchanged after backward, on 3 ranks (padded shards).
        @Test func bf16AllReduceOverlappedEqualsOneShot() throws {
            let finals = try finalCheckpointsWithOverlapOnAndOff(ranks: 3, ["--set", "train.allreduce_dtype=bf16"])
            #expect(finals[0].count > 10)
            #expect(finals[0] == finals[1], "overlapped and one-shot bf16 exchanges gave different parameters")
        }
    }
}
