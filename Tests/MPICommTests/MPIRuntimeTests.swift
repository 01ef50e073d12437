import MPIComm
import Testing

/// In-process checks that need no running MPI (MPI itself is exercised through the executable,
/// see `SelftestLaunchTests`). This process never initialises MPI.
struct MPIRuntimeTests {
    @Test func finalizeWithoutInitializeIsANoOp() throws {
        #expect(!MPIRuntime.isInitialized)
        try MPIRuntime.finalize()
        try MPIRuntime.finalize()
        #expect(!MPIRuntime.isFinalized)
        #expect(!MPIRuntime.isActive)
    }

    @Test func worldBeforeInitializeThrows() {
        #expect(throws: MPIError.notInitialized(function: "Communicator.world")) {
            try Communicator.world()
        }
    }

    @Test func threadLevelsAreOrdered() {
        #expect(MPIThreadLevel.single < .funneled)
        #expect(MPIThreadLevel.funneled < .serialized)
        #expect(MPIThreadLevel.serialized < .multiple)
    }

    @Test func everyErrorDescriptionIsOneLine() {
        let errors: [MPIError] = [
            .call(function: "MPI_Allreduce", code: 8, message: "MPI_ERR_ROOT: invalid root", rank: 1),
            .call(function: "MPI_Init_thread", code: 16, message: "MPI_ERR_OTHER: known error not in list", rank: nil),
            .notInitialized(function: "Communicator.world"),
            .alreadyFinalized,
            .threadLevelUnavailable(required: .multiple, provided: .funneled),
            .timeout(operation: "MPI_Iallreduce", seconds: 2.5, rank: 0, size: 4),
            .launcherMismatch(variable: "SLURM_NTASKS", promised: 2, worldSize: 1, hint: "launch with srun --mpi=pmix"),
            .launcherWithoutPMIx(variable: "PMI_SIZE", tasks: 2, hint: "use mpirun or srun --mpi=pmix"),
        ]
        for error in errors {
            #expect(!error.description.isEmpty)
            #expect(!error.description.contains("\n"), "\(error.description)")
        }
        #expect(errors[0].description == "MPI_Allreduce failed on rank 1: MPI_ERR_ROOT: invalid root (MPI error code 8)")
        #expect(errors[5].description.hasPrefix("MPI_Iallreduce on rank 0 of 4 did not complete within 2.5 s"))
        #expect(errors[4].description == "MPI_Init_thread provides thread level funneled, but multiple is required")
    }
}
