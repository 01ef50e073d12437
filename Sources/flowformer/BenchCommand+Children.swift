import Benchmarks
import Foundation

/// Runs this executable as a child process — alone, or under `mpirun -np N` — for the parts of
/// `bench all` that need their own process: each training configuration (so peak memory is its
/// own) and every multi-rank run (so the orchestrator needs no MPI).
enum BenchChild {
    /// The running executable (so children are the same build).
    static func executablePath() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("cannot find this executable to start benchmark children (/proc/self/exe → \(path))")
        }
        return path
    }

    /// Runs `flowformer arguments…` on `ranks` ranks with stdout and stderr into `log`.
    /// Throws with the log's last line if the child fails or outlives `timeoutSeconds`.
    static func run(_ arguments: [String], ranks: Int, log: URL, name: String, timeoutSeconds: Double) throws {
        let executable = try executablePath()
        var environment = ProcessInfo.processInfo.environment
        let process = Process()
        if ranks > 1 {
            environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
            var launch = ["-np", "\(ranks)"]
            if ProcessInfo.processInfo.activeProcessorCount < ranks { launch.append("--oversubscribe") }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["mpirun"] + launch + [executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
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
            throw BenchError("\(name) ran over \(Int(timeoutSeconds)) s (log: \(log.path))")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            let last = text.split(separator: "\n").last.map(String.init) ?? "no output"
            throw BenchError("\(name) failed with status \(process.terminationStatus): \(last)")
        }
    }

    /// Runs `bench model arguments… --json <temp>` on `ranks` ranks and decodes its result.
    static func runModel(_ arguments: [String], ranks: Int, directory: URL, name: String,
                         timeoutSeconds: Double = 600) throws -> ModelResult {
        let json = directory.appendingPathComponent("\(name).json")
        try run(["bench", "model"] + arguments + ["--json", json.path], ranks: ranks,
                log: directory.appendingPathComponent("\(name).log"), name: "bench model \(name)",
                timeoutSeconds: timeoutSeconds)
        let report = try BenchReport.decode(try Data(contentsOf: json))
        guard let result = report.models?.first else {
            throw BenchError("bench model \(name): no model result in \(json.path)")
        }
        return result
    }

    /// Runs `flowformer train --config config --set …` with its run directory inside `directory`
    /// and summarises the metrics.jsonl it wrote.
    static func runTrainer(config: String, overrides: [String], ranks: Int, threads: Int, overlap: Bool,
                           directory: URL, name: String, timeoutSeconds: Double = 600) throws -> TrainerResult {
        let runDirectory = directory.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: runDirectory)
        let sets = (overrides + ["checkpoint.dir=\(runDirectory.path)", "train.threads=\(threads)",
                                 "train.overlap_comm=\(overlap)"]).flatMap { ["--set", $0] }
        try run(["train", "--config", config] + sets, ranks: ranks,
                log: directory.appendingPathComponent("\(name).log"), name: "train \(name)",
                timeoutSeconds: timeoutSeconds)
        let metrics = runDirectory.appendingPathComponent("metrics.jsonl")
        guard let text = try? String(contentsOf: metrics, encoding: .utf8) else {
            throw BenchError("train \(name): cannot read \(metrics.path)")
        }
        return try TrainerResult.summarise(metricsText: text, label: name, ranks: ranks, threadsPerRank: threads,
                                           overlap: overlap)
    }
}
