import ArgumentParser
import Benchmarks
import Checkpoints
import Foundation
import MPIComm
import Training

/// `flowformer bench allreduce`: how fast the launcher's network sums a gradient buffer.
///
/// For each size, the trainer's call — `MPI_Iallreduce` (sum, Float, in place), then waited on —
/// is timed on every rank after a barrier (`--blocking`: `MPI_Allreduce`, Open MPI's other
/// collective component, which picks its own algorithm); a run's time is the slowest rank's, the
/// figure the median of the runs. The header names the non-blocking algorithm in effect
/// (`MPIRuntime.allReduceAlgorithmName`: the ring unless the launch chose another). With p ranks and B bytes:
///
///     algorithm bandwidth  algbw = B / t
///     bus bandwidth        busbw = algbw · 2(p−1)/p      (bytes each rank's link carries per second
///                                                       in a ring all-reduce: reduce-scatter + all-gather)
///     ring bound           t_ring = 2(p−1)/p · B / link rate,  so busbw ≤ link rate
///
/// `--link-gbits` gives the link rate for the last column (busbw as a share of it).
struct BenchAllReduceCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "All-reduce time, algorithm and bus bandwidth over message sizes (run under mpirun across nodes).",
        discussion: """
            Run with 2 or more ranks, e.g. `jobs/cluster/netns-cluster.sh mpirun -np 2 --map-by node \
            flowformer bench allreduce --link-gbits 1`. Sizes default to 1 KiB … 256 MiB in steps of 4×.
            """
    )

    @Option(help: ArgumentHelp("Message sizes in bytes, comma-separated (default 1 KiB … 256 MiB, ×4).", valueName: "list"))
    var sizes: String?
    @Option(help: ArgumentHelp("Link rate in Gbit/s, for busbw as a share of it.", valueName: "Gbit/s"))
    var linkGbits: Double?
    @Option(help: "Seconds of timed runs per size (at least 3 runs, at most 50).") var budget = 1.0
    @Option(help: ArgumentHelp("Write the results as JSON to this file.", valueName: "path")) var json: String?
    @Flag(help: "Time the blocking MPI_Allreduce instead of the trainer's non-blocking one.") var blocking = false

    static let defaultSizes = (0..<10).map { 1024 << (2 * $0) }   // 1 KiB … 256 MiB

    func validate() throws {
        if let sizes { _ = try parsePositiveIntegers(sizes, option: "--sizes") }
        if let linkGbits, !(linkGbits > 0) { throw ValidationError("--link-gbits must be positive, got \(linkGbits)") }
        guard budget > 0 else { throw ValidationError("--budget must be positive, got \(budget)") }
    }

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        let world = try Communicator.world()
        guard world.size >= 2 else { throw ValidationError("bench allreduce needs 2 or more ranks (run it under mpirun)") }
        let byteSizes = try sizes.map { try parsePositiveIntegers($0, option: "--sizes") } ?? Self.defaultSizes
        let hosts = try world.processorNames()
        let p = Double(world.size)
        let call = blocking ? "MPI_Allreduce" : "MPI_Iallreduce (\(MPIRuntime.allReduceAlgorithmName)) + wait"
        var table = TextTable(title: "all-reduce, \(world.size) ranks on \(Set(hosts).count) host(s), Float sum in place, \(call)",
                              header: ["bytes", "runs", "median ms", "algbw GB/s", "busbw GB/s", "ring-bound ms", "busbw / link"])
        var records: [String] = []
        for bytes in byteSizes {
            let count = max(1, bytes / MemoryLayout<Float>.stride)
            var buffer = [Float](repeating: 1, count: count)   // [count]
            try sumAcrossRanks(&buffer, world)                // warm-up: connections, registration
            var times: [Double] = []
            var spent = 0.0
            while times.count < 3 || (spent < budget && times.count < 50) {
                try world.barrier()
                let start = Date()
                try sumAcrossRanks(&buffer, world)
                let slowest = try world.allReduce(Date().timeIntervalSince(start), op: .max)
                times.append(slowest)
                spent += slowest   // the reduced time: every rank decides alike whether to go on
            }
            times.sort()
            let median = times[times.count / 2]
            let algbw = Double(count * 4) / median
            let busbw = algbw * 2 * (p - 1) / p
            let linkBytes = linkGbits.map { $0 * 1e9 / 8 }
            let ringBound = linkBytes.map { 2 * (p - 1) / p * Double(count * 4) / $0 }
            table.add([String(count * 4), String(times.count), formatFixed(median * 1e3, digits: 3),
                       formatFixed(algbw / 1e9, digits: 3), formatFixed(busbw / 1e9, digits: 3),
                       ringBound.map { formatFixed($0 * 1e3, digits: 3) } ?? "–",
                       linkBytes.map { formatFixed(100 * busbw / $0, digits: 1) + "%" } ?? "–"])
            var record = "{\"bytes\": \(count * 4), \"runs\": \(times.count), \"median_seconds\": \(median), "
                + "\"algbw_bytes_per_second\": \(algbw), \"busbw_bytes_per_second\": \(busbw)"
            if let ringBound, let linkBytes {
                record += ", \"ring_bound_seconds\": \(ringBound), \"busbw_share_of_link\": \(busbw / linkBytes)"
            }
            records.append(record + "}")
        }
        if world.isRoot {
            print(table.render(), terminator: "")
            if let json {
                let link = linkGbits.map { String($0) } ?? "null"
                let hostList = hosts.map(jsonStringLiteral).joined(separator: ", ")
                let text = "{\"ranks\": \(world.size), \"hosts\": [\(hostList)], \"link_gbits\": \(link), "
                    + "\"call\": \(jsonStringLiteral(call)), \"results\": [\n  "
                    + records.joined(separator: ",\n  ") + "\n]}\n"
                try text.write(toFile: json, atomically: true, encoding: .utf8)
                print("wrote \(json)")
            }
            fflush(stdout)
        }
        return ExitStatus.success
    }

    /// The timed operation: the sum of `buffer` over the ranks, in place.
    private func sumAcrossRanks(_ buffer: inout [Float], _ world: Communicator) throws {
        if blocking {
            try world.allReduce(&buffer, op: .sum)
        } else {
            try buffer.withUnsafeMutableBufferPointer { try world.allReduceNonBlocking($0, op: .sum).wait() }
        }
    }
}
