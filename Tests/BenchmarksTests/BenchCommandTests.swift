import Foundation
import Testing
@testable import Benchmarks

/// `flowformer bench …` end to end: the built executable, its table and its JSON.
@Suite struct BenchCommandTests {
    @Test func attentionQuickWritesTheReportAndTheTable() throws {
        let directory = try temporaryDirectory()
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

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
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

/// Runs the built `flowformer` with `arguments`; output goes through files (no pipe can fill up).
func runFlowformer(_ arguments: [String], timeoutSeconds: Double = 120) throws -> ProcessOutput {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = try flowformerExecutable()
    process.arguments = arguments
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
