import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// SIGTERM / SIGINT / SIGUSR1 on one rank: every rank stops at the same step boundary after
    /// a checkpoint, exit status 75, and the resumed run ends where an uninterrupted one does.
    @Suite struct Signals {
        @Test(arguments: [(SIGTERM, 0), (SIGINT, 1), (SIGUSR1, 1)])
        func signalOnOneRankStopsAllAndResumes(signal: Int32, rankIndex: Int) throws {
            let steps = 40
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 2, ["--set", "train.steps=\(steps)"]).status == 0)

            let run = try RunSetup("lm")
            let launched = try run.start(ranks: 2, ["--set", "train.steps=\(steps)", "--inject-step-delay", "0.1"])
            // Wait until training is under way, then signal one rank (a direct child of mpirun).
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, ((try? run.losses().keys.max()) ?? nil ?? 0) < 3 {
                Thread.sleep(forTimeInterval: 0.05)
            }
            let ranks = launched.childPIDs()
            #expect(ranks.count == 2, "expected 2 rank processes under mpirun, found \(ranks)")
            if ranks.count == 2 { kill(ranks[rankIndex], signal) }
            let stopped = launched.finish(timeoutSeconds: 120)
            #expect(stopped.status == 75, "\(stopped)")
            #expect(stopped.stderr.contains("stopped on signal \(signal)"), "\(stopped)")
            let saved = try run.checkpoints()
            #expect(saved.count == 1, "one checkpoint, written at the agreed step: \(saved)")
            let stopStep = try #require(saved.keys.first)
            #expect(stopStep > 0 && stopStep < steps)

            let resumed = try run.train(ranks: 2, ["--set", "train.steps=\(steps)"])
            #expect(resumed.status == 0, "\(resumed)")
            let a = try checkpointContents(try #require(try straight.checkpoints()[steps]))
            let b = try checkpointContents(try #require(try run.checkpoints()[steps]))
            #expect(a == b, "stopped at step \(stopStep) and resumed: final state differs from the uninterrupted run")
        }

        @Test func secondInterruptStopsAtOnceAndKeepsTheLastCheckpoint() throws {
            let run = try RunSetup("lm")
            // Steps of at least 0.5 s: the second SIGINT lands long before the step boundary at
            // which the first one would stop the run.
            let launched = try run.start(ranks: 2, ["--set", "train.steps=400", "--set", "checkpoint.every=2",
                                                    "--inject-step-delay", "0.5"])
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, (try? run.checkpoints().count) ?? 0 < 2 { Thread.sleep(forTimeInterval: 0.05) }
            let ranks = launched.childPIDs()
            // Two signals sent back to back can merge into one pending signal; the second is sent
            // only once the kernel has delivered the first.
            for pid in ranks { kill(pid, SIGINT) }
            for pid in ranks { waitUntilDelivered(SIGINT, to: pid) }
            for pid in ranks { kill(pid, SIGINT) }
            let result = launched.finish(timeoutSeconds: 60)
            // A second SIGINT ends the rank with _exit(130); mpirun passes the rank's status on.
            #expect(result.status == 130, "\(result)")
            #expect(!result.timedOut, "\(result)")
            // Every checkpoint file present is complete and loads.
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            for (_, path) in try run.checkpoints() {
                let inspect = try ProcessRunner.run(flowformer, ["inspect", path])
                #expect(inspect.status == 0, "\(path): \(inspect)")
            }
        }
    }
}

/// Waits (at most 5 s) until `signal` is no longer pending for process `pid`: its handler has
/// run, or the process has ended. Reads the pending masks in /proc/<pid>/status.
private func waitUntilDelivered(_ signal: Int32, to pid: pid_t) {
    let bit = UInt64(1) << UInt64(signal - 1)
    let deadline = Date().addingTimeInterval(5)
    while Date() < deadline {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return }
        let pending = status.split(separator: "\n").filter { $0.hasPrefix("SigPnd:") || $0.hasPrefix("ShdPnd:") }
            .compactMap { UInt64($0.split(separator: "\t").last.map(String.init) ?? "", radix: 16) }
        if pending.allSatisfy({ $0 & bit == 0 }) { return }
        Thread.sleep(forTimeInterval: 0.001)
    }
}
