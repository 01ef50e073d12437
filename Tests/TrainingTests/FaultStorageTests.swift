import Foundation
import TestSupport
import Testing

/// Storage: checkpoints that cannot be written. Tests run as root, where `chmod` stops no write,
/// so the fault is a file-size limit put on rank 0 (the writer) after its first checkpoint
/// (`prlimit`, RLIMIT_FSIZE): every later checkpoint write fails with EFBIG ("File too large"),
/// exactly as on a full disk. The trainer ignores SIGXFSZ, so the failure is an ordinary I/O error.
extension EndToEnd.Faults {
    /// Starts a run with a checkpoint every 3 steps, waits for the first one and limits rank 0's
    /// file size to `bytes`. Returns the launched job and rank 0's PID.
    private func startThenLimitWrites(_ run: RunSetup, steps: Int, bytes: (RunSetup) -> Int,
                                      _ extra: [String] = []) throws -> (LaunchedProcess, [Int32], Int32) {
        let launched = try run.start(ranks: 2, ["--set", "train.steps=\(steps)", "--set", "checkpoint.every=3",
                                                "--inject-step-delay", "0.1"] + extra)
        var ranks: [Int: Int32] = [:]
        waitUntil(seconds: 60) { ranks = launched.rankPIDs(); return ranks.count == 2 }
        let writer = try #require(ranks[0], "rank processes: \(ranks)")
        #expect(waitUntil(seconds: 120) { (try? run.checkpoints()[3]) != nil }, "no first checkpoint within 120 s")
        try limitFileSize(of: writer, bytes: bytes(run))
        return (launched, Array(ranks.values), writer)
    }

    /// `checkpoint.on_error: stop` (the default): status 1, one line naming the checkpoint that
    /// failed, why, and the newest checkpoint on disk, which is intact; no crash, no temporary file.
    @Test func unwritableCheckpointStopsTheRunAndKeepsThePreviousOne() throws {
        let run = try RunSetup("lm")
        let (launched, ranks, _) = try startThenLimitWrites(run, steps: 30, bytes: { _ in 65_536 })
        defer { killLeftovers(ranks) }
        let result = launched.finish(timeoutSeconds: 120)
        #expect(result.status == 1 && !result.timedOut, "\(result)")
        #expect(!result.showsACrash, "\(result)")
        let lines = result.flowformerLines.filter { !$0.contains("/events.out.tfevents.") }   // TensorBoard's copy may fail too
        #expect(lines.count == 1, "\(result)")
        let (_, newest) = try #require(try run.checkpoints().max { $0.key < $1.key })
        let line = try #require(lines.first)
        #expect(line.hasPrefix("flowformer: error: checkpoint \(run.runDirectory)/checkpoint-"), "\(line)")
        #expect(line.contains(": not written (") && line.contains("File too large"), "\(line)")
        #expect(line.hasSuffix("; newest checkpoint on disk: \(newest); training stops (checkpoint.on_error: stop)"), "\(line)")
        // The checkpoint it names was not written, and the run stopped right there.
        let failed = String(line.dropFirst("flowformer: error: checkpoint ".count).prefix { $0 != ":" })
        #expect(!FileManager.default.fileExists(atPath: failed), "\(failed) exists")
        #expect(try run.checkpoints().keys.max() ?? 0 < 30)
        try expectEveryCheckpointIntact(run)
    }

    /// `checkpoint.on_error: continue`: each failed checkpoint is one warning line and a
    /// `checkpoint_failed` metrics event; training goes on, and once writes work again the next
    /// checkpoint is written and the run completes with status 0.
    @Test func continuePolicyWarnsAndRetriesAtTheNextCheckpoint() throws {
        let run = try RunSetup("lm")
        let (launched, ranks, writer) = try startThenLimitWrites(run, steps: 30, bytes: { _ in 65_536 },
                                                                 ["--set", "checkpoint.on_error=continue"])
        defer { killLeftovers(ranks) }
        let warned = waitUntil(seconds: 60) { launched.stdoutSoFar.contains("training continues (checkpoint.on_error: continue)") }
        #expect(warned, "no warning within 60 s")
        try limitFileSize(of: writer, bytes: nil)
        let result = launched.finish(timeoutSeconds: 120)
        #expect(result.status == 0, "\(result)")
        #expect(!result.showsACrash && result.flowformerLines.isEmpty, "\(result)")
        let warnings = result.stdoutLines.filter { $0.hasPrefix("warning: checkpoint ") }
        #expect(!warnings.isEmpty && warnings.allSatisfy { $0.contains("not written (") && $0.contains("File too large") },
                "\(result)")
        let records = try run.metrics()
        let failedSteps = records.filter { $0["event"] as? String == "checkpoint_failed" }.compactMap { $0["step"] as? Int }
        let writtenSteps = records.filter { $0["event"] as? String == "checkpoint" }.compactMap { $0["step"] as? Int }
        #expect(failedSteps.count == warnings.count, "\(failedSteps) vs \(warnings)")
        #expect(writtenSteps.contains { $0 > (failedSteps.max() ?? .max) && $0 < 30 },
                "no periodic checkpoint written after the failures \(failedSteps): \(writtenSteps)")
        #expect(try run.checkpoints()[30] != nil)
        try expectEveryCheckpointIntact(run)
    }

    /// With `continue`, the run's last checkpoint is still never skipped: when it fails the run
    /// ends with status 1 and one line. The limit here is also below the size metrics.jsonl
    /// grows to: its appends fail too, reported once on stderr, without a crash.
    @Test func lastCheckpointIsNeverSkippedAndFailingMetricsDoNotCrash() throws {
        let run = try RunSetup("lm")
        let metricsSize: (RunSetup) -> Int = { run in
            ((try? FileManager.default.attributesOfItem(atPath: run.runDirectory + "/metrics.jsonl")[.size]) as? Int ?? 0) + 600
        }
        let (launched, ranks, _) = try startThenLimitWrites(run, steps: 12, bytes: metricsSize,
                                                            ["--set", "checkpoint.on_error=continue"])
        defer { killLeftovers(ranks) }
        let result = launched.finish(timeoutSeconds: 120)
        #expect(result.status == 1 && !result.timedOut, "\(result)")
        #expect(!result.showsACrash, "\(result)")
        let lines = result.flowformerLines.filter { !$0.contains("/events.out.tfevents.") }   // TensorBoard's copy may fail too
        #expect(lines.count == 2, "\(result)")
        #expect(lines.first { $0.hasPrefix("flowformer: warning: cannot append to \(run.runDirectory)/metrics.jsonl (File too large)") } != nil,
                "\(result)")
        let error = try #require(lines.first { $0.hasPrefix("flowformer: error: ") }, "\(result)")
        #expect(error.hasPrefix("flowformer: error: checkpoint \(run.runDirectory)/checkpoint-000000012.h5: not written ("), "\(error)")
        #expect(error.hasSuffix("training stops (a run's last checkpoint is never skipped)"), "\(error)")
        #expect(result.stdout.contains("warning: checkpoint \(run.runDirectory)/checkpoint-000000009.h5: not written"), "\(result)")
        #expect(try run.checkpoints().keys.max() ?? 0 < 12)
        try expectEveryCheckpointIntact(run)
    }
}
