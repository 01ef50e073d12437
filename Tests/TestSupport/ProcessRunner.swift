import Foundation

/// What a child process did, as seen by `ProcessRunner`.
public struct ProcessResult: CustomStringConvertible, Sendable {
    /// Exit status, or the signal number when `uncaughtSignal` is true.
    public let status: Int32
    public let uncaughtSignal: Bool
    public let stdout: String
    public let stderr: String
    /// Wall time from launch until the process ended and its output was read.
    public let seconds: Double
    /// The process outlived its time limit and was killed.
    public let timedOut: Bool

    /// Lines of stdout / stderr, without empty ones.
    public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }

    /// Everything, for test failure messages.
    public var description: String {
        "status \(status)\(uncaughtSignal ? " (signal)" : "")\(timedOut ? " TIMED OUT" : ""), "
            + String(format: "%.1f s", seconds) + "\n--- stdout\n\(stdout)--- stderr\n\(stderr)---"
    }
}

/// Launches the built `flowformer` (alone or under `mpirun`) through `Foundation.Process`, with
/// a time limit so that a hang fails the test instead of hanging the test run.
///
/// Both pipes are drained on background threads while the process runs (a full pipe would
/// block the child), and read to their end before the exit status is collected.
public enum ProcessRunner {
    /// Variables every launched process gets: running as root is allowed for `mpirun`.
    public static let mpiEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// Runs `executable arguments…` with this process's environment plus `environment`.
    ///
    /// - Parameter timeoutSeconds: after this, SIGTERM (which `mpirun` forwards to its ranks),
    ///   then SIGKILL 10 s later; the result is marked `timedOut`.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                           timeoutSeconds: Double = 120) throws -> ProcessResult {
        try start(executable, arguments, environment: environment).finish(timeoutSeconds: timeoutSeconds)
    }

    /// Starts `executable arguments…` and returns at once; `finish` collects the result.
    public static func start(_ executable: URL, _ arguments: [String],
                             environment: [String: String] = [:]) throws -> LaunchedProcess {
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
        let launched = LaunchedProcess(process: process)
        try runWithDefaultSignalMask(process)
        drain(stdoutPipe.fileHandleForReading, into: launched.stdoutData, group: launched.readers)
        drain(stderrPipe.fileHandleForReading, into: launched.stderrData, group: launched.readers)
        return launched
    }

    /// Runs `mpirun -np ranks [--oversubscribe] executable arguments…`.
    public static func mpirun(ranks: Int, oversubscribe: Bool = false, _ executable: URL, _ arguments: [String],
                       environment: [String: String] = [:], timeoutSeconds: Double = 120) throws -> ProcessResult {
        let mpirun = try findInPath("mpirun")
        let launch = ["-np", "\(ranks)"] + (oversubscribe ? ["--oversubscribe"] : [])
        return try run(mpirun, launch + [executable.path] + arguments,
                       environment: environment, timeoutSeconds: timeoutSeconds)
    }

    /// Starts `mpirun -np ranks [--oversubscribe] executable arguments…` and returns at once.
    public static func startMPI(ranks: Int, oversubscribe: Bool = false, _ executable: URL, _ arguments: [String],
                                environment: [String: String] = [:]) throws -> LaunchedProcess {
        let mpirun = try findInPath("mpirun")
        let launch = ["-np", "\(ranks)"] + (oversubscribe ? ["--oversubscribe"] : [])
        return try start(mpirun, launch + [executable.path] + arguments, environment: environment)
    }

    /// A product of this package's build (e.g. `flowformer`). SwiftPM puts products next to the
    /// test bundle (`.build/<triple>/debug/`); `FLOWFORMER_BUILD_DIR` overrides the search.
    public static func builtProduct(_ name: String) throws -> URL {
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
    public static func findInPath(_ name: String) throws -> URL {
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

public struct ProcessRunnerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Bytes appended by a reader thread and read by the test thread.
final class LockedData: @unchecked Sendable {
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

/// A child process started by `ProcessRunner.start`, still running or finished.
public final class LaunchedProcess: @unchecked Sendable {
    public let process: Process
    let stdoutData = LockedData()
    let stderrData = LockedData()
    let readers = DispatchGroup()
    let started = Date()

    init(process: Process) { self.process = process }

    public var pid: Int32 { process.processIdentifier }

    /// Output so far.
    public var stdoutSoFar: String { stdoutData.string }
    public var stderrSoFar: String { stderrData.string }

    /// Direct children's PIDs (the ranks, when this is `mpirun`), from /proc.
    public func childPIDs() -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == self.pid
        }.sorted()
    }

    /// Waits for the end (up to `timeoutSeconds`, then SIGTERM, then SIGKILL 10 s later) and
    /// returns what the process did.
    public func finish(timeoutSeconds: Double = 120) -> ProcessResult {
        let remaining = max(0, timeoutSeconds - Date().timeIntervalSince(started))
        var timedOut = false
        if readers.wait(timeout: .now() + remaining) == .timedOut {
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
                             seconds: Date().timeIntervalSince(started), timedOut: timedOut)
    }
}
