import Foundation
import TestSupport
import Testing

/// A real ENOSPC: the run directory on a 256 KiB tmpfs (two tiny checkpoints fit, the third
/// does not). Needs `mount` (root with CAP_SYS_ADMIN, as on the CI machines); skipped elsewhere.
enum SmallFileSystem {
    static let available: Bool = {
        let probe = NSTemporaryDirectory() + "flowformer-tmpfs-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { _ = try? ProcessRunner.run(URL(fileURLWithPath: "/bin/umount"), [probe], timeoutSeconds: 10)
                try? FileManager.default.removeItem(atPath: probe) }
        guard let mount = try? ProcessRunner.run(URL(fileURLWithPath: "/bin/mount"),
                                                 ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], timeoutSeconds: 10)
        else { return false }
        return mount.status == 0
    }()

    static func mount(_ path: String, kilobytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try ProcessRunner.run(URL(fileURLWithPath: "/bin/mount"),
                                           ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path], timeoutSeconds: 10)
        guard result.status == 0 else { throw ProcessRunnerError("mount tmpfs at \(path) failed: \(result)") }
    }

    static func unmount(_ path: String) {
        _ = try? ProcessRunner.run(URL(fileURLWithPath: "/bin/umount"), [path], timeoutSeconds: 10)
    }
}

extension EndToEnd.Faults {
    @Test(.enabled(if: SmallFileSystem.available, "needs mount(8) for a small tmpfs"))
    func fullDiskDuringACheckpointKeepsThePreviousOne() throws {
        let run = try RunSetup("lm")
        try SmallFileSystem.mount(run.runDirectory, kilobytes: 256)
        defer { SmallFileSystem.unmount(run.runDirectory) }
        let result = try run.train(ranks: 2, ["--set", "train.steps=30", "--set", "checkpoint.every=2"])
        #expect(result.status == 1 && !result.timedOut, "\(result)")
        #expect(!result.showsACrash, "\(result)")
        // The TensorBoard copy of the metrics may fail to grow on the full disk too (one warning).
        let lines = result.flowformerLines.filter { !$0.contains("/events.out.tfevents.") }
        #expect(lines.count == 1, "\(result)")
        let line = lines.first ?? ""
        #expect(line.contains("No space left on device") && line.contains("newest checkpoint on disk"), "\(line)")
        let saved = try run.checkpoints()
        #expect(!saved.isEmpty && saved.keys.max() ?? 0 < 30, "\(saved)")
        try expectEveryCheckpointIntact(run)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.runDirectory).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "the failed write left \(leftovers)")
    }

    /// A checkpoint of one optimizer resumed with another: one line naming what it holds.
    @Test func checkpointOfAnotherOptimizerIsRefused() throws {
        let run = try RunSetup("lm")
        #expect(try run.train(ranks: 0, ["--set", "train.optimizer=sgd", "--stop-at-step", "2"]).status == 75)
        let resumed = try run.train(ranks: 0, ["--set", "train.optimizer=adamw"])
        #expect(resumed.status == 1, "\(resumed)")
        #expect(resumed.flowformerLines.count == 1, "\(resumed)")
        #expect(resumed.stderr.contains("holds optimizer state [\"momentum\"] but adamw needs exp_avg"), "\(resumed)")
    }
}
