#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that the processes a launcher started form one MPI job, from the variables launchers
/// put in each process's environment.
///
/// Two failures are caught:
/// 1. Before `MPI_Init`: a launcher started several tasks without wiring them for Open MPI.
///    `srun --mpi=none` or `--mpi=pmi2` (or a cluster whose `MpiDefault` is one of them) gives
///    no PMIx server; Open MPI 4.1's `MPI_Init` then dies with a screenful of text. This check
///    replaces that by one line naming the fix (`srun --mpi=pmix`).
/// 2. After `MPI_Init`: "N separate rank-0 processes": the tasks started, but each as a singleton
///    (world size 1), and each would train alone and write the same checkpoints (e.g. a program
///    started by another MPI library's `mpiexec`).
///
/// Which variables are trusted, and why:
/// - `OMPI_COMM_WORLD_SIZE` is set by Open MPI's `mpirun` (its daemons) in each rank's
///   environment: the number of ranks it started. When it is present the Slurm variables are
///   ignored, because under `mpirun` inside a Slurm step they describe that step (e.g. one
///   daemon per node), not the ranks.
/// - `SLURM_STEP_NUM_TASKS` (else `SLURM_NTASKS`) is trusted only when `SLURM_STEP_ID` is set,
///   i.e. inside an `srun` step, where it counts the tasks `srun` started. A batch script or an
///   `salloc` shell has no `SLURM_STEP_ID`, yet `SLURM_NTASKS` there is the allocation's task
///   count while one process runs: `mpirun` itself, or a deliberate one-rank `flowformer eval`.
/// - `PMIX_NAMESPACE` is set when a PMIx server (e.g. `srun --mpi=pmix`) wires the tasks.
/// - `PMI_SIZE` is set by PMI-1/PMI-2 launchers (`srun --mpi=pmi2`, MPICH's `mpiexec`), which this
///   Open MPI cannot use.
///
/// Only "more tasks than the job has ranks" is an error: no working launch promises fewer.
public enum LaunchEnvironment {
    /// The variables the checks read.
    public static let variableNames = [
        "OMPI_COMM_WORLD_SIZE", "SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_MPI_TYPE",
        "PMIX_NAMESPACE", "PMI_SIZE",
    ]

    /// This process's values of `variableNames` (unset ones are absent).
    public static func current() -> [String: String] {
        var environment: [String: String] = [:]
        for name in variableNames {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return environment
    }

    /// The error for a multi-task launch that Open MPI cannot join into one job (check 1), or nil.
    public static func problemBeforeInitialize(environment: [String: String]) -> MPIError? {
        if environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_NAMESPACE"] != nil { return nil }
        if let (name, tasks) = srunTasks(environment), tasks > 1 {
            let type = environment["SLURM_MPI_TYPE"].map { " (SLURM_MPI_TYPE=\($0))" } ?? ""
            return .launcherWithoutPMIx(variable: name, tasks: tasks, hint: "launch with srun --mpi=pmix\(type)")
        }
        if let tasks = integer("PMI_SIZE", environment), tasks > 1 {
            return .launcherWithoutPMIx(variable: "PMI_SIZE", tasks: tasks,
                                        hint: "a PMI-1/PMI-2 launcher cannot start this Open MPI program; "
                                            + "use mpirun or srun --mpi=pmix")
        }
        return nil
    }

    /// The error when the environment promises more ranks than a world of `worldSize` (check 2),
    /// or nil.
    public static func mismatch(environment: [String: String], worldSize: Int) -> MPIError? {
        if let ranks = integer("OMPI_COMM_WORLD_SIZE", environment) {
            guard ranks > worldSize else { return nil }
            return .launcherMismatch(variable: "OMPI_COMM_WORLD_SIZE", promised: ranks, worldSize: worldSize,
                                     hint: "is the program linked with the Open MPI whose mpirun started it?")
        }
        if let (name, tasks) = srunTasks(environment), tasks > worldSize {
            return .launcherMismatch(variable: name, promised: tasks, worldSize: worldSize,
                                     hint: "launch with srun --mpi=pmix")
        }
        if let ranks = integer("PMI_SIZE", environment), ranks > worldSize {
            return .launcherMismatch(variable: "PMI_SIZE", promised: ranks, worldSize: worldSize,
                                     hint: "a PMI-1/PMI-2 launcher cannot start this Open MPI program; "
                                         + "use mpirun or srun --mpi=pmix")
        }
        return nil
    }

    /// Inside an `srun` step: the variable that counts its tasks, and the count.
    private static func srunTasks(_ environment: [String: String]) -> (String, Int)? {
        guard environment["SLURM_STEP_ID"] != nil else { return nil }
        for name in ["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"] {
            if let tasks = integer(name, environment) { return (name, tasks) }
        }
        return nil
    }

    /// The variable as an integer; nil if unset or unparsable.
    private static func integer(_ name: String, _ environment: [String: String]) -> Int? {
        environment[name].flatMap { value in Int(value.filter { !$0.isWhitespace }) }
    }
}

extension MPIRuntime {
    /// Throws `MPIError.launcherWithoutPMIx` if a launcher started several tasks that Open MPI
    /// cannot join into one job (see `LaunchEnvironment`). `initialize` calls it by default.
    public static func checkLauncherBeforeInitialize() throws {
        if let problem = LaunchEnvironment.problemBeforeInitialize(environment: LaunchEnvironment.current()) {
            throw problem
        }
    }
}

extension Communicator {
    /// Throws `MPIError.launcherMismatch` if the launcher's environment promises more ranks than
    /// this communicator has: N processes that each run as a singleton rank 0. Call it on the
    /// world communicator right after `MPIRuntime.initialize`, on every rank (it communicates
    /// nothing, so ranks may differ).
    public func checkLauncherConsistency() throws {
        if let mismatch = LaunchEnvironment.mismatch(environment: LaunchEnvironment.current(), worldSize: size) {
            throw mismatch
        }
    }
}
