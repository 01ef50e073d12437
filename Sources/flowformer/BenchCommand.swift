import ArgumentParser
import Benchmarks
import Foundation
import TensorKernels
import Training

/// `flowformer bench`: measures what the trainer's speed rests on — sgemm peak, attention cores
/// over sequence lengths, whole training steps — prints tables and writes JSON (`--json`).
/// Compute-only benchmarks use inputs generated in memory; see jobs/bench/README.md.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm peak, attention cores and training throughput; print tables, write JSON.",
        discussion: """
            `flowformer bench all --json out.json` runs every measurement (under 10 minutes on \
            2 cores); the other subcommands run one part. Figures are medians over repeated runs. \
            --quick shrinks everything to a smoke test whose figures are not results.
            """,
        subcommands: [BenchAllCommand.self, BenchSgemmCommand.self, BenchAttentionCommand.self,
                      BenchModelCommand.self, BenchReaderCommand.self, BenchAllReduceCommand.self,
                      BenchGenerateCommand.self]
    )
}

/// Options every `bench` subcommand takes.
struct BenchOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the results as JSON to this file.", valueName: "path"))
    var json: String?

    @Flag(help: "Smoke-test mode: small sizes, one timed run each. The figures are not results.")
    var quick = false
}

/// Parses a comma-separated list of positive integers such as `512,1024`.
func parsePositiveIntegers(_ text: String, option: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var values: [Int] = []
    for part in parts {
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let value = Int(trimmed), value > 0 else {
            throw ValidationError("\(option) expects comma-separated positive integers, got '\(text)'")
        }
        values.append(value)
    }
    return values
}

extension BenchReport {
    /// Prints the tables and, when a path is given, writes the JSON.
    func emit(_ output: BenchOutputOptions) throws {
        var report = self
        report.peakResidentMebibytes = mebibytes(ResidentMemory.peakBytes())
        print(ReportTables.all(report), terminator: "")
        if let path = output.json {
            try report.write(to: path)
            print("wrote \(path)")
        }
        fflush(stdout)
    }
}

/// Writes one progress line to stderr (stdout carries the tables).
func benchProgress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
