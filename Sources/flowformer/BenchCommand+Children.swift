import Benchmarks
import Foundation

/// Runs `flowformer bench model …` as a child process — alone, or under `mpirun -np N` — and
/// returns the `ModelResult` from its JSON report. A child per configuration gives each its own
/// peak resident memory, and lets one orchestrating process drive multi-rank runs.
enum BenchChild {
    /// The running executable (so children are the same build).
    static func executablePath() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("cannot find this executable to start benchmark children (/proc/self/exe → \(path))")
        }
        return path
    }

    /// Runs `bench model arguments… --json <temp>` on `ranks` ranks and decodes the result.
    /// Throws with the child's last stderr line if it fails.
    static func runModel(_ arguments: [String], ranks: Int, directory: URL, name: String,
                         timeoutSeconds: Double = 600) throws -> ModelResult {
        let json = directory.appendingPathComponent("\(name).json")
        let log = directory.appendingPathComponent("\(name).log")
        let executable = try executablePath()
        let command = ["bench", "model"] + arguments + ["--json", json.path]
        var environment = ProcessInfo.processInfo.environment
        let process = Process()
        if ranks > 1 {
            environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
            var launch = ["-np", "\(ranks)"]
            if ProcessInfo.processInfo.activeProcessorCount < ranks { launch.append("--oversubscribe") }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["mpirun"] + launch + [executable] + command
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = command
        }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw BenchError("bench model \(name) ran over \(Int(timeoutSeconds)) s (log: \(log.path))")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            let last = text.split(separator: "\n").last.map(String.init) ?? "no output"
            throw BenchError("bench model \(name) failed with status \(process.terminationStatus): \(last)")
        }
        let report = try BenchReport.decode(try Data(contentsOf: json))
        guard let result = report.models?.first else {
            throw BenchError("bench model \(name): no model result in \(json.path)")
        }
        return result
    }
}
