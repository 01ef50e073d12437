import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// One job per run directory (docs/RUN-DIRECTORY.md): rank 0 holds an fcntl lock on
    /// `<dir>/run.lock` for the life of the job.
    @Suite struct RunDirectoryOwnership {
        /// A second job on a directory in use stops at once with one line naming the holder; the
        /// first finishes undisturbed, its metrics log intact.
        @Test func secondJobIsRefusedAndTheFirstFinishes() throws {
            let run = try RunSetup("lm")
            let steps = ["--set", "train.steps=30", "--set", "checkpoint.every=10", "--inject-step-delay", "0.1"]
            let first = try run.start(ranks: 2, steps)
            let holder = try #require(waitUntilRank0(first), "no rank 0 process under the first mpirun")
            let ranks = first.rankPIDs()
            defer { killLeftovers(Array(ranks.values)) }
            #expect(waitUntil(seconds: 120) { run.loggedStep >= 2 }, "the first job did not start: \(first.stdoutSoFar)")

            let second = try run.train(ranks: 2, steps, timeout: 120)
            #expect(second.status == 1, "\(second)")
            #expect(second.flowformerLines.count == 1, "\(second)")
            let line = second.flowformerLines.first ?? ""
            #expect(line.contains("is in use by another job") && line.contains("pid \(holder)")
                    && line.contains("host "), "\(second)")
            #expect(!second.showsACrash, "\(second)")
            #expect(second.seconds < 60, "the refusal took \(second.seconds) s")

            let finished = first.finish(timeoutSeconds: 300)
            #expect(finished.status == 0, "\(finished)")
            #expect(try run.losses().keys.sorted() == Array(1...30))
            let lines = try String(contentsOfFile: run.runDirectory + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            let unparsable = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }
            #expect(unparsable.isEmpty, "metrics.jsonl lines that are not JSON: \(unparsable)")
            try expectEveryCheckpointIntact(run)
        }

        /// `kill -9` of the lock holder (rank 0) leaves no stale lock: the next job starts and
        /// resumes from the newest checkpoint.
        @Test func killedHolderLeavesNoStaleLock() throws {
            let run = try RunSetup("lm")
            let steps = ["--set", "train.steps=400", "--set", "checkpoint.every=2", "--inject-step-delay", "0.1"]
            let first = try run.start(ranks: 2, steps)
            let holder = try #require(waitUntilRank0(first), "no rank 0 process under the first mpirun")
            let ranks = first.rankPIDs()
            defer { killLeftovers(Array(ranks.values)) }
            #expect(waitUntil(seconds: 120) { (try? run.checkpoints().count) ?? 0 >= 2 }, "no checkpoint within 120 s")
            kill(holder, SIGKILL)
            let killed = first.finish(timeoutSeconds: 120)
            #expect(killed.status != 0, "\(killed)")
            #expect(FileManager.default.fileExists(atPath: run.runDirectory + "/run.lock"))

            let (step, newest) = try #require(try run.checkpoints().max { $0.key < $1.key })
            let resumed = try run.train(ranks: 2, steps + ["--stop-at-step", "\(step + 2)"])
            #expect(resumed.status == 75, "\(resumed)")
            #expect(resumed.stdout.contains("resuming from \(newest) at step \(step)"), "\(resumed)")
        }

        /// The PID of rank 0 under `launched` (waits up to 60 s for it to appear).
        private func waitUntilRank0(_ launched: LaunchedProcess) -> Int32? {
            var pid: Int32?
            waitUntil(seconds: 60) {
                pid = launched.rankPIDs()[0]
                return pid != nil
            }
            return pid
        }
    }
}
