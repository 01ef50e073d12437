import Foundation
import TestSupport
import Testing

/// The launcher the end-to-end tests rely on: output captured, time limit enforced.
struct ProcessRunnerTests {
    @Test func capturesBothStreamsAndTheStatus() throws {
        let shell = try ProcessRunner.findInPath("sh")
        let result = try ProcessRunner.run(shell, ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == 3 && !result.timedOut && !result.uncaughtSignal, "\(result)")
        #expect(result.stdoutLines == ["out"], "\(result)")
        #expect(result.stderrLines == ["err"], "\(result)")
    }

    @Test func childrenStartWithNoSignalBlocked() throws {
        let shell = try ProcessRunner.findInPath("sh")
        let result = try ProcessRunner.run(shell, ["-c", "grep SigBlk /proc/self/status"])
        #expect(result.stdoutLines == ["SigBlk:\t0000000000000000"], "\(result)")
    }

    @Test func aHangIsKilledAtTheTimeLimit() throws {
        let sleep = try ProcessRunner.findInPath("sleep")
        let result = try ProcessRunner.run(sleep, ["60"], timeoutSeconds: 1)
        #expect(result.timedOut, "\(result)")
        #expect(result.uncaughtSignal && result.status == SIGTERM, "\(result)")
        #expect(result.seconds < 5, "SIGTERM did not end it: \(result)")
    }

    @Test func findsTheBuiltExecutable() throws {
        let flowformer = try ProcessRunner.builtProduct("flowformer")
        #expect(FileManager.default.isExecutableFile(atPath: flowformer.path))
        let result = try ProcessRunner.run(flowformer, ["--version"])
        #expect(result.status == 0 && result.stdoutLines == ["0.1.0"], "\(result)")
    }
}
