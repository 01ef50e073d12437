import _CMPI

extension Communicator {
    /// How many ranks of this communicator share this rank's node (its shared-memory domain,
    /// `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`), whatever launched them: mpirun, srun or a
    /// hostfile. A collective: every rank calls it.
    public func ranksOnThisNode() throws -> Int {
        guard size > 1 else { return 1 }
        var node: MPI_Comm? = ff_mpi_comm_null()
        try checkMPI(MPI_Comm_split_type(handle, ff_mpi_comm_type_shared(), Int32(rank), ff_mpi_info_null(), &node),
                     "MPI_Comm_split_type", rank: rank)
        defer { MPI_Comm_free(&node) }
        var count: Int32 = 0
        try checkMPI(MPI_Comm_size(node, &count), "MPI_Comm_size", rank: rank)
        return Int(count)
    }
}
