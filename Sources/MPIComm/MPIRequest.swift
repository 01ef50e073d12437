#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import _CMPI

/// A started non-blocking collective (one or more `MPI_Request`s, one per chunk), completed by
/// `test()`, `wait()` or `wait(seconds:)`. Completing twice is harmless.
///
/// Open MPI progresses non-blocking collectives only inside MPI calls, so a caller that
/// overlaps work should call `test()` now and then. A request dropped before completion stays
/// pending inside MPI (collective requests cannot be cancelled or freed): complete every
/// request, or abort the job.
public final class MPIRequest {
    /// Pending `MPI_Request` handles; MPI sets completed ones to `MPI_REQUEST_NULL`.
    private var handles: [MPI_Request?] = []
    /// The C function that started the requests, for error messages.
    let operation: String
    /// Rank and size of the communicator, for error messages.
    let rank: Int
    let size: Int
    /// The communicator the collective runs on; a long `wait(seconds:)` answers liveness probes on it.
    let communicator: MPI_Comm?

    /// How long `wait(seconds:)` waits before it also answers other ranks' liveness probes
    /// (`Communicator.unansweredRanks(within:)`): a wait this long means some rank is late, and
    /// the ranks that time out first ask who is still there. Short waits stay free of the extra call.
    public static let probeAnswersAfter: Duration = .seconds(1)

    /// Whether every chunk has completed (its result is in the buffer).
    public private(set) var isComplete = false

    init(operation: String, rank: Int, size: Int, communicator: MPI_Comm? = nil) {
        self.operation = operation
        self.rank = rank
        self.size = size
        self.communicator = communicator
    }

    func append(_ handle: MPI_Request?) {
        handles.append(handle)
    }

    /// Drives progress and reports whether the collective has completed (`MPI_Testall`).
    /// Never blocks.
    public func test() throws -> Bool {
        if isComplete { return true }
        if handles.isEmpty {
            isComplete = true
            return true
        }
        var flag: Int32 = 0
        try handles.withUnsafeMutableBufferPointer {
            try checkMPI(MPI_Testall(Int32($0.count), $0.baseAddress, &flag, ff_mpi_statuses_ignore()),
                         "MPI_Testall (\(operation))", rank: rank)
        }
        if flag != 0 { markComplete() }
        return isComplete
    }

    /// Blocks until the collective has completed (`MPI_Waitall`).
    public func wait() throws {
        if isComplete || handles.isEmpty {
            markComplete()
            return
        }
        try handles.withUnsafeMutableBufferPointer {
            try checkMPI(MPI_Waitall(Int32($0.count), $0.baseAddress, ff_mpi_statuses_ignore()),
                         "MPI_Waitall (\(operation))", rank: rank)
        }
        markComplete()
    }

    /// Waits for completion by polling `test()`, at most `seconds` seconds.
    ///
    /// Polls back off from 20 µs to `maxPollInterval` between calls, so a fast collective costs
    /// little latency and a long wait costs little CPU. After `probeAnswersAfter`, each poll also
    /// answers other ranks' liveness probes, so that a rank which timed out can tell this one
    /// (alive, waiting too) from the one that stopped.
    ///
    /// - Throws: `MPIError.timeout` if the deadline passes first. The request is then still
    ///   pending and its buffer still owned by MPI: abort the job (`Communicator.abort`).
    public func wait(seconds: Double, maxPollInterval: Duration = .milliseconds(1)) throws {
        precondition(seconds >= 0 && seconds.isFinite, "timeout must be a finite number of seconds ≥ 0, got \(seconds)")
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .nanoseconds(Int64(seconds * 1e9))
        var pause = Duration.microseconds(20)
        while try !test() {
            let now = clock.now
            if communicator != nil && now - start >= MPIRequest.probeAnswersAfter {
                Communicator.answerLivenessProbes(communicator)
            }
            if now >= deadline {
                throw MPIError.timeout(operation: operation, seconds: seconds, rank: rank, size: size)
            }
            sleepBriefly(pause)
            pause = min(pause * 2, maxPollInterval)
        }
    }

    private func markComplete() {
        isComplete = true
        handles.removeAll()
    }
}

/// Sleeps the calling thread (not a task) for `duration`.
private func sleepBriefly(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR {
        request = remaining
    }
}
