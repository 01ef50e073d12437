import Foundation
import Testing
@testable import Benchmarks
import TestSupport

/// `flowformer bench …` end to end: the built executable, its table and its JSON.
@Suite struct BenchCommandTests {
    @Test func attentionQuickWritesTheReportAndTheTable() throws {
        let directory = try temporaryDirectoryURL("bench-test")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("attention.json").path
        let run = try runFlowformer(["bench", "attention", "--lengths", "256", "--quick", "--json", json])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("attention core forward+backward"), "\(run)")

        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["quick"] as? Bool == true)
        #expect(object["peak_resident_mebibytes"] is Double)
        #expect((object["machine"] as? [String: Any])?["cores"] is Int)
        let cases = try #require(object["attention"] as? [[String: Any]])
        #expect(cases.count == 6)  // flow, softmax, linear × non-causal, causal
        var seen = Set<String>()
        for entry in cases {
            #expect(entry["length"] as? Int == 256)
            #expect(entry["d_model"] as? Int == 256)
            #expect(entry["heads"] as? Int == 8)
            let milliseconds = try #require(entry["forward_backward_milliseconds"] as? Double)
            #expect(milliseconds > 0)
            seen.insert("\(entry["kind"] ?? "?") \(entry["causal"] ?? "?")")
        }
        #expect(seen.count == 6)
        let report = try BenchReport.decode(data)
        #expect(report.attention?.count == 6)
    }

    @Test func badListIsAUsageErrorOnOneLine() throws {
        let run = try runFlowformer(["bench", "attention", "--lengths", "256,x"])
        #expect(run.status == 2, "\(run)")
        #expect(run.stderr.contains("--lengths"), "\(run)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run)")
    }
}

struct ProcessOutput: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "status \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---" }
}

/// The built `flowformer`, next to the test bundle (or in `FLOWFORMER_BUILD_DIR`).
func flowformerExecutable() throws -> URL {
    var directories: [URL] = []
    if let override = ProcessInfo.processInfo.environment["FLOWFORMER_BUILD_DIR"] {
        directories.append(URL(fileURLWithPath: override))
    }
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        directories.append(bundle.bundleURL.deletingLastPathComponent())
    }
    directories.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    directories.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"))
    for directory in directories {
        let candidate = directory.appendingPathComponent("flowformer")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw BenchError("built flowformer not found in \(directories.map(\.path))")
}

/// Runs the built `flowformer` with `arguments` (under `mpirun -np mpiRanks` if given), with
/// `environment` added to this process's; output goes through files, so no pipe can fill up.
func runFlowformer(_ arguments: [String], timeoutSeconds: Double = 120, mpiRanks: Int? = nil,
                   environment: [String: String] = [:]) throws -> ProcessOutput {
    let directory = try temporaryDirectoryURL("bench-test")
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    if let ranks = mpiRanks {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["mpirun", "-np", "\(ranks)", "--oversubscribe", try flowformerExecutable().path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"].merging(environment) { _, new in new }
        ) { _, new in new }
    } else {
        process.executableURL = try flowformerExecutable()
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
    }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw BenchError("flowformer \(arguments.joined(separator: " ")) ran over \(timeoutSeconds) s")
    }
    process.waitUntilExit()
    return ProcessOutput(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// `flowformer bench model` on one rank and, under mpirun, on two: the report's structure and the
/// arithmetic that ties its fields together (never the speed).
@Suite struct BenchModelCommandTests {
    static func modelResult(_ data: Data) throws -> ModelResult {
        let report = try BenchReport.decode(data)
        return try #require(report.models?.first)
    }

    static func checkConsistency(_ model: ModelResult) {
        #expect(model.timedSteps == 1)
        #expect(abs(model.samplesPerSecond - Double(model.globalBatch) / model.step.median) <= 1e-9 * model.samplesPerSecond)
        #expect(abs(model.tokensPerSecond - model.samplesPerSecond * Double(model.tokensPerSample)) <= 1e-6 * model.tokensPerSecond)
        #expect(abs(model.achievedGflops - model.flopsPerStep / model.step.median / 1e9) <= 1e-9 * model.achievedGflops)
        #expect(model.forwardSeconds > 0 && model.backwardSeconds > 0 && model.optimizerSeconds > 0)
        #expect(model.forwardSeconds + model.backwardSeconds + model.commWaitSeconds + model.optimizerSeconds
                <= model.step.median * 1.0001)
        #expect(model.peakResidentMebibytes > 1)
        #expect(model.parameterCount > 0)
    }

    @Test func oneRankImageQuickWithAPeakGivesMFU() throws {
        let directory = try temporaryDirectoryURL("bench-test")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("model.json").path
        let run = try runFlowformer(["bench", "model", "--config", "image", "--attention", "softmax", "--quick",
                                     "--peak-gflops", "100", "--json", json])
        #expect(run.status == 0, "\(run)")
        let model = try Self.modelResult(try Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(model.kind == "image" && model.attention == "softmax" && model.ranks == 1 && model.overlap == nil)
        #expect(model.tokensPerSample == 64 && model.globalBatch == 2 && model.data == "synthetic")
        #expect(model.commWaitSeconds < 1e-3 && model.dataWaitSeconds == 0)  // one rank: nothing to reduce or read
        #expect(model.referencePeakGflops == 100)
        #expect(model.mfu.map { abs($0 - model.achievedGflops / 100) < 1e-12 } == true)
        Self.checkConsistency(model)
    }

    @Test(arguments: [true, false])
    func twoRanksUnderMpirun(overlap: Bool) throws {
        let directory = try temporaryDirectoryURL("bench-test")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("model.json").path
        let run = try runMpirun(ranks: 2, ["bench", "model", "--config", "lm", "--quick", overlap ? "--overlap" : "--no-overlap",
                                           "--json", json])
        #expect(run.status == 0, "\(run)")
        let model = try Self.modelResult(try Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(model.ranks == 2 && model.overlap == overlap && model.globalBatch == 2)
        #expect(model.commWaitSeconds >= 0)
        #expect(model.label.contains(overlap ? "overlap" : "no-overlap"))
        Self.checkConsistency(model)
    }

    /// `--compare-deterministic`: both kinds of step timed, their ratio and the all-reduce bytes printed.
    @Test func compareDeterministicPrintsBothStepsAndTheRatio() throws {
        let run = try runFlowformer(["bench", "model", "--config", "image", "--quick", "--compare-deterministic"])
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ordinary     : median ") }, "\(run)")
        #expect(lines.contains { $0.hasPrefix("deterministic: median ") }, "\(run)")
        #expect(lines.contains { $0.hasPrefix("ratio deterministic / ordinary: median ") }, "\(run)")
        #expect(lines.contains { $0.contains("deterministic (2.00×)") }, "\(run)")
    }

    @Test func batchThatDoesNotSplitOverRanksIsAnError() throws {
        let run = try runMpirun(ranks: 2, ["bench", "model", "--config", "lm", "--quick", "--batch", "1"])
        #expect(run.status != 0, "\(run)")
        #expect(run.stderr.contains("not a multiple of the 2 ranks"), "\(run)")
    }
}

/// `mpirun -np ranks flowformer arguments…` (as root: the allow-root variables are set).
func runMpirun(ranks: Int, _ arguments: [String], timeoutSeconds: Double = 120,
               environment: [String: String] = [:]) throws -> ProcessOutput {
    try runFlowformer(arguments, timeoutSeconds: timeoutSeconds, mpiRanks: ranks, environment: environment)
}
