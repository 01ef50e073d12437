import Foundation
import TestSupport
import Testing

/// Numerics: a NaN or ±∞ in the loss or the gradients of ONE rank. The all-reduce carries it to
/// every rank (a NaN in any addend makes the sum NaN), so every rank sees the same non-finite
/// norm and skips the same step, up to `train.max_nan_skips` in a row; one more stops the run
/// with status 3 and one line. No checkpoint ever holds a non-finite value.
extension EndToEnd.Faults {
    /// One NaN gradient value on rank 0 in one run and on rank 1 in another, at step 4: both runs
    /// skip that step (logged on stdout and in metrics.jsonl), finish, and end bitwise equal —
    /// which rank saw the NaN makes no difference, so the ranks agreed. Parameters were also
    /// checked identical across ranks at steps 5 and 10 (`checksum_every: 5`).
    @Test func nanGradientOnOneRankIsSkippedByEveryRank() throws {
        var finals: [[String: [UInt32]]] = []
        for rank in [0, 1] {
            let run = try RunSetup("lm")
            let result = try run.train(ranks: 2, ["--set", "train.max_nan_skips=2",
                                                  "--inject-fault", "nan-grad-at-step-4-rank-\(rank)"])
            #expect(result.status == 0, "NaN on rank \(rank): \(result)")
            #expect(result.stdoutLines.filter { $0.contains("non-finite") }
                    == ["step 4: non-finite gradients; skipped (1 in a row, limit 2)"], "\(result)")
            let skips = try run.metrics().filter { $0["event"] as? String == "skip" }
            #expect(skips.count == 1 && skips.first?["step"] as? Int == 4, "\(skips)")
            // Every step once: the skipped attempt was redone with the next batch.
            let steps = try run.metrics().filter { $0["event"] as? String == "train" }.compactMap { $0["step"] as? Int }
            #expect(steps == Array(1...10))
            let final = try #require(try run.checkpoints()[10])
            #expect(try nonFiniteValues(in: final).isEmpty)
            finals.append(try checkpointContents(final))
        }
        #expect(finals[0].count > 10)
        #expect(finals[0] == finals[1], "a NaN on rank 0 and a NaN on rank 1 led to different final states")
    }

    /// Exactly `max_nan_skips` consecutive non-finite steps are still allowed.
    @Test func skipsUpToTheLimitAreAllowed() throws {
        let run = try RunSetup("lm")
        let result = try run.train(ranks: 2, ["--set", "train.max_nan_skips=2",
                                              "--inject-fault", "nan-loss-at-step-3-rank-1-times-2"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.filter { $0.contains("non-finite") }
                == ["step 3: non-finite loss; skipped (1 in a row, limit 2)",
                    "step 3: non-finite loss; skipped (2 in a row, limit 2)"], "\(result)")
        #expect(try nonFiniteValues(in: try #require(try run.checkpoints()[10])).isEmpty)
    }

    /// A NaN loss on rank 1 three times in a row with `max_nan_skips: 2`: exit status 3, one line
    /// naming the last checkpoint, which (like every checkpoint) is finite and loads; a rerun
    /// without the fault resumes from it and completes.
    @Test func nanLossBeyondTheLimitStopsWithStatus3() throws {
        let run = try RunSetup("lm")
        let arguments = ["--set", "train.max_nan_skips=2", "--set", "checkpoint.every=2"]
        let result = try run.train(ranks: 2, arguments + ["--inject-fault", "nan-loss-at-step-5-rank-1-times-3"])
        #expect(result.status == 3, "\(result)")
        let last = run.runDirectory + "/checkpoint-000000004.h5"
        #expect(result.flowformerLines == [
            "flowformer: error: training diverged: non-finite loss or gradients in 3 consecutive steps at step 5 "
                + "(train.max_nan_skips is 2); the last checkpoint, \(last), holds finite values",
        ], "\(result)")
        #expect(result.stdout.contains("step 5: non-finite loss; skipped (3 in a row, limit 2)"), "\(result)")
        #expect(try run.checkpoints().keys.sorted() == [2, 4])
        try expectEveryCheckpointIntact(run)

        let resumed = try run.train(ranks: 2, arguments)
        #expect(resumed.status == 0, "\(resumed)")
        #expect(resumed.stdout.contains("resuming from \(last)"), "\(resumed)")
    }

    /// A finite but huge gradient (1e30) with clipping off: the step is taken, and AdamW's second
    /// moment overflows to +∞ ((1e30)² > Float.max). The next checkpoint refuses to write it: exit
    /// status 3 naming the tensor, earlier checkpoints intact.
    @Test func nonFiniteStateIsNeverWrittenToACheckpoint() throws {
        let run = try RunSetup("lm")
        let result = try run.train(ranks: 2, ["--set", "train.clip_grad_norm=0", "--set", "checkpoint.every=2",
                                              "--inject-fault", "huge-grad-at-step-5-rank-0"])
        #expect(result.status == 3, "\(result)")
        let lines = result.flowformerLines
        #expect(lines.count == 1, "\(result)")
        let line = try #require(lines.first)
        #expect(line.hasPrefix("flowformer: error: optimizer state ") && line.contains("/exp_avg_sq is not finite at step 6: checkpoint not written"),
                "\(result)")
        #expect(try run.checkpoints().keys.sorted() == [2, 4])
        try expectEveryCheckpointIntact(run)
    }
}
