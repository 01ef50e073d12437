import Foundation
import TestSupport
import Testing

/// End-to-end: the built `flowformer selftest`, alone and under `mpirun`. Serialized because
/// each run already uses every core of the machine.
@Suite(.serialized)
struct SelftestLaunchTests {
    /// What every rank prints after the MPI checks pass (later groups may follow on the line).
    static let okChecks = "ok allreduce(float,double,int32,int64 × sum,max,min) broadcast nonblocking bf16 gradient all-reduce hdf5"

    let flowformer: URL

    init() throws {
        flowformer = try ProcessRunner.builtProduct("flowformer")
    }

    /// Exactly one ok line per rank 0 ..< ranks, status 0.
    func expectEveryRankOK(_ result: ProcessResult, ranks: Int) {
        #expect(result.status == 0 && !result.uncaughtSignal && !result.timedOut, "\(result)")
        let rankLines = result.stdoutLines.filter { $0.hasPrefix("rank ") }
        #expect(rankLines.count == ranks, "\(result)")
        for rank in 0..<ranks {
            let prefix = "rank \(rank)/\(ranks): "
            let lines = rankLines.filter { $0.hasPrefix(prefix) }
            #expect(lines.count == 1, "rank \(rank) printed \(lines.count) lines\n\(result)")
            #expect(lines.first?.hasPrefix(prefix + Self.okChecks) == true, "\(result)")
        }
    }

    @Test func selftestAloneIsOneRank() throws {
        let result = try ProcessRunner.run(flowformer, ["selftest"])
        expectEveryRankOK(result, ranks: 1)
        #expect(result.stderr.isEmpty, "\(result)")
    }

    @Test func selftestUnderMpirunWithTwoRanks() throws {
        let result = try ProcessRunner.mpirun(ranks: 2, flowformer, ["selftest"])
        expectEveryRankOK(result, ranks: 2)
    }

    @Test func selftestUnderMpirunWithThreeRanksOversubscribed() throws {
        let result = try ProcessRunner.mpirun(ranks: 3, oversubscribe: true, flowformer, ["selftest"])
        expectEveryRankOK(result, ranks: 3)
    }

    /// Rank 1 sleeps 60 s before the all-reduce; rank 0's 2 s watchdog fires, it prints one line
    /// and aborts the job, which must end well before rank 1 would have woken.
    @Test func watchdogTimeoutAbortsTheJob() throws {
        let result = try ProcessRunner.mpirun(
            ranks: 2, flowformer,
            ["selftest", "--inject-stall-rank", "1", "--inject-stall-seconds", "60", "--watchdog-seconds", "2"],
            timeoutSeconds: 90)
        #expect(!result.timedOut, "\(result)")
        #expect(result.status != 0, "\(result)")
        #expect(result.seconds < 30, "\(result)")
        #expect(result.seconds >= 2, "the watchdog fired before its deadline\n\(result)")
        let ours = result.stderrLines.filter { $0.hasPrefix("flowformer:") }
        #expect(ours == ["flowformer: rank 0 of 2: error: MPI_Iallreduce on rank 0 of 2 did not complete "
                         + "within 2 s: another rank is dead, stopped or stuck"], "\(result)")
        #expect(!result.stdout.contains(": ok "), "\(result)")
    }

    /// A job that hangs (rank 1 asleep, a watchdog far away) is stopped at the test's time limit:
    /// SIGTERM to mpirun, which takes its ranks down with it, so nothing is left running.
    @Test func aHungJobIsStoppedAtTheTimeLimit() throws {
        let marker = "\(Int.random(in: 1000..<9999)).25"  // unique stall time, found in /proc below
        let result = try ProcessRunner.mpirun(
            ranks: 2, flowformer,
            ["selftest", "--inject-stall-rank", "1", "--inject-stall-seconds", marker, "--watchdog-seconds", "600"],
            timeoutSeconds: 3)
        #expect(result.timedOut, "\(result)")
        #expect(result.seconds < 10, "\(result)")
        Thread.sleep(forTimeInterval: 1)
        #expect(processesWithArgument(marker).isEmpty, "ranks outlived mpirun\n\(result)")
    }

    /// Process ids whose command line contains `argument`.
    func processesWithArgument(_ argument: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { entry in
            guard entry.allSatisfy(\.isNumber),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }

    /// An MPI error (broadcast from a root outside the job) is returned, not fatal: one line on
    /// stderr and status 1.
    @Test func mpiErrorAloneIsOneLineAndStatusOne() throws {
        let result = try ProcessRunner.run(flowformer, ["selftest", "--inject-mpi-error"])
        #expect(result.status == 1 && !result.uncaughtSignal, "\(result)")
        #expect(result.stderrLines == ["flowformer: error: MPI_Bcast failed on rank 0: MPI_ERR_ROOT: invalid root "
                                       + "(MPI error code 8)"], "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    /// The same under mpirun: the failing rank aborts the job instead of leaving others waiting.
    @Test func mpiErrorUnderMpirunAbortsWithStatusOne() throws {
        let result = try ProcessRunner.mpirun(ranks: 2, flowformer, ["selftest", "--inject-mpi-error"])
        #expect(result.status == 1 && !result.timedOut, "\(result)")
        let ours = result.stderrLines.filter { $0.hasPrefix("flowformer:") }
        #expect(!ours.isEmpty && ours.allSatisfy { $0.contains("MPI_ERR_ROOT") }, "\(result)")
    }

    /// A bad option value is a usage error: status 2 and one line naming the option.
    @Test func usageErrorIsOneLineAndStatusTwo() throws {
        let result = try ProcessRunner.run(flowformer, ["selftest", "--inject-stall-rank", "two"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("--inject-stall-rank"), "\(result)")
    }

    /// `srun --mpi=none -n 2` (simulated by its environment): refused before `MPI_Init` with one
    /// line naming the fix, instead of Open MPI's abort inside `MPI_Init`.
    @Test func srunStepWithoutPMIxIsRejectedBeforeMPIStarts() throws {
        let result = try ProcessRunner.run(flowformer, ["selftest"], environment: [
            "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2", "SLURM_MPI_TYPE": "none",
        ])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderrLines == ["flowformer: error: SLURM_STEP_NUM_TASKS=2: the launcher started 2 tasks "
                                       + "without the PMIx wiring Open MPI needs to join them into one job "
                                       + "(launch with srun --mpi=pmix (SLURM_MPI_TYPE=none))"], "\(result)")
    }

    /// N processes that each came up as a singleton rank 0 are refused after `MPI_Init`:
    /// simulated by an Open MPI rank-count variable that the singleton's world contradicts.
    @Test func singletonPromisedMoreRanksIsRejected() throws {
        let result = try ProcessRunner.run(flowformer, ["selftest"], environment: ["OMPI_COMM_WORLD_SIZE": "3"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("OMPI_COMM_WORLD_SIZE=3 promises 3 ranks, but MPI's world has 1"), "\(result)")
        #expect(!result.stdout.contains(": ok "), "\(result)")
    }
}
