import Foundation
import TestSupport

/// What `flowformer check-file` made of one file.
enum FileOutcome: Equatable, CustomStringConvertible {
    /// Loaded; the summary digests what was read (see `CheckFileCommand`).
    case loaded(summary: String)
    /// Rejected with this one-line message.
    case rejected(message: String)
    /// Loaded, but a loader handed out a value outside its guarantees.
    case invalid(message: String)
    /// The child process died on this file (a signal or an exit without a result line).
    case crashed(how: String)
    /// The child process was still on this file when its time limit ran out.
    case hung(seconds: Double)

    var description: String {
        switch self {
        case .loaded(let summary): return "ok \(summary)"
        case .rejected(let message): return "error: \(message)"
        case .invalid(let message): return "INVALID: \(message)"
        case .crashed(let how): return "CRASHED: \(how)"
        case .hung(let seconds): return "HUNG (killed after \(String(format: "%.0f", seconds)) s)"
        }
    }

    var isLoaded: Bool { if case .loaded = self { return true } else { return false } }
    var isRejected: Bool { if case .rejected = self { return true } else { return false } }
    var isCrash: Bool { if case .crashed = self { return true } else { return false } }
    var isHang: Bool { if case .hung = self { return true } else { return false } }
}

/// Runs `flowformer check-file --dataset|--checkpoint` over many files in a few child processes
/// and attributes every outcome to its file.
///
/// Files go to a child `batchSize` at a time. The child prints `try PATH` (flushed) before each
/// file, then `ok PATH …`, `error PATH: …` or `invalid PATH: …`. If the child dies or overruns
/// `secondsPerBatch`, the file after the last result line is the culprit (crashed / hung), and a
/// new child carries on with the files after it — so one bad file costs one outcome, not the run.
struct CheckFileRunner {
    let executable: URL
    var batchSize = 50
    /// A batch of 50 takes about a second here; the margin is for a loaded machine.
    var secondsPerBatch: Double = 30
    /// Extra arguments before the paths (fault injection in the runner's own test).
    var extraArguments: [String] = []

    /// The Swift runtime's crash handler is switched off in the children: it symbolicates in a
    /// helper process that keeps the child's pipes open (for up to its own 30 s timeout, or
    /// longer when it cannot suspend a thread), which would turn every crash into a "hang".
    /// A crash then ends the child at once with its signal; rerun the kept file by hand for a
    /// backtrace.
    static let environment = ["SWIFT_BACKTRACE": "enable=no"]

    init() throws {
        executable = try ProcessRunner.builtProduct("flowformer")
    }

    /// Outcome of every path, and whatever the children that ended normally wrote to stderr
    /// (nothing is expected: check-file reports on stdout, and HDF5's own error printing must
    /// stay silenced).
    func check(kind: String, _ paths: [String]) throws -> (outcomes: [String: FileOutcome], stderr: String) {
        var outcomes: [String: FileOutcome] = [:]
        var stderr = ""
        var remaining = paths[...]
        while !remaining.isEmpty {
            let batch = Array(remaining.prefix(batchSize))
            let result = try ProcessRunner.run(executable, ["check-file", "--\(kind)"] + extraArguments + batch,
                                               environment: Self.environment, timeoutSeconds: secondsPerBatch)
            var lastTried: String?
            for line in result.stdoutLines {
                if let path = line.removingPrefix("try ") {
                    lastTried = path
                } else if let (path, outcome) = parseResult(line, batch: batch) {
                    outcomes[path] = outcome
                }
            }
            let unresolved = batch.filter { outcomes[$0] == nil }
            if unresolved.isEmpty {
                let expected: Int32 = batch.allSatisfy({ outcomes[$0]!.isLoaded }) ? 0 : 1
                if result.status != expected || result.uncaughtSignal {
                    throw ProcessRunnerError("check-file answered every file but ended with \(result)")
                }
                stderr += result.stderr
                remaining = remaining.dropFirst(batch.count)
                continue
            }
            // The child ended early. The culprit is the file it was trying; if that file already
            // has its result line, the child died cleaning up after it (still that file's fault);
            // if it never tried one, it died at start-up and the first file takes the blame.
            let culprit = lastTried ?? unresolved[0]
            let when = lastTried == nil ? " before its first file"
                : outcomes[culprit] != nil ? " after the result line of this file" : ""
            if result.timedOut {
                outcomes[culprit] = .hung(seconds: result.seconds)
            } else {
                let how = result.uncaughtSignal ? "signal \(result.status) (\(signalName(result.status)))"
                    : "exit status \(result.status) without a result line"
                let lastError = result.stderrLines.last.map { "; stderr: \($0)" } ?? ""
                outcomes[culprit] = .crashed(how: how + when + lastError)
            }
            let culpritIndex = remaining.firstIndex(of: culprit)!
            remaining = remaining[(culpritIndex + 1)...]
        }
        return (outcomes, stderr)
    }

    private func parseResult(_ line: String, batch: [String]) -> (String, FileOutcome)? {
        // Paths hold no spaces (temporary directories made by the tests).
        if let rest = line.removingPrefix("ok ") {
            let parts = rest.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), .loaded(summary: String(parts[1]))) : nil
        }
        for (prefix, make) in [("error ", FileOutcome.rejected), ("invalid ", FileOutcome.invalid)] {
            if let rest = line.removingPrefix(prefix), let colon = rest.range(of: ": ") {
                return (String(rest[..<colon.lowerBound]), make(String(rest[colon.upperBound...])))
            }
        }
        return nil
    }
}

func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGBUS: return "SIGBUS"
    case SIGILL: return "SIGILL"
    case SIGFPE: return "SIGFPE"
    case SIGTRAP: return "SIGTRAP"
    case SIGKILL: return "SIGKILL"
    case SIGTERM: return "SIGTERM"
    default: return "signal \(signal)"
    }
}

extension String {
    func removingPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
