import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Stop and resume: nothing lost, nothing repeated (docs/FORMATS.md, "Checkpoint files", issue: exact resume).
    @Suite struct Resume {
        /// N steps straight vs N/2 + stop + resume + N/2 on the same world size: bitwise equal
        /// parameters and optimizer state.
        @Test(arguments: ["lm", "image"])
        func sameWorldSizeIsBitwise(kind: String) throws {
            let straight = try RunSetup(kind)
            let full = try straight.train(ranks: 2)
            #expect(full.status == 0, "\(full)")

            let interrupted = try RunSetup(kind)
            let first = try interrupted.train(ranks: 2, ["--stop-at-step", "5"])
            #expect(first.status == 75, "a stopped run exits with the resumable status: \(first)")
            #expect(try interrupted.checkpoints().keys.sorted() == [5])
            let second = try interrupted.train(ranks: 2)
            #expect(second.status == 0, "\(second)")
            #expect(second.stdout.contains("resuming from"), "\(second)")

            let a = try checkpointContents(try #require(try straight.checkpoints()[10]))
            let b = try checkpointContents(try #require(try interrupted.checkpoints()[10]))
            #expect(a.count > 10)
            #expect(a == b, "resumed run's final parameters or optimizer state differ from the uninterrupted run's")
            // The resumed run continued at step 6 and logged every step once.
            let steps = try interrupted.metrics().filter { $0["event"] as? String == "train" }.compactMap { $0["step"] as? Int }
            #expect(steps == Array(1...10))
        }

        /// A resume whose configuration changes the seed or the global batch says so in one
        /// warning line each (the checkpoint's seed is kept; the batch position names other samples).
        @Test func changedSeedOrGlobalBatchIsNamed() throws {
            let run = try RunSetup("lm")
            #expect(try run.train(ranks: 2, ["--stop-at-step", "5"]).status == 75)
            let resumed = try run.train(ranks: 2, ["--set", "train.seed=4", "--set", "train.global_batch=8"])
            #expect(resumed.status == 0, "\(resumed)")
            let warnings = resumed.stdoutLines.filter { $0.hasPrefix("warning: resuming ") }
            #expect(warnings.count == 2, "\(resumed)")
            #expect(warnings.contains { $0.contains("train.seed is 4 in the configuration but 3 in the checkpoint") }, "\(resumed)")
            #expect(warnings.contains { $0.contains("train.global_batch is 8 in the configuration but 12 in the checkpoint")
                                          && $0.contains("(epoch 0, batch 5) now names other samples (sample 40 of the epoch instead of 60)") },
                    "\(resumed)")
            let same = try run.train(ranks: 2, ["--set", "train.steps=12", "--set", "train.global_batch=8"])
            #expect(same.status == 0 && !same.stdout.contains("warning: resuming"), "\(same)")
        }

        /// Resuming on another number of ranks continues at the same global sample: the loss
        /// curve matches the uninterrupted run.
        @Test(arguments: [(2, 1), (1, 2), (2, 3)])
        func otherWorldSizeContinuesTheSameCurve(before: Int, after: Int) throws {
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 1).status == 0)
            let run = try RunSetup("lm")
            let first = try run.train(ranks: before, ["--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: after)
            #expect(second.status == 0, "\(second)")
            let difference = relativeDifference(try run.losses(), try straight.losses(), steps: 1...10)
            #expect(difference < 1e-5, "np \(before)→\(after): losses differ by \(difference) (relative)")
        }

        @Test func noResumeRefusesAUsedDirectory() throws {
            let run = try RunSetup("lm")
            #expect(try run.train(ranks: 0, ["--set", "train.steps=2", "--set", "train.warmup_steps=1"]).status == 0)
            let again = try run.train(ranks: 0, ["--no-resume"])
            #expect(again.status == 1)
            #expect(again.stderr.contains("already holds checkpoints"), "\(again)")
            #expect(again.stderrLines.count == 1, "\(again)")
        }

        @Test func conflictingArchitectureOverrideOnResumeIsAnError() throws {
            let run = try RunSetup("lm")
            #expect(try run.train(ranks: 0, ["--stop-at-step", "2"]).status == 75)
            let again = try run.train(ranks: 0, ["--set", "model.d_model=32"])
            #expect(again.status == 1)
            #expect(again.stderr.contains("conflicts with the architecture"), "\(again)")
        }

        @Test func damagedNewestCheckpointFallsBackToThePreviousOne() throws {
            let run = try RunSetup("lm")
            #expect(try run.train(ranks: 0, ["--set", "checkpoint.every=3", "--stop-at-step", "7"]).status == 75)
            let checkpoints = try run.checkpoints()
            #expect(checkpoints.keys.sorted() == [3, 6, 7])
            // Truncate the newest.
            let newest = try #require(checkpoints[7])
            let handle = try #require(FileHandle(forWritingAtPath: newest))
            try handle.truncate(atOffset: 1000)
            try handle.close()
            let resumed = try run.train(ranks: 0, ["--set", "checkpoint.every=3"])
            #expect(resumed.status == 0, "\(resumed)")
            #expect(resumed.stdout.contains("skipping unusable checkpoint"), "\(resumed)")
            #expect(resumed.stdout.contains("resuming from \(try #require(checkpoints[6]))"), "\(resumed)")
            // A named checkpoint that fails its checks is an error.
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: newest))
            let named = try run.train(ranks: 0, ["--resume", newest])
            #expect(named.status == 1)
            #expect(named.stderrLines.count == 1, "\(named)")
        }

        /// `kill -9` of the checkpoint writer mid-write: the previous checkpoint still loads, the
        /// partial file is never taken for a checkpoint, and the run resumes to the same result.
        @Test func writerKilledMidCheckpoint() throws {
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 2, ["--set", "checkpoint.every=3"]).status == 0)

            let run = try RunSetup("lm")
            let killed = try run.train(ranks: 2, ["--set", "checkpoint.every=3", "--inject-fault", "kill-writer-at-step-6"])
            #expect(killed.status != 0, "\(killed)")
            #expect(try run.checkpoints().keys.sorted() == [3])
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.runDirectory).filter { $0.hasSuffix(".tmp") }
            #expect(!leftovers.isEmpty, "the injected fault should have left a partial file")
            let resumed = try run.train(ranks: 2, ["--set", "checkpoint.every=3"])
            #expect(resumed.status == 0, "\(resumed)")
            let stale = try FileManager.default.contentsOfDirectory(atPath: run.runDirectory).filter { $0.hasSuffix(".tmp") }
            #expect(stale.isEmpty, "the resumed run should remove the partial file: \(stale)")
            let a = try checkpointContents(try #require(try straight.checkpoints()[10]))
            let b = try checkpointContents(try #require(try run.checkpoints()[10]))
            #expect(a == b)
        }
    }
}
