import Foundation

/// What a child process did, as seen by `ProcessRunner`.
struct ProcessResult: CustomStringConvertible {
    /// Exit status, or the signal number when `uncaughtSignal` is true.
    let status: Int32
    let uncaughtSignal: Bool
    let stdout: String
    let stderr: String
    /// Wall time from launch until the process ended and its output was read.
    let seconds: Double
    /// The process outlived its time limit and was killed.
    let timedOut: Bool

    /// Lines of stdout / stderr, without empty ones.
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }

    /// Everything, for test failure messages.
    var description: String {
        "status \(status)\(uncaughtSignal ? " (signal)" : "")\(timedOut ? " TIMED OUT" : ""), "
            + String(format: "%.1f s", seconds) + "\n--- stdout\n\(stdout)--- stderr\n\(stderr)---"
    }
}

/// Launches the built `flowformer` (alone or under `mpirun`) through `Foundation.Process`, with
/// a time limit so that a hang fails the test instead of hanging the test run.
///
/// Both pipes are drained on background threads while the process runs (a full pipe would
/// block the child), and read to their end before the exit status is collected.
enum ProcessRunner {
    /// Variables every launched process gets: running as root is allowed for `mpirun`.
    static let mpiEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// Runs `executable arguments…` with this process's environment plus `environment`.
    ///
    /// - Parameter timeoutSeconds: after this, SIGTERM (which `mpirun` forwards to its ranks),
    ///   then SIGKILL 10 s later; the result is marked `timedOut`.
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                    timeoutSeconds: Double = 120) throws -> ProcessResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment
            .merging(mpiEnvironment) { _, new in new }
            .merging(environment) { _, new in new }
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice

        let stdoutData = LockedData()
        let stderrData = LockedData()
        let readers = DispatchGroup()
        let start = Date()
        try runWithDefaultSignalMask(process)
        drain(stdoutPipe.fileHandleForReading, into: stdoutData, group: readers)
        drain(stderrPipe.fileHandleForReading, into: stderrData, group: readers)

        var timedOut = false
        if readers.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            timedOut = true
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            if readers.wait(timeout: .now() + 10) == .timedOut {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                // Grandchildren that survived may hold the pipes open: stop waiting for them.
                _ = readers.wait(timeout: .now() + 5)
            }
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus,
                             uncaughtSignal: process.terminationReason == .uncaughtSignal,
                             stdout: stdoutData.string, stderr: stderrData.string,
                             seconds: Date().timeIntervalSince(start), timedOut: timedOut)
    }

    /// Runs `mpirun -np ranks [--oversubscribe] executable arguments…`.
    static func mpirun(ranks: Int, oversubscribe: Bool = false, _ executable: URL, _ arguments: [String],
                       environment: [String: String] = [:], timeoutSeconds: Double = 120) throws -> ProcessResult {
        let mpirun = try findInPath("mpirun")
        let launch = ["-np", "\(ranks)"] + (oversubscribe ? ["--oversubscribe"] : [])
        return try run(mpirun, launch + [executable.path] + arguments,
                       environment: environment, timeoutSeconds: timeoutSeconds)
    }

    /// A product of this package's build (e.g. `flowformer`). SwiftPM puts products next to the
    /// test bundle (`.build/<triple>/debug/`); `FLOWFORMER_BUILD_DIR` overrides the search.
    static func builtProduct(_ name: String) throws -> URL {
        var directories: [URL] = []
        if let override = ProcessInfo.processInfo.environment["FLOWFORMER_BUILD_DIR"] {
            directories.append(URL(fileURLWithPath: override))
        }
        if let executable = Bundle.main.executableURL {
            directories.append(executable.deletingLastPathComponent())
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            directories.append(bundle.bundleURL.deletingLastPathComponent())
        }
        directories.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        directories.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            .appendingPathComponent(".build/debug"))
        for directory in directories {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ProcessRunnerError("built product '\(name)' not found in \(directories.map(\.path))")
    }

    /// The first executable called `name` on `PATH`.
    static func findInPath(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ProcessRunnerError("'\(name)' not found on PATH \(path)")
    }

    /// Starts `process` with no signals blocked. A child inherits the signal mask of the thread
    /// that spawns it, and test threads (Dispatch workers) block nearly every signal: a child
    /// started from one would ignore SIGTERM, and `mpirun` could not be stopped cleanly.
    private static func runWithDefaultSignalMask(_ process: Process) throws {
        var unblocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Appends everything readable from `handle` to `data` until end of file, on a background thread.
    private static func drain(_ handle: FileHandle, into data: LockedData, group: DispatchGroup) {
        group.enter()
        DispatchQueue.global().async {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            group.leave()
        }
    }
}

struct ProcessRunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Bytes appended by a reader thread and read by the test thread.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    func append(_ chunk: Data) {
        lock.lock()
        bytes.append(chunk)
        lock.unlock()
    }

    var string: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
