import Foundation
import TestSupport
import Testing

/// Processes: a rank killed (`kill -9`) or stopped (SIGSTOP) in the middle of a 2-rank run. The
/// job must end within a bounded time with a non-zero status and a message naming the rank, the
/// last checkpoint must load, and a rerun must resume from it.
extension EndToEnd.Faults {
    /// The arguments of a run long enough to be interrupted: 400 steps, a checkpoint every 2,
    /// 0.1 s per step.
    static let longRun = ["--set", "train.steps=400", "--set", "checkpoint.every=2", "--inject-step-delay", "0.1"]

    /// `kill -9` of rank 1: mpirun notices, names the rank and ends the job (well within 60 s);
    /// the newest checkpoint loads and the same command resumes from it.
    @Test func killedRankEndsTheJobAndTheRunResumes() throws {
        let run = try RunSetup("lm")
        let launched = try run.start(ranks: 2, Self.longRun)
        let ranks = waitForRanks(launched)
        defer { killLeftovers(Array(ranks.values)) }
        #expect(waitUntil(seconds: 120) { (try? run.checkpoints().count) ?? 0 >= 2 }, "no checkpoint within 120 s")
        let victim = try #require(ranks[1], "rank processes: \(ranks)")
        kill(victim, SIGKILL)
        let killed = Date()
        let result = launched.finish(timeoutSeconds: 180)
        let seconds = Date().timeIntervalSince(killed)
        #expect(!result.timedOut && seconds < 60, "the job ended \(seconds) s after the kill: \(result)")
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("process rank 1 ") && result.stderr.contains("exited on signal 9"),
                "no message naming the killed rank: \(result)")
        #expect(waitUntil(seconds: 10) { ranks.values.allSatisfy(hasEnded) }, "ranks outlived the job")

        // The newest complete checkpoint loads (a write cut short leaves only a temporary file).
        try expectEveryCheckpointIntact(run, allowTemporaries: true)
        let (step, newest) = try #require(try run.checkpoints().max { $0.key < $1.key })
        let resumed = try run.train(ranks: 2, Self.longRun + ["--stop-at-step", "\(step + 2)"])
        #expect(resumed.status == 75, "\(resumed)")
        #expect(resumed.stdout.contains("resuming from \(newest) at step \(step)"), "\(resumed)")
        #expect(try run.checkpoints()[step + 2] != nil)
    }

    /// SIGSTOP of one rank: the other waits in a collective until `--collective-timeout 5`, finds
    /// that rank no longer answers, and ends the job (status 76, failed, resumable) with one line
    /// naming the timeout, the stopped rank and its host; mpirun's abort kills the stopped rank
    /// too. The job ends about 5 s after the stop (+ 3 s of probing), not later.
    @Test(arguments: [1, 0])
    func stoppedRankTimesOutAndAbortsTheJob(stoppedRank: Int) throws {
        let run = try RunSetup("lm")
        let launched = try run.start(ranks: 2, Self.longRun + ["--collective-timeout", "5"])
        let ranks = waitForRanks(launched)
        defer { killLeftovers(Array(ranks.values)) }
        #expect(waitUntil(seconds: 120) { run.loggedStep >= 3 }, "training did not start within 120 s")
        let stopped = try #require(ranks[stoppedRank], "rank processes: \(ranks)")
        kill(stopped, SIGSTOP)
        let stoppedAt = Date()
        let result = launched.finish(timeoutSeconds: 120)
        let seconds = Date().timeIntervalSince(stoppedAt)
        #expect(!result.timedOut && seconds < 30, "the job ended \(seconds) s after the stop: \(result)")
        #expect(seconds > 4, "the job ended \(seconds) s after the stop, before the 5 s collective timeout: \(result)")
        #expect(result.status != 0, "\(result)")
        #expect(result.status == 76, "the job should end as failed, resumable (76): \(result)")
        let waiting = 1 - stoppedRank
        let host = Self.hostName
        let expected = "flowformer: rank \(waiting) (\(host)): collectives stalled (MPI_Iallreduce did not complete "
            + "within 5 s); rank \(stoppedRank) on \(host) stopped answering; ending the job with exit status 76 "
            + "(failed, resumable): the last checkpoint, "
        #expect(result.flowformerLines.first?.hasPrefix(expected) == true, "\(result)")
        #expect(result.flowformerLines.first?.contains(", is intact; run the same command again") == true, "\(result)")
        #expect(result.flowformerLines.count == 1, "one line names the lost rank: \(result)")
        // mpirun's abort ended the stopped rank (before the clean-up above could).
        #expect(waitUntil(seconds: 10) { hasEnded(stopped) }, "the stopped rank outlived the job")
        try expectEveryCheckpointIntact(run, allowTemporaries: true)
    }

    /// Rank 0 stops itself (SIGSTOP) in the middle of writing a checkpoint, while rank 1 waits
    /// for the outcome: rank 1 must time out there too, not wait forever.
    @Test func writerStoppedMidCheckpointTimesOutTheOthers() throws {
        let run = try RunSetup("lm")
        let launched = try run.start(ranks: 2, ["--set", "checkpoint.every=2", "--collective-timeout", "5",
                                                "--inject-fault", "stop-writer-at-step-4"])
        let ranks = waitForRanks(launched)
        defer { killLeftovers(Array(ranks.values)) }
        let result = launched.finish(timeoutSeconds: 90)
        #expect(!result.timedOut && result.seconds < 45, "\(result)")
        #expect(result.status != 0, "\(result)")
        #expect(result.status == 76, "\(result)")
        let host = Self.hostName
        #expect(result.flowformerLines.first?.hasPrefix(
                    "flowformer: rank 1 (\(host)): collectives stalled (MPI_Iallreduce did not complete within 5 s); "
                    + "rank 0 on \(host) stopped answering; ending the job with exit status 76 (failed, resumable): "
                    + "the last checkpoint, \(run.runDirectory)/checkpoint-000000002.h5, is intact") == true,
                "\(result)")
        #expect(waitUntil(seconds: 10) { ranks.values.allSatisfy(hasEnded) }, "ranks outlived the job")
        // Checkpoint 2 is there; 4 is there only if it was complete (renamed) when rank 0 died.
        #expect(try run.checkpoints()[2] != nil)
        try expectEveryCheckpointIntact(run, allowTemporaries: true)
    }

    /// Sharded optimizer state: rank 1 stops itself as step 4's checkpoint begins, while rank 0
    /// waits in the gathers of the state it writes: rank 0 must time out there (not wait in a
    /// blocking gather forever), name rank 1, and end the job; checkpoint 2 stays intact.
    @Test func rankStoppedBeforeTheShardedGathersTimesOutTheWriter() throws {
        let run = try RunSetup("lm")
        let launched = try run.start(ranks: 2, ["--set", "checkpoint.every=2", "--set", "train.shard_optimizer=true",
                                                "--collective-timeout", "5",
                                                "--inject-fault", "stop-before-checkpoint-at-step-4-rank-1"])
        let ranks = waitForRanks(launched)
        defer { killLeftovers(Array(ranks.values)) }
        let result = launched.finish(timeoutSeconds: 90)
        #expect(!result.timedOut && result.seconds < 45, "\(result)")
        #expect(result.status == 76, "\(result)")
        let host = Self.hostName
        #expect(result.flowformerLines.first?.hasPrefix(
                    "flowformer: rank 0 (\(host)): collectives stalled (MPI_Igatherv did not complete within 5 s); "
                    + "rank 1 on \(host) stopped answering; ending the job with exit status 76 (failed, resumable): "
                    + "the last checkpoint, \(run.runDirectory)/checkpoint-000000002.h5, is intact") == true,
                "\(result)")
        #expect(waitUntil(seconds: 10) { ranks.values.allSatisfy(hasEnded) }, "ranks outlived the job")
        #expect(try run.checkpoints()[2] != nil)
        try expectEveryCheckpointIntact(run, allowTemporaries: true)
    }

    /// This machine's host name, as the ranks report it (`MPI_Get_processor_name` is `gethostname`).
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// The rank processes of a freshly launched job, once both exist (empty after 60 s).
    private func waitForRanks(_ launched: LaunchedProcess) -> [Int: Int32] {
        var ranks: [Int: Int32] = [:]
        waitUntil(seconds: 60) {
            ranks = launched.rankPIDs()
            return ranks.count == 2
        }
        return ranks
    }
}
