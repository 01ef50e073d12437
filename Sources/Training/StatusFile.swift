import Foundation
import MPIComm

/// `FLOWFORMER_STATUS_FILE`: where the trainer tells the script that launched it how it ended,
/// independently of what the launcher reports.
///
/// A launcher's own status is not always the trainer's: `srun` can report 0 for a job step whose
/// tasks never started, and an `mpirun` that cannot reach a lost node's daemon may never exit at
/// all. jobs/slurm/train.sbatch and jobs/cluster/mpirun-bounded.sh set the variable (to a file
/// on storage every node sees) and read it:
///
/// - `<path>`: one line, the exit status. Rank 0 writes it as its last act; any rank that ends
///   the job because other ranks stopped answering writes `ExitStatus.lostRanks` before aborting.
/// - `<path>.hosts`: written by rank 0 at start, one `<rank> <host>` line per rank, so that the
///   launching script can name the ranks of a node it lost.
///
/// Both are written under a temporary name and renamed: absent or complete.
public enum StatusFile {
    public static let variable = "FLOWFORMER_STATUS_FILE"

    /// The path from the environment, nil when unset or empty.
    static var path: String? {
        guard let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty else { return nil }
        return path
    }

    /// Whether this process is rank 0 by every launcher variable that is set (or runs alone).
    static var isRankZero: Bool {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "PMI_RANK"] {
            if let rank = environment[name], rank != "0" { return false }
        }
        return true
    }

    /// Writes `status` to the status file: on rank 0 only, unless `anyRank`.
    public static func record(_ status: Int32, anyRank: Bool = false) {
        guard let path, anyRank || isRankZero else { return }
        write("\(status)\n", to: path)
    }

    /// Rank 0 writes `<path>.hosts`: `names[r]` is rank r's host.
    static func recordHosts(_ names: [String]) {
        guard let path, isRankZero else { return }
        write(names.enumerated().map { "\($0.offset) \($0.element)\n" }.joined(), to: path + ".hosts")
    }

    private static func write(_ text: String, to path: String) {
        let temporary = path + ".\(getpid()).tmp"
        let written = (try? Data(text.utf8).write(to: URL(fileURLWithPath: temporary))) != nil
        if !written || rename(temporary, path) != 0 {
            unlink(temporary)
            Communicator.writeStderrLine("flowformer: warning: cannot write \(path) (\(variable))")
        }
    }
}
