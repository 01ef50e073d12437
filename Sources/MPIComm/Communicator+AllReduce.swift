import _CMPI

extension Communicator {
    /// Reduces `buffer` element-wise across all ranks, in place (`MPI_Allreduce` with
    /// `MPI_IN_PLACE`): afterwards buffer[i] = op over ranks r of buffer_r[i] on every rank.
    ///
    /// - Parameters:
    ///   - buffer: `[count]`, the same count on every rank. Buffers longer than
    ///     `maxElementsPerCall` are reduced in consecutive calls (chunks), which gives the same
    ///     result because the reduction is element-wise.
    ///   - op: `.sum`, `.max` or `.min`.
    ///   - maxElementsPerCall: chunk length, 1 ... Int32.max (smaller values are for tests and
    ///     for bounding the size of one message).
    public func allReduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: MPIReduceOp,
                                        maxElementsPerCall: Int = Communicator.maxElementsPerCall) throws {
        guard let base = buffer.baseAddress else { return }
        let datatype = T.mpiDatatype.handle
        try forEachChunk(totalCount: buffer.count, maxElementsPerCall: maxElementsPerCall) { offset, count in
            try checkMPI(MPI_Allreduce(ff_mpi_in_place(), base + offset, count, datatype, op.handle, handle),
                         "MPI_Allreduce", rank: rank)
        }
    }

    /// `allReduce` on an array, in place: array[i] = op over ranks r of array_r[i].
    /// - Parameter array: `[count]`, the same count on every rank.
    public func allReduce<T: MPIScalar>(_ array: inout [T], op: MPIReduceOp,
                                        maxElementsPerCall: Int = Communicator.maxElementsPerCall) throws {
        try array.withUnsafeMutableBufferPointer {
            try allReduce($0, op: op, maxElementsPerCall: maxElementsPerCall)
        }
    }

    /// op over ranks r of value_r, on every rank (e.g. a loss sum or a sample count).
    public func allReduce<T: MPIScalar>(_ value: T, op: MPIReduceOp) throws -> T {
        var copy = value
        try withUnsafeMutablePointer(to: &copy) {
            try allReduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: op)
        }
        return copy
    }

    /// Starts an in-place all-reduce of `buffer` and returns at once (`MPI_Iallreduce`); the
    /// result is in `buffer` once the returned request's `test()` returns true or `wait()`
    /// returns. Buffers longer than `maxElementsPerCall` start one request per chunk, all
    /// tracked by the one `MPIRequest`.
    ///
    /// The buffer must stay allocated, and must not be read or written, until the request has
    /// completed. Every rank must start the same non-blocking collectives in the same order.
    ///
    /// - Parameter buffer: `[count]`, the same count on every rank.
    public func allReduceNonBlocking<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: MPIReduceOp,
                                                   maxElementsPerCall: Int = Communicator.maxElementsPerCall)
        throws -> MPIRequest
    {
        let request = MPIRequest(operation: "MPI_Iallreduce", rank: rank, size: size, communicator: handle)
        guard let base = buffer.baseAddress else { return request }
        let datatype = T.mpiDatatype.handle
        try forEachChunk(totalCount: buffer.count, maxElementsPerCall: maxElementsPerCall) { offset, count in
            var handle: MPI_Request? = ff_mpi_request_null()
            try checkMPI(MPI_Iallreduce(ff_mpi_in_place(), base + offset, count, datatype, op.handle,
                                        self.handle, &handle), "MPI_Iallreduce", rank: rank)
            request.append(handle)
        }
        return request
    }
}
