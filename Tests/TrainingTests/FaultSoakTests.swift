import Foundation
import TestSupport
import Testing

extension EndToEnd.Faults {
    /// `jobs/soak.sh --short`: three `kill -9`s of a random rank at random moments of a 2-rank run,
    /// each followed by a rerun of the same command; the final parameters and optimizer state must
    /// be bitwise equal to an uninterrupted run's (the script compares them with h5diff).
    @Test func killAndResumeSoak() throws {
        let script = RealData.packageRoot.appendingPathComponent("jobs/soak.sh")
        let flowformer = try ProcessRunner.builtProduct("flowformer")
        let result = try ProcessRunner.run(URL(fileURLWithPath: "/bin/bash"),
                                           [script.path, "--short", "--bin", flowformer.path,
                                            "--data", try RealData.path("kjv-train.h5")],
                                           timeoutSeconds: 240)
        #expect(result.status == 0 && !result.timedOut, "\(result)")
        #expect(result.stdoutLines.filter { $0.hasPrefix("soak: kill ") }.count == 3, "\(result)")
        #expect(result.stdout.contains("soak: pass: 3 kills, final parameters and optimizer state bitwise equal"), "\(result)")
    }
}
