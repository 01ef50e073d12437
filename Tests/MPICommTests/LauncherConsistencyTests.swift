import MPIComm
import Testing

/// The pure rules behind `MPIRuntime.checkLauncherBeforeInitialize` and
/// `Communicator.checkLauncherConsistency`.
struct LauncherConsistencyTests {
    func variable(of error: MPIError?) -> String? {
        switch error {
        case let .launcherMismatch(variable, _, _, _)?: return variable
        case let .launcherWithoutPMIx(variable, _, _)?: return variable
        default: return nil
        }
    }

    // MARK: after MPI_Init: promised ranks against the world size

    @Test func noLauncherVariablesIsConsistent() {
        #expect(LaunchEnvironment.mismatch(environment: [:], worldSize: 1) == nil)
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: [:]) == nil)
    }

    @Test func mpirunPromiseMatchingTheWorldIsConsistent() {
        #expect(LaunchEnvironment.mismatch(environment: ["OMPI_COMM_WORLD_SIZE": "4"], worldSize: 4) == nil)
    }

    @Test func mpirunPromisingMoreRanksThanTheWorldIsAMismatch() {
        let error = LaunchEnvironment.mismatch(environment: ["OMPI_COMM_WORLD_SIZE": "4"], worldSize: 1)
        #expect(error == .launcherMismatch(variable: "OMPI_COMM_WORLD_SIZE", promised: 4, worldSize: 1,
                                           hint: "is the program linked with the Open MPI whose mpirun started it?"))
    }

    @Test func slurmTaskCountOutsideAStepIsIgnored() {
        // A batch script or salloc shell: the allocation has 2 tasks, one process runs.
        let environment = ["SLURM_NTASKS": "2", "SLURM_JOB_ID": "7"]
        #expect(LaunchEnvironment.mismatch(environment: environment, worldSize: 1) == nil)
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: environment) == nil)
    }

    @Test func srunStepWithMoreTasksThanTheWorldIsAMismatch() {
        let environment = ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "PMIX_NAMESPACE": "slurm.pmix.9.0"]
        let error = LaunchEnvironment.mismatch(environment: environment, worldSize: 1)
        #expect(variable(of: error) == "SLURM_NTASKS")
        #expect(error?.description.contains("srun --mpi=pmix") == true)
        #expect(LaunchEnvironment.mismatch(environment: environment, worldSize: 2) == nil)
    }

    @Test func srunStepTaskCountIsPreferredOverTheJobs() {
        let environment = ["SLURM_STEP_ID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "4"]
        #expect(LaunchEnvironment.mismatch(environment: environment, worldSize: 2) == nil)
        #expect(variable(of: LaunchEnvironment.mismatch(environment: environment, worldSize: 1))
                == "SLURM_STEP_NUM_TASKS")
    }

    @Test func mpirunInsideASlurmStepTrustsMpirun() {
        // mpirun's daemons may run as a Slurm step with one task per node; the ranks inherit it.
        let environment = ["OMPI_COMM_WORLD_SIZE": "1", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2"]
        #expect(LaunchEnvironment.mismatch(environment: environment, worldSize: 1) == nil)
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: environment) == nil)
    }

    @Test func pmiLauncherPromisingMoreRanksIsAMismatch() {
        let error = LaunchEnvironment.mismatch(environment: ["PMI_SIZE": "3"], worldSize: 1)
        #expect(variable(of: error) == "PMI_SIZE")
        #expect(LaunchEnvironment.mismatch(environment: ["PMI_SIZE": "3"], worldSize: 3) == nil)
    }

    @Test func unparsableValuesAreIgnored() {
        let environment = ["OMPI_COMM_WORLD_SIZE": "many", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "", "PMI_SIZE": "x"]
        #expect(LaunchEnvironment.mismatch(environment: environment, worldSize: 1) == nil)
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: environment) == nil)
    }

    // MARK: before MPI_Init: several tasks without PMIx

    @Test func srunWithoutPMIxIsCaughtBeforeInitialize() {
        // What `srun --mpi=none -n 2` puts in each task's environment.
        let environment = ["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2",
                           "SLURM_MPI_TYPE": "none"]
        let error = LaunchEnvironment.problemBeforeInitialize(environment: environment)
        #expect(error == .launcherWithoutPMIx(variable: "SLURM_STEP_NUM_TASKS", tasks: 2,
                                              hint: "launch with srun --mpi=pmix (SLURM_MPI_TYPE=none)"))
    }

    @Test func srunWithPMIxPassesBeforeInitialize() {
        let environment = ["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_MPI_TYPE": "pmix",
                           "PMIX_NAMESPACE": "slurm.pmix.9.0"]
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: environment) == nil)
    }

    @Test func oneTaskSrunStepPassesBeforeInitialize() {
        let environment = ["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1", "SLURM_MPI_TYPE": "none"]
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: environment) == nil)
    }

    @Test func pmi2LaunchIsCaughtBeforeInitialize() {
        // What `srun --mpi=pmi2 -n 2` or MPICH's `mpiexec -n 2` provide.
        let error = LaunchEnvironment.problemBeforeInitialize(environment: ["PMI_SIZE": "2", "PMI_RANK": "0"])
        #expect(variable(of: error) == "PMI_SIZE")
        #expect(LaunchEnvironment.problemBeforeInitialize(environment: ["PMI_SIZE": "1"]) == nil)
    }
}
