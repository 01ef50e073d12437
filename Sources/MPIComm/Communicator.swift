#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import _CMPI

/// A group of ranks that communicate: today only `MPI_COMM_WORLD`, every process of the job.
///
/// Every collective (`barrier`, `broadcast`, `allReduce`, …) must be called by every rank of the
/// communicator, in the same order, with matching element types and counts; MPI cannot detect
/// every mismatch, and a rank that skips a collective makes the others wait forever (see
/// `allReduceWithTimeout` for a watchdog). Errors come back as `MPIError` because the
/// communicator's error handler is `MPI_ERRORS_RETURN`.
///
/// The value is immutable and may be passed between threads; whether two threads may call MPI
/// at the same time depends on the level given to `MPIRuntime.initialize`.
public struct Communicator: @unchecked Sendable {
    /// The wrapped `MPI_Comm` (C imports handles as optional pointers; never nil here).
    let handle: MPI_Comm?
    /// This process's index in the communicator, 0 ..< size.
    public let rank: Int
    /// Number of ranks in the communicator (1 for a process started without a launcher).
    public let size: Int

    /// The largest element count one MPI call receives (MPI counts are `Int32`). Longer buffers
    /// are sent in consecutive calls of at most this many elements.
    public static let maxElementsPerCall = Int(Int32.max)

    /// All processes of the job (`MPI_COMM_WORLD`).
    ///
    /// - Throws: `MPIError.notInitialized` before `MPIRuntime.initialize` or after `finalize`.
    public static func world() throws -> Communicator {
        guard MPIRuntime.isActive else { throw MPIError.notInitialized(function: "Communicator.world") }
        let handle = ff_mpi_comm_world()
        var rank: Int32 = 0
        var size: Int32 = 0
        try checkMPI(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank", rank: nil)
        try checkMPI(MPI_Comm_size(handle, &size), "MPI_Comm_size", rank: Int(rank))
        return Communicator(handle: handle, rank: Int(rank), size: Int(size))
    }

    /// A new communicator over the same ranks (`MPI_Comm_dup`; collective: every rank calls it at
    /// the same point). Collectives on it are ordered independently of this one's. Release it with
    /// `free()`.
    public func duplicate() throws -> Communicator {
        var copy: MPI_Comm? = nil
        try checkMPI(MPI_Comm_dup(handle, &copy), "MPI_Comm_dup", rank: rank)
        return Communicator(handle: copy, rank: rank, size: size)
    }

    /// Releases a communicator made by `duplicate()` (`MPI_Comm_free`); does nothing once MPI is
    /// finalized (the communicator went with it).
    public func free() {
        guard MPIRuntime.isActive, handle != ff_mpi_comm_world() else { return }
        var released = handle
        _ = MPI_Comm_free(&released)
    }

    /// Whether this process is rank 0, the one that logs and writes files.
    public var isRoot: Bool { rank == 0 }

    /// Blocks until every rank of the communicator has called `barrier` (`MPI_Barrier`).
    public func barrier() throws {
        try checkMPI(MPI_Barrier(handle), "MPI_Barrier", rank: rank)
    }

    /// The name of the machine this rank runs on (`MPI_Get_processor_name`), e.g. a host name.
    public var processorName: String {
        get throws {
            var buffer = [CChar](repeating: 0, count: Int(ff_mpi_max_processor_name()) + 1)
            var length: Int32 = 0
            try buffer.withUnsafeMutableBufferPointer {
                try checkMPI(MPI_Get_processor_name($0.baseAddress, &length), "MPI_Get_processor_name", rank: rank)
            }
            return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Ends the whole job: writes `message` (if any) as one line to stderr, then `MPI_Abort`s
    /// every rank of the communicator with `code` (the launcher's exit status). Use it when this
    /// rank cannot continue and the others may be waiting in a collective. Falls back to
    /// `exit(code)` if MPI is not running.
    ///
    /// `MPI_Abort` asks the launcher to kill the job; when the launcher cannot be reached (this
    /// node's link is cut, the launcher is gone) it may never return. So this rank first arms an
    /// alarm: `exitAfter` seconds later the process ends itself with `code` (`_exit`), whatever
    /// MPI is doing.
    ///
    /// - Parameters:
    ///   - message: one line for the user (newlines are replaced by spaces); nil prints nothing.
    ///   - code: the exit status, 1 ... 255.
    ///   - exitAfter: seconds until this process exits on its own, ≥ 1.
    public func abort(message: String?, code: Int32 = 1, exitAfter: UInt32 = 10) -> Never {
        if let message { Communicator.writeStderrLine(message) }
        if MPIRuntime.isActive {
            AbortAlarm.arm(code: code, seconds: max(exitAfter, 1))
            MPI_Abort(handle, code)
        }
        exit(code)
    }

    /// Writes `message` and a newline to stderr in one `write`, so lines of different ranks do
    /// not interleave mid-line. Newlines inside `message` become spaces.
    public static func writeStderrLine(_ message: String) {
        let line = message.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .joined(separator: " ") + "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Calls `body(offset, count)` for consecutive pieces of `0 ..< totalCount`, each at most
    /// `maxElementsPerCall` long, so each fits MPI's `Int32` count. No call for `totalCount == 0`.
    func forEachChunk(totalCount: Int, maxElementsPerCall: Int,
                      _ body: (_ offset: Int, _ count: Int32) throws -> Void) rethrows {
        precondition(maxElementsPerCall >= 1 && maxElementsPerCall <= Communicator.maxElementsPerCall,
                     "maxElementsPerCall must be in 1 ... Int32.max, got \(maxElementsPerCall)")
        var offset = 0
        while offset < totalCount {
            let count = Swift.min(maxElementsPerCall, totalCount - offset)
            try body(offset, Int32(count))
            offset += count
        }
    }
}

/// The self-exit behind `Communicator.abort`: SIGALRM ends the process with the abort's code.
private enum AbortAlarm {
    /// Read by the signal handler; written once, before `alarm` is set.
    nonisolated(unsafe) static var code: Int32 = 1

    static func arm(code: Int32, seconds: UInt32) {
        AbortAlarm.code = code
        signal(SIGALRM) { _ in _exit(AbortAlarm.code) }
        alarm(seconds)
    }
}
