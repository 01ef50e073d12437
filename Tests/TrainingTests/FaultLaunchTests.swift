import Foundation
import TestSupport
import Testing

/// Launch: jobs that cannot form one data-parallel run are refused at once with one line and a
/// non-zero status, before any checkpoint or metrics file is written. (`srun` without PMIx on
/// `selftest`: MPICommTests `SelftestLaunchTests.srunStepWithoutPMIxIsRejectedBeforeMPIStarts`;
/// the rules themselves: `LauncherConsistencyTests`.)
extension EndToEnd.Faults {
    /// Separate singletons: a process that mpirun's environment promises a 2-rank world but that
    /// came up alone (world size 1) refuses to train; so does an `srun` step without PMIx.
    @Test func processesThatDidNotJoinOneJobRefuseToTrain() throws {
        let run = try RunSetup("lm")
        let flowformer = try ProcessRunner.builtProduct("flowformer")
        let singleton = try ProcessRunner.run(flowformer, ["train", "--config", run.configPath],
                                              environment: ["OMPI_COMM_WORLD_SIZE": "2"], timeoutSeconds: 60)
        #expect(singleton.status == 1 && !singleton.timedOut, "\(singleton)")
        #expect(singleton.stderrLines == [
            "flowformer: error: OMPI_COMM_WORLD_SIZE=2 promises 2 ranks, but MPI's world has 1 (the processes did "
                + "not join one MPI job: is the program linked with the Open MPI whose mpirun started it?)",
        ], "\(singleton)")

        let srun = try ProcessRunner.run(flowformer, ["train", "--config", run.configPath], environment: [
            "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2", "SLURM_MPI_TYPE": "pmi2",
        ], timeoutSeconds: 60)
        #expect(srun.status == 1 && !srun.timedOut, "\(srun)")
        #expect(srun.stderrLines.count == 1 && srun.stderr.contains("launch with srun --mpi=pmix"), "\(srun)")
        #expect(!FileManager.default.fileExists(atPath: run.runDirectory), "a refused launch created \(run.runDirectory)")
    }

    /// More ranks than samples in a global batch (3 ranks, global_batch 2): every rank reaches
    /// the same configuration error, rank 0 prints it once, the job ends (no hang), status 1.
    @Test func moreRanksThanSamplesInAGlobalBatch() throws {
        let run = try RunSetup("lm")
        let result = try run.train(ranks: 3, ["--set", "train.global_batch=2", "--set", "train.micro_batch=1"], timeout: 120)
        #expect(result.status == 1 && !result.timedOut && result.seconds < 60, "\(result)")
        #expect(result.flowformerLines == [
            "flowformer: error: train.global_batch: 2 samples do not split into 3 ranks × micro_batch 1 (global_batch "
                + "must be a multiple of 3 × 1 = 3); use global_batch 3, or a world size dividing 2 (1, 2)",
        ], "\(result)")
        #expect(!FileManager.default.fileExists(atPath: run.runDirectory + "/metrics.jsonl"))
    }
}
