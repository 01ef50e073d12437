import _CMPI

/// How many threads of a process may call MPI, as negotiated by `MPI_Init_thread`.
/// Ordered from least to most permissive.
public enum MPIThreadLevel: Int, Comparable, CustomStringConvertible, Sendable {
    /// One thread in the process at all.
    case single = 0
    /// Many threads, but only the one that initialised MPI calls it (the trainer's case:
    /// compute threads never call MPI).
    case funneled = 1
    /// Any thread may call MPI, never two at once.
    case serialized = 2
    /// Any thread, concurrently.
    case multiple = 3

    public static func < (lhs: MPIThreadLevel, rhs: MPIThreadLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .single: return "single"
        case .funneled: return "funneled"
        case .serialized: return "serialized"
        case .multiple: return "multiple"
        }
    }

    var mpiValue: Int32 {
        switch self {
        case .single: return ff_mpi_thread_single()
        case .funneled: return ff_mpi_thread_funneled()
        case .serialized: return ff_mpi_thread_serialized()
        case .multiple: return ff_mpi_thread_multiple()
        }
    }

    init(mpiValue: Int32) {
        switch mpiValue {
        case ff_mpi_thread_multiple(): self = .multiple
        case ff_mpi_thread_serialized(): self = .serialized
        case ff_mpi_thread_funneled(): self = .funneled
        default: self = .single
        }
    }
}

/// Start and end of MPI in this process. MPI can be initialised once and finalised once;
/// both calls here are idempotent, so error paths may call `finalize` unconditionally.
///
/// Works the same without a launcher (a singleton: one rank), under `mpirun`, and under
/// `srun --mpi=pmix`. After `initialize`, `MPI_COMM_WORLD` returns errors instead of aborting
/// (`MPI_ERRORS_RETURN`), and every wrapper turns them into `MPIError`.
public enum MPIRuntime {
    /// Initialises MPI with `MPI_Init_thread`, or, if MPI is already running, returns the level
    /// it was started with.
    ///
    /// - Parameters:
    ///   - threadLevel: the least thread support the caller needs.
    ///   - checkLauncher: first run `checkLauncherBeforeInitialize`, so that a launch Open MPI
    ///     cannot wire (e.g. `srun --mpi=none` with several tasks) ends in one clear line
    ///     instead of Open MPI's own abort inside `MPI_Init`.
    /// - Returns: the level MPI provides (≥ `threadLevel`).
    /// - Throws: `MPIError.launcherWithoutPMIx` (MPI then not initialised);
    ///   `MPIError.alreadyFinalized` after `finalize`; `MPIError.call` if MPI fails to
    ///   start; `MPIError.threadLevelUnavailable` if MPI provides less than `threadLevel`
    ///   (MPI is then running, and calling `finalize` remains the caller's job).
    @discardableResult
    public static func initialize(threadLevel: MPIThreadLevel = .funneled,
                                  checkLauncher: Bool = true) throws -> MPIThreadLevel {
        if isFinalized { throw MPIError.alreadyFinalized }
        var provided: Int32 = 0
        if isInitialized {
            try checkMPI(MPI_Query_thread(&provided), "MPI_Query_thread", rank: nil)
        } else {
            if checkLauncher { try checkLauncherBeforeInitialize() }
            selectAllReduceAlgorithmUnlessChosen()
            try checkMPI(MPI_Init_thread(nil, nil, threadLevel.mpiValue, &provided), "MPI_Init_thread", rank: nil)
            try checkMPI(MPI_Comm_set_errhandler(ff_mpi_comm_world(), ff_mpi_errors_return()),
                         "MPI_Comm_set_errhandler", rank: nil)
        }
        let level = MPIThreadLevel(mpiValue: provided)
        if level < threadLevel {
            throw MPIError.threadLevelUnavailable(required: threadLevel, provided: level)
        }
        return level
    }

    /// Finalises MPI (`MPI_Finalize`; every rank must call it). Does nothing if MPI was never
    /// initialised or is already finalised.
    public static func finalize() throws {
        guard isActive else { return }
        try checkMPI(MPI_Finalize(), "MPI_Finalize", rank: nil)
    }

    /// Whether `MPI_Init_thread` has run in this process (stays true after `finalize`, as in MPI).
    public static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    /// Whether `MPI_Finalize` has run in this process.
    public static var isFinalized: Bool {
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        return flag != 0
    }

    /// Whether MPI may be called now: initialised and not yet finalised.
    public static var isActive: Bool { isInitialized && !isFinalized }
}
