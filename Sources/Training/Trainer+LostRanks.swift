import Foundation
import MPIComm

extension Trainer {
    /// Seconds a rank whose collective stalled spends asking the others whether they are there.
    static let livenessProbeSeconds = 3.0

    /// Ends the job after a collective stalled past the collective timeout or failed: finds the
    /// ranks that stopped answering (`Communicator.unansweredRanks`), prints one line naming them
    /// and their hosts, records `ExitStatus.lostRanks` (failed, resumable) in the status file, and
    /// aborts with that status. Every waiting rank gets here at about the same time; only the
    /// lowest rank still answering prints, the others abort silently a moment later.
    ///
    /// The abort cannot reach a node that is cut off or frozen: this process then exits on its
    /// own (`Communicator.abort`'s alarm), and the launcher side is bounded by
    /// jobs/cluster/mpirun-bounded.sh.
    func abortForLostRanks(_ error: Error) -> Never {
        let lost = communicator.unansweredRanks(within: Trainer.livenessProbeSeconds)
        let reporter = (0..<communicator.size).first { !lost.contains($0) } ?? communicator.rank
        StatusFile.record(ExitStatus.lostRanks, anyRank: true)
        guard reporter == communicator.rank else {
            // Let the reporter's line out first, still answering probes, then end quietly.
            for _ in 0..<100 { communicator.answerLivenessProbes(); usleep(10_000) }
            communicator.abort(message: nil, code: ExitStatus.lostRanks)
        }
        let host = hostNames.indices.contains(communicator.rank) ? hostNames[communicator.rank] : "?"
        let what: String
        if case let MPIError.timeout(operation, seconds, _, _)? = error as? MPIError {
            let limit = seconds == seconds.rounded() ? format(seconds, 0) : format(seconds, 1)
            what = "\(operation) did not complete within \(limit) s"
        } else {
            what = oneLine(error)
        }
        let checkpoint = lastCheckpoint.map { "the last checkpoint, \($0), is intact" }
            ?? "the checkpoints in \(config.checkpoint.dir) are intact"
        let line = "flowformer: rank \(communicator.rank) (\(host)): collectives stalled (\(what)); "
            + "\(Trainer.describe(lost: lost, hosts: hostNames)); ending the job with exit status "
            + "\(ExitStatus.lostRanks) (failed, resumable): \(checkpoint); run the same command again, "
            + "on the remaining nodes if need be, to resume"
        communicator.abort(message: line, code: ExitStatus.lostRanks)
    }

    /// "rank 2 on node3 stopped answering", "ranks 2, 3 on node3 and rank 5 on node4 stopped
    /// answering"; grouped by host in rank order.
    static func describe(lost: [Int], hosts: [String]) -> String {
        guard !lost.isEmpty else { return "every rank still answers (one is stuck outside MPI)" }
        var groups: [(host: String, ranks: [Int])] = []
        for rank in lost {
            let host = hosts.indices.contains(rank) ? hosts[rank] : "?"
            if let index = groups.firstIndex(where: { $0.host == host }) {
                groups[index].ranks.append(rank)
            } else {
                groups.append((host, [rank]))
            }
        }
        let parts = groups.map { group in
            (group.ranks.count == 1 ? "rank " : "ranks ")
                + group.ranks.map(String.init).joined(separator: ", ") + " on " + group.host
        }
        let list = parts.count == 1 ? parts[0] : parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        return list + " stopped answering"
    }
}
