import Foundation
import Testing
import TestSupport

/// `flowformer bench allreduce` under real mpirun: it times the trainer's call (the non-blocking
/// in-place all-reduce), whose algorithm the trainer sets to the ring unless the launch chose one.
@Suite struct BenchAllReduceTests {
    static let sizes = [4096, 1 << 20]

    func run(environment: [String: String] = [:], extra: [String] = []) throws -> (ProcessOutput, [String: Any]) {
        let directory = try temporaryDirectoryURL("bench-allreduce")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("allreduce.json").path
        let run = try runMpirun(ranks: 2, ["bench", "allreduce", "--sizes", Self.sizes.map(String.init).joined(separator: ","),
                                           "--budget", "0.01", "--link-gbits", "10", "--json", json] + extra,
                                environment: environment)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))
        return (run, try #require(object as? [String: Any]))
    }

    @Test func timesTheRingByDefault() throws {
        let (run, report) = try run()
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("MPI_Iallreduce (ring) + wait"), "\(run)")
        #expect(report["call"] as? String == "MPI_Iallreduce (ring) + wait")
        #expect(report["ranks"] as? Int == 2)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["bytes"] as? Int } == Self.sizes)
        for result in results {
            let seconds = try #require(result["median_seconds"] as? Double)
            #expect(seconds > 0 && seconds < 10, "\(result)")
            #expect((result["runs"] as? Int ?? 0) >= 3, "\(result)")
            #expect(result["busbw_share_of_link"] is Double, "\(result)")
        }
    }

    /// The user's choice (here through the environment, as `mpirun --mca` passes it) is kept.
    @Test func keepsTheAlgorithmTheLaunchChose() throws {
        let (run, report) = try run(environment: ["OMPI_MCA_coll_libnbc_iallreduce_algorithm": "2"])
        #expect(run.status == 0, "\(run)")
        #expect(report["call"] as? String == "MPI_Iallreduce (binomial) + wait", "\(run)")
    }

    @Test func blockingTimesMPIAllreduce() throws {
        let (run, report) = try run(extra: ["--blocking"])
        #expect(run.status == 0, "\(run)")
        #expect(report["call"] as? String == "MPI_Allreduce", "\(run)")
    }
}
