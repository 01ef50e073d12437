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

    /// Whether every chunk has completed (its result is in the buffer).
    public private(set) var isComplete = false

    init(operation: String, rank: Int, size: Int) {
        self.operation = operation
        self.rank = rank
        self.size = size
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
    /// little latency and a long wait costs little CPU.
    ///
    /// - Throws: `MPIError.timeout` if the deadline passes first. The request is then still
    ///   pending and its buffer still owned by MPI: abort the job (`Communicator.abort`).
    public func wait(seconds: Double, maxPollInterval: Duration = .milliseconds(1)) throws {
        precondition(seconds >= 0 && seconds.isFinite, "timeout must be a finite number of seconds ≥ 0, got \(seconds)")
        let clock = ContinuousClock()
        let deadline = clock.now + .nanoseconds(Int64(seconds * 1e9))
        var pause = Duration.microseconds(20)
        while try !test() {
            if clock.now >= deadline {
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
