#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import MPIComm
import Training

/// `flowformer selftest`: checks, on every rank, that this installation's MPI works as the
/// trainer uses it. Each rank prints one line,
///
///     rank R/N: ok allreduce(float,double,int32,int64 × sum,max,min) broadcast nonblocking bf16 gradient all-reduce hdf5
///
/// or `rank R/N: FAILED <what failed>`, and the status is 1 if any check failed on this rank.
struct SelftestCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check MPI collectives on every rank (run under mpirun, srun --mpi=pmix, or alone).",
        discussion: """
            Every rank checks all-reduce (sum, max, min of Float, Double, Int32, Int64 against \
            closed forms), broadcast from the first and the last rank, and non-blocking \
            all-reduce, then prints one line. Exit status 0 if every check passed on this rank.
            """
    )

    // Fault injection for the tests of the collective watchdog; hidden from --help.

    @Option(help: ArgumentHelp("Rank that sleeps before the watchdog all-reduce (fault injection).",
                               visibility: .hidden))
    var injectStallRank: Int?

    @Option(help: ArgumentHelp("Seconds the stalled rank sleeps.", visibility: .hidden))
    var injectStallSeconds: Double = 60

    @Option(help: ArgumentHelp("Deadline in seconds of the watchdog all-reduce.", visibility: .hidden))
    var watchdogSeconds: Double = 30

    @Flag(help: ArgumentHelp("Make an MPI call fail (broadcast from a root outside the job).",
                             visibility: .hidden))
    var injectMPIError = false

    func validate() throws {
        if let rank = injectStallRank, rank < 0 {
            throw ValidationError("--inject-stall-rank must be ≥ 0, got \(rank)")
        }
        guard injectStallSeconds >= 0, injectStallSeconds.isFinite else {
            throw ValidationError("--inject-stall-seconds must be a finite number ≥ 0, got \(injectStallSeconds)")
        }
        guard watchdogSeconds > 0, watchdogSeconds.isFinite else {
            throw ValidationError("--watchdog-seconds must be a finite number > 0, got \(watchdogSeconds)")
        }
    }

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        let world = try Communicator.world()
        try world.checkLauncherConsistency()

        if injectMPIError {
            _ = try world.broadcast(Int32(0), root: world.size)  // MPI_ERR_ROOT, reported as MPIError
        }
        if let stallRank = injectStallRank {
            try runStalledWatchdog(world: world, stallRank: stallRank)
        }

        let groups: [SelftestGroup] = [
            SelftestGroup(name: "allreduce(float,double,int32,int64 × sum,max,min)", run: MPISelftest.allReduce),
            SelftestGroup(name: "broadcast", run: MPISelftest.broadcast),
            SelftestGroup(name: "nonblocking") { try MPISelftest.nonBlocking(world: $0, watchdogSeconds: watchdogSeconds) },
            SelftestGroup(name: "bf16 gradient all-reduce") {
                try BFloat16AllReduceSelftest.run(world: $0, watchdogSeconds: watchdogSeconds)
            },
            SelftestGroup(name: "hdf5", run: HDF5Selftest.roundTrip),
        ]

        var failures: [String] = []
        try world.barrier()
        if try world.processorName.isEmpty { failures.append("processorName is empty") }
        for group in groups {
            failures += try group.run(world)
        }
        let prefix = "rank \(world.rank)/\(world.size): "
        if failures.isEmpty {
            writeStdoutLine(prefix + "ok " + groups.map(\.name).joined(separator: " "))
            return ExitStatus.success
        }
        let shown = failures.prefix(5).joined(separator: "; ")
        let more = failures.count > 5 ? "; and \(failures.count - 5) more" : ""
        writeStdoutLine(prefix + "FAILED " + shown + more)
        return ExitStatus.failure
    }

    /// The watchdog scenario: `stallRank` sleeps for `injectStallSeconds` while the others wait
    /// in `allReduceWithTimeout`; with a short `watchdogSeconds` they throw `MPIError.timeout`,
    /// which `CommandRunner` turns into one stderr line and an `MPI_Abort` of the job.
    private func runStalledWatchdog(world: Communicator, stallRank: Int) throws {
        guard stallRank < world.size else {
            throw SelftestError("--inject-stall-rank \(stallRank) is not a rank of this \(world.size)-rank job")
        }
        if world.rank == stallRank {
            sleepSeconds(injectStallSeconds)
        }
        var contribution: [Double] = [1]  // [1]
        try world.allReduceWithTimeout(&contribution, op: .sum, seconds: watchdogSeconds)
    }
}

/// A named group of checks; `run` returns one line per failed check (empty: all passed).
struct SelftestGroup {
    let name: String
    let run: (Communicator) throws -> [String]
}

/// A self-test that cannot run as asked.
struct SelftestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes `line` and a newline to stdout in one `write`, so ranks' lines do not interleave.
func writeStdoutLine(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

private func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR {
        request = remaining
    }
}
