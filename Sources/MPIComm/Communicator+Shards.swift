import _CMPI

/// The collectives of a sharded buffer: each rank owns a contiguous slice of a flat buffer laid
/// out the same on every rank, slice r at `displacements[r]` of length `counts[r]` (in rank order,
/// so the slices of ranks 0, 1, … follow each other). Counts and displacements are `Int32`, as
/// MPI's; the caller keeps the arrays alive until a non-blocking call completes.
extension Communicator {
    /// Starts an in-place `MPI_Ireduce_scatter`: the element-wise sum over ranks of `buffer`
    /// (`[Σ counts]`, the ranks' pieces in rank order); rank r's piece of the sum (`counts[r]`
    /// elements) lands at the start of its `buffer`, the rest of which is then undefined.
    public func reduceScatterInPlaceNonBlocking(_ buffer: UnsafeMutablePointer<Float>,
                                                counts: UnsafePointer<Int32>) throws -> MPIRequest {
        let request = MPIRequest(operation: "MPI_Ireduce_scatter", rank: rank, size: size)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Ireduce_scatter(ff_mpi_in_place(), buffer, counts, ff_mpi_float(), ff_mpi_sum(), self.handle,
                                         &handle), "MPI_Ireduce_scatter", rank: rank)
        request.append(handle)
        return request
    }

    /// Starts an in-place `MPI_Iallgatherv`: afterwards every rank's `buffer` holds every rank's
    /// slice (`buffer[displacements[r] ..< + counts[r]]` from rank r).
    public func allGatherInPlaceNonBlocking(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                                            displacements: UnsafePointer<Int32>) throws -> MPIRequest {
        let request = MPIRequest(operation: "MPI_Iallgatherv", rank: rank, size: size)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Iallgatherv(ff_mpi_in_place(), 0, ff_mpi_float(), buffer, counts, displacements,
                                     ff_mpi_float(), self.handle, &handle), "MPI_Iallgatherv", rank: rank)
        request.append(handle)
        return request
    }

    /// Starts `MPI_Igatherv` to `root`: rank r sends `send[0 ..< counts[r]]`; `root` receives
    /// them at `receive + displacements[r]` (`receive` is only used on `root`). `counts` and
    /// `displacements` are `[size]`.
    public func gatherNonBlocking(send: UnsafePointer<Float>, receive: UnsafeMutablePointer<Float>?,
                                  counts: UnsafePointer<Int32>, displacements: UnsafePointer<Int32>,
                                  root: Int) throws -> MPIRequest {
        let request = MPIRequest(operation: "MPI_Igatherv", rank: rank, size: size, communicator: handle)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Igatherv(send, counts[rank], ff_mpi_float(), receive, counts, displacements, ff_mpi_float(),
                                  Int32(root), self.handle, &handle), "MPI_Igatherv", rank: rank)
        request.append(handle)
        return request
    }

    /// Starts `MPI_Iscatterv` from `root`: rank r receives `send[displacements[r] ..< + counts[r]]`
    /// of `root`'s `send` (only used on `root`) into `receive`. `counts` and `displacements` are
    /// `[size]`.
    public func scatterNonBlocking(send: UnsafePointer<Float>?, counts: UnsafePointer<Int32>,
                                   displacements: UnsafePointer<Int32>, receive: UnsafeMutablePointer<Float>,
                                   root: Int) throws -> MPIRequest {
        let request = MPIRequest(operation: "MPI_Iscatterv", rank: rank, size: size, communicator: handle)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Iscatterv(send, counts, displacements, ff_mpi_float(), receive, counts[rank], ff_mpi_float(),
                                   Int32(root), self.handle, &handle), "MPI_Iscatterv", rank: rank)
        request.append(handle)
        return request
    }
}
