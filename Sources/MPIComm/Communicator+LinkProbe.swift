#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import _CMPI

/// Timed transfers between ring neighbours, to find a slow link.
///
/// In an all-reduce every rank ends at about the same time whichever link is slow, so the
/// collectives' own timings cannot say which node is behind a slow link. `ringTransferSeconds`
/// sends one buffer to each ring neighbour (rank ± 1 mod size) and times each receive; gathered
/// over all ranks, the times of the links touching a node say how fast that node's link is.
enum LinkProbeTags {
    static let transfer: Int32 = 30_903
}

extension Communicator {
    /// Sends `send` to both ring neighbours and receives one buffer of the same length from each
    /// into `receiveFromLeft` / `receiveFromRight`; returns the seconds from the start until each
    /// receive completed. Every rank must call it together (right after a collective, so that
    /// they start within microseconds of each other). Gives up after `timeout` seconds.
    ///
    /// - Returns: `(fromLeft, fromRight)`: the transfer times of links (rank − 1 → rank) and
    ///   (rank + 1 → rank); zeros with fewer than 3 ranks (no distinct neighbours).
    public func ringTransferSeconds(send: UnsafeRawBufferPointer,
                                    receiveFromLeft: UnsafeMutableRawBufferPointer,
                                    receiveFromRight: UnsafeMutableRawBufferPointer,
                                    timeout: Double) throws -> (fromLeft: Double, fromRight: Double) {
        guard size >= 3 else { return (0, 0) }
        precondition(receiveFromLeft.count == send.count && receiveFromRight.count == send.count,
                     "probe buffers must have one length")
        let left = Int32((rank + size - 1) % size), right = Int32((rank + 1) % size)
        let count = Int32(send.count)
        var receives = [MPI_Request?](repeating: ff_mpi_request_null(), count: 2)   // [from left, from right]
        var sends = [MPI_Request?](repeating: ff_mpi_request_null(), count: 2)
        let clock = ContinuousClock()
        let start = clock.now
        try checkMPI(MPI_Irecv(receiveFromLeft.baseAddress, count, ff_mpi_byte(), left, LinkProbeTags.transfer, handle, &receives[0]),
                     "MPI_Irecv (link probe)", rank: rank)
        try checkMPI(MPI_Irecv(receiveFromRight.baseAddress, count, ff_mpi_byte(), right, LinkProbeTags.transfer, handle, &receives[1]),
                     "MPI_Irecv (link probe)", rank: rank)
        try checkMPI(MPI_Isend(send.baseAddress, count, ff_mpi_byte(), right, LinkProbeTags.transfer, handle, &sends[0]),
                     "MPI_Isend (link probe)", rank: rank)
        try checkMPI(MPI_Isend(send.baseAddress, count, ff_mpi_byte(), left, LinkProbeTags.transfer, handle, &sends[1]),
                     "MPI_Isend (link probe)", rank: rank)
        var done: [Double?] = [nil, nil]
        let deadline = start + .nanoseconds(Int64(timeout * 1e9))
        var sendsDone = false
        while done[0] == nil || done[1] == nil || !sendsDone {
            for index in 0..<2 where done[index] == nil {
                var flag: Int32 = 0
                try checkMPI(MPI_Test(&receives[index], &flag, ff_mpi_status_ignore()), "MPI_Test (link probe)", rank: rank)
                if flag != 0 {
                    let elapsed = (clock.now - start).components
                    done[index] = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
                }
            }
            if !sendsDone {
                var flag: Int32 = 0
                try sends.withUnsafeMutableBufferPointer {
                    try checkMPI(MPI_Testall(2, $0.baseAddress, &flag, ff_mpi_statuses_ignore()), "MPI_Testall (link probe)", rank: rank)
                }
                sendsDone = flag != 0
            }
            if done[0] != nil && done[1] != nil && sendsDone { break }
            if clock.now >= deadline {
                throw MPIError.timeout(operation: "link probe", seconds: timeout, rank: rank, size: size)
            }
            usleep(50)
        }
        return (done[0] ?? 0, done[1] ?? 0)
    }
}
