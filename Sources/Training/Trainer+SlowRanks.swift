import MPIComm

/// The buffers of the per-window link probe and timings gather, allocated once per run.
final class RankTimingBuffers {
    /// Bytes each rank sends to each ring neighbour per log window: large enough that the
    /// transfer time reflects bandwidth (about 2 ms at 1 Gbit/s), small next to a gradient.
    static let probeBytes = 256 * 1024
    let send = UnsafeMutableRawBufferPointer.allocate(byteCount: probeBytes, alignment: 64)
    let fromLeft = UnsafeMutableRawBufferPointer.allocate(byteCount: probeBytes, alignment: 64)
    let fromRight = UnsafeMutableRawBufferPointer.allocate(byteCount: probeBytes, alignment: 64)
    /// [size, SlowRankReport.fieldsPerRank]
    var rows: [Double]

    init(size: Int) {
        send.initializeMemory(as: UInt8.self, repeating: 0)
        rows = [Double](repeating: 0, count: size * SlowRankReport.fieldsPerRank)
    }

    deinit {
        send.deallocate(); fromLeft.deallocate(); fromRight.deallocate()
    }
}

extension Trainer {
    /// Every rank's compute and wait time in this log window plus the ring link probe, gathered
    /// (a collective: every rank calls it at the same step), and what they say about the slowest
    /// rank. A failure here means a rank stopped answering: the job ends as in any collective.
    func slowRankReport(compute: Double, wait: Double) -> SlowRankReport {
        let buffers = rankTimingBuffers
        let size = communicator.size
        guard size > 1 else { return SlowRankReport(rows: [compute, wait, 0, 0], size: 1) }
        do {
            let link = try communicator.ringTransferSeconds(
                send: UnsafeRawBufferPointer(buffers.send), receiveFromLeft: buffers.fromLeft,
                receiveFromRight: buffers.fromRight, timeout: options.collectiveTimeout)
            for index in buffers.rows.indices { buffers.rows[index] = 0 }
            let own = communicator.rank * SlowRankReport.fieldsPerRank
            buffers.rows[own] = compute
            buffers.rows[own + 1] = wait
            buffers.rows[own + 2] = link.fromLeft
            buffers.rows[own + 3] = link.fromRight
            try buffers.rows.withUnsafeMutableBufferPointer { try allReduceWithTimeout($0, op: .sum) }
        } catch {
            abortForLostRanks(error)
        }
        return SlowRankReport(rows: buffers.rows, size: size)
    }

    /// `" | slowest rank 2 (node3) +35% compute | slow link rank 1 (node2) +180%"`, or "".
    func describe(_ report: SlowRankReport) -> String {
        var text = ""
        if let compute = report.compute {
            text += " | slowest rank \(compute.rank) (\(host(of: compute.rank))) +\(Int((compute.lag * 100).rounded()))% compute"
        }
        if let link = report.link {
            text += " | slow link rank \(link.rank) (\(host(of: link.rank))) +\(Int((link.lag * 100).rounded()))%"
        }
        return text
    }

    /// The report's fields for a metrics record (absent when nothing exceeds 10%).
    func metricsFields(_ report: SlowRankReport) -> [String: MetricValue] {
        var fields: [String: MetricValue] = [:]
        if let compute = report.compute {
            fields["slowest_rank"] = .int(compute.rank)
            fields["slowest_host"] = .string(host(of: compute.rank))
            fields["slowest_lag"] = .double(compute.lag)
        }
        if let link = report.link {
            fields["slow_link_rank"] = .int(link.rank)
            fields["slow_link_host"] = .string(host(of: link.rank))
            fields["slow_link_lag"] = .double(link.lag)
        }
        return fields
    }

    func host(of rank: Int) -> String {
        hostNames.indices.contains(rank) ? hostNames[rank] : "?"
    }
}
