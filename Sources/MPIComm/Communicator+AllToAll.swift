import _CMPI

extension Communicator {
    /// Starts an exchange of equal byte blocks between all ranks (`MPI_Ialltoall` on bytes):
    /// rank r sends send[j·blockBytes ..< (j+1)·blockBytes] to rank j and receives rank j's block
    /// r into receive[j·blockBytes ..< (j+1)·blockBytes]. Both buffers are [size · blockBytes]
    /// and must stay untouched until the request completes; the same blockBytes on every rank.
    public func allToAllNonBlocking(send: UnsafeRawPointer, receive: UnsafeMutableRawPointer,
                                    blockBytes: Int) throws -> MPIRequest {
        precondition(blockBytes >= 0 && blockBytes <= Int(Int32.max), "allToAll: block of \(blockBytes) bytes")
        let request = MPIRequest(operation: "MPI_Ialltoall", rank: rank, size: size)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Ialltoall(send, Int32(blockBytes), ff_mpi_byte(), receive, Int32(blockBytes), ff_mpi_byte(),
                                   self.handle, &handle), "MPI_Ialltoall", rank: rank)
        request.append(handle)
        return request
    }

    /// Starts gathering every rank's block of `blockBytes` bytes into every rank's buffer
    /// (`MPI_Iallgather` in place): rank r's own block is buffer[r·blockBytes ..< (r+1)·blockBytes],
    /// and afterwards the buffer [size · blockBytes] holds all blocks in rank order.
    public func allGatherNonBlocking(_ buffer: UnsafeMutableRawPointer, blockBytes: Int) throws -> MPIRequest {
        precondition(blockBytes >= 0 && blockBytes <= Int(Int32.max), "allGather: block of \(blockBytes) bytes")
        let request = MPIRequest(operation: "MPI_Iallgather", rank: rank, size: size)
        var handle: MPI_Request? = ff_mpi_request_null()
        try checkMPI(MPI_Iallgather(ff_mpi_in_place(), 0, ff_mpi_byte(), buffer, Int32(blockBytes), ff_mpi_byte(),
                                    self.handle, &handle), "MPI_Iallgather", rank: rank)
        request.append(handle)
        return request
    }
}
