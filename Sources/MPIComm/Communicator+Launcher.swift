#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Detects "N separate rank-0 processes": a launcher started N copies of the program, but they
/// did not join one MPI job, so each initialised MPI as a singleton (world size 1) and would
/// train alone, each writing the same checkpoints. Typical causes: `srun` without `--mpi=pmix`
/// (or a cluster default of `pmi2`/`none`, which this Open MPI cannot use), or an `mpirun` of a
/// different MPI library than the one the program is linked with.
///
/// Which variables are trusted, and why:
/// - `OMPI_COMM_WORLD_SIZE` is set by Open MPI's `mpirun` (its daemons) in each rank's
///   environment: the number of ranks it started. When it is present, the Slurm variables are
///   ignored, because under `mpirun` inside a Slurm job they describe `mpirun`'s daemon step
///   (one task per node), not the ranks.
/// - `SLURM_STEP_NUM_TASKS` (or `SLURM_NTASKS`) is trusted only when `SLURM_STEP_ID` is set, that
///   is, inside an `srun` job step, where it counts the tasks `srun` started. In a batch script
///   or an `salloc` shell (no step) `SLURM_NTASKS` is the allocation's task count while a single
///   process runs, e.g. `mpirun` itself, or a deliberate one-rank `flowformer eval`.
/// - `PMI_SIZE` is set by launchers speaking PMI-1/PMI-2 (MPICH's `mpiexec`, `srun --mpi=pmi2`),
///   the usual way to start this program with a launcher it cannot talk to.
///
/// Only "promises more ranks than the world has" is an error; the variables never promise fewer
/// in a working launch.
extension Communicator {
    /// Throws `MPIError.launcherMismatch` if the launcher's environment promises more ranks than
    /// this communicator has. Call it on the world communicator right after
    /// `MPIRuntime.initialize`, on every rank (it communicates nothing, so ranks may differ).
    public func checkLauncherConsistency() throws {
        let names = ["OMPI_COMM_WORLD_SIZE", "SLURM_STEP_ID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "PMI_SIZE"]
        var environment: [String: String] = [:]
        for name in names {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        if let mismatch = Communicator.launcherMismatch(environment: environment, worldSize: size) {
            throw mismatch
        }
    }

    /// The pure rule behind `checkLauncherConsistency`: the mismatch error the environment implies
    /// for a world of `worldSize` ranks, or nil if it is consistent. Unparsable values are ignored.
    public static func launcherMismatch(environment: [String: String], worldSize: Int) -> MPIError? {
        func promised(_ name: String) -> Int? {
            environment[name].flatMap { value in Int(value.filter { !$0.isWhitespace }) }
        }
        if let ranks = promised("OMPI_COMM_WORLD_SIZE") {
            guard ranks > worldSize else { return nil }
            return .launcherMismatch(variable: "OMPI_COMM_WORLD_SIZE", promised: ranks, worldSize: worldSize,
                                     hint: "is the program linked with the Open MPI whose mpirun started it?")
        }
        if environment["SLURM_STEP_ID"] != nil {
            let name = promised("SLURM_STEP_NUM_TASKS") != nil ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS"
            if let ranks = promised(name), ranks > worldSize {
                return .launcherMismatch(variable: name, promised: ranks, worldSize: worldSize,
                                         hint: "launch with srun --mpi=pmix")
            }
        }
        if let ranks = promised("PMI_SIZE"), ranks > worldSize {
            return .launcherMismatch(variable: "PMI_SIZE", promised: ranks, worldSize: worldSize,
                                     hint: "a PMI launcher such as srun --mpi=pmi2 or another MPI's mpiexec "
                                         + "cannot start this Open MPI program; use mpirun or srun --mpi=pmix")
        }
        return nil
    }
}
