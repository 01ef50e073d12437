import Foundation
import TestSupport
import Testing

/// The fault rows of the reliability catalogue, end to end: numerics, processes, storage, launch
/// and the kill-and-resume soak. Each test injects one fault into a tiny real run and checks what
/// a user would see: the exit status, the one line on stderr, the checkpoints left on disk and
/// whether a rerun resumes. Serialized with the other end-to-end suites (nested in `EndToEnd`).
extension EndToEnd {
    @Suite struct Faults {}
}

extension LaunchedProcess {
    /// The rank processes under this `mpirun`, by rank: its direct children, each identified by
    /// the `OMPI_COMM_WORLD_RANK` that mpirun put in its environment.
    func rankPIDs() -> [Int: Int32] {
        var ranks: [Int: Int32] = [:]
        for pid in childPIDs() {
            guard let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            for entry in environment.split(separator: 0) {
                let text = String(decoding: entry, as: UTF8.self)
                if text.hasPrefix("OMPI_COMM_WORLD_RANK="), let rank = Int(text.dropFirst("OMPI_COMM_WORLD_RANK=".count)) {
                    ranks[rank] = pid
                }
            }
        }
        return ranks
    }
}

extension ProcessResult {
    /// The lines `flowformer` itself wrote to stderr (not mpirun's banners).
    var flowformerLines: [String] { stderrLines.filter { $0.hasPrefix("flowformer:") } }

    /// Whether any process crashed (a trap, a segfault): the Swift runtime's or mpirun's report.
    var showsACrash: Bool {
        stderr.contains("crashed") || stderr.contains("Segmentation fault") || stderr.contains("exited on signal")
            || stderr.contains("Fatal error")
    }
}

/// Polls `condition` every 50 ms for up to `seconds`; returns whether it became true.
@discardableResult
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}

/// The state letter of a process in /proc/PID/stat (R running, S sleeping, T stopped, Z zombie),
/// nil when there is no such process.
func processState(_ pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first?.first
}

/// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
func hasEnded(_ pid: Int32) -> Bool {
    let state = processState(pid)
    return state == nil || state == "Z"
}

/// Ends processes a test stopped or left behind: SIGCONT (a stopped process cannot die of
/// SIGTERM) and SIGKILL, each only if the process is still alive.
func killLeftovers(_ pids: [Int32]) {
    for pid in pids where !hasEnded(pid) {
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
    }
}

/// Sets a running process's soft file-size limit (RLIMIT_FSIZE) with util-linux `prlimit`; nil
/// lifts it. Writes past the limit then fail with EFBIG, as on a full disk. The hard limit stays
/// unlimited: raising it again would need CAP_SYS_RESOURCE, which a container's root may lack.
func limitFileSize(of pid: Int32, bytes: Int?) throws {
    let prlimit = try ProcessRunner.findInPath("prlimit")
    let value = (bytes.map(String.init) ?? "unlimited") + ":unlimited"
    let result = try ProcessRunner.run(prlimit, ["--pid", "\(pid)", "--fsize=\(value)"], timeoutSeconds: 30)
    guard result.status == 0 else { throw ProcessRunnerError("prlimit --pid \(pid) --fsize=\(value): \(result)") }
}

/// `flowformer inspect PATH` (exit status 0: the checkpoint passes every check and loads).
func inspect(_ path: String) throws -> ProcessResult {
    try ProcessRunner.run(try ProcessRunner.builtProduct("flowformer"), ["inspect", path], timeoutSeconds: 60)
}

/// The float datasets of a checkpoint (under /model and /optimizer) that hold a NaN or ±∞, with
/// how many such values each holds.
func nonFiniteValues(in path: String) throws -> [String: Int] {
    var bad: [String: Int] = [:]
    for (name, bits) in try checkpointContents(path) {
        let count = bits.reduce(0) { $0 + (Float(bitPattern: $1).isFinite ? 0 : 1) }
        if count > 0 { bad[name] = count }
    }
    return bad
}

/// Every checkpoint of `run` passes `flowformer inspect` and holds only finite values; unless
/// `allowTemporaries` (a writer killed mid-write leaves one), no temporary file is left either.
func expectEveryCheckpointIntact(_ run: RunSetup, allowTemporaries: Bool = false,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
    for (step, path) in try run.checkpoints().sorted(by: { $0.key < $1.key }) {
        let inspected = try inspect(path)
        #expect(inspected.status == 0, "checkpoint of step \(step): \(inspected)", sourceLocation: sourceLocation)
        let bad = try nonFiniteValues(in: path)
        #expect(bad.isEmpty, "checkpoint of step \(step) holds non-finite values: \(bad)", sourceLocation: sourceLocation)
    }
    guard !allowTemporaries else { return }
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.runDirectory).filter { $0.hasSuffix(".tmp") }
    #expect(leftovers.isEmpty, "temporary files left in the run directory: \(leftovers)", sourceLocation: sourceLocation)
}

extension RunSetup {
    /// The highest step logged so far (0 before the first).
    var loggedStep: Int { ((try? losses().keys.max()) ?? nil) ?? 0 }
}
