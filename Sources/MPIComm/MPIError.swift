import _CMPI

/// Every failure the MPI bindings report. Each case's `description` is one line that says which
/// call failed, why, and on which rank, so a launcher's interleaved stderr stays readable.
public enum MPIError: Error, Equatable, CustomStringConvertible {
    /// An MPI call returned an error code (the communicator uses `MPI_ERRORS_RETURN`).
    /// `rank` is the caller's world rank, `nil` when it is not known yet (start-up).
    case call(function: String, code: Int32, message: String, rank: Int?)
    /// An MPI function was needed before `MPIRuntime.initialize` or after `MPIRuntime.finalize`.
    case notInitialized(function: String)
    /// `MPIRuntime.initialize` was called after `MPIRuntime.finalize`; MPI cannot start twice.
    case alreadyFinalized
    /// `MPI_Init_thread` gave a lower thread support level than the one required.
    case threadLevelUnavailable(required: MPIThreadLevel, provided: MPIThreadLevel)
    /// A collective did not complete before its deadline: some rank is dead, stopped or stuck.
    /// The request is still pending, so the only safe continuation is `Communicator.abort`.
    case timeout(operation: String, seconds: Double, rank: Int, size: Int)
    /// A launcher started `tasks` tasks (counted by the environment variable `variable`) without
    /// the PMIx wiring Open MPI needs to join them into one job; found before `MPI_Init`.
    case launcherWithoutPMIx(variable: String, tasks: Int, hint: String)
    /// The launcher promised `promised` ranks (through the environment variable `variable`)
    /// but MPI's world has `worldSize`: the processes did not join one MPI job.
    case launcherMismatch(variable: String, promised: Int, worldSize: Int, hint: String)

    public var description: String {
        switch self {
        case let .call(function, code, message, rank):
            let location = rank.map { "rank \($0)" } ?? "an unknown rank"
            return "\(function) failed on \(location): \(message) (MPI error code \(code))"
        case let .notInitialized(function):
            return "\(function) needs MPI, but MPI is not running (call MPIRuntime.initialize first)"
        case .alreadyFinalized:
            return "MPI was already finalised in this process and cannot be initialised again"
        case let .threadLevelUnavailable(required, provided):
            return "MPI_Init_thread provides thread level \(provided), but \(required) is required"
        case let .timeout(operation, seconds, rank, size):
            let limit = seconds == seconds.rounded() && seconds < 1e15 ? "\(Int64(seconds))" : "\(seconds)"
            return "\(operation) on rank \(rank) of \(size) did not complete within \(limit) s: "
                + "another rank is dead, stopped or stuck"
        case let .launcherWithoutPMIx(variable, tasks, hint):
            return "\(variable)=\(tasks): the launcher started \(tasks) tasks without the PMIx wiring "
                + "Open MPI needs to join them into one job (\(hint))"
        case let .launcherMismatch(variable, promised, worldSize, hint):
            return "\(variable)=\(promised) promises \(promised) ranks, but MPI's world has \(worldSize) "
                + "(the processes did not join one MPI job: \(hint))"
        }
    }
}

/// Throws `MPIError.call` unless `code` is `MPI_SUCCESS`, with MPI's own text for the code.
///
/// - Parameters:
///   - code: the value an MPI function returned.
///   - function: the C function's name, e.g. `"MPI_Allreduce"`.
///   - rank: the caller's rank, if known.
@inline(__always)
func checkMPI(_ code: Int32, _ function: @autoclosure () -> String, rank: Int?) throws {
    if code != ff_mpi_success() {
        throw MPIError.call(function: function(), code: code, message: mpiErrorString(code), rank: rank)
    }
}

/// MPI's text for an error code, e.g. `"MPI_ERR_ROOT: invalid root"`.
func mpiErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: Int(ff_mpi_max_error_string()) + 1)
    var length: Int32 = 0
    let status = buffer.withUnsafeMutableBufferPointer { MPI_Error_string(code, $0.baseAddress, &length) }
    guard status == ff_mpi_success(), length > 0 else { return "unknown MPI error" }
    let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
