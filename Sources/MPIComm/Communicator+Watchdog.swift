extension Communicator {
    /// `allReduce` with a deadline: starts `allReduceNonBlocking` and polls it until it completes
    /// or `seconds` pass. Detects a rank that died, was stopped (SIGSTOP) or hangs, which would
    /// leave a blocking `MPI_Allreduce` waiting forever.
    ///
    /// - Parameters:
    ///   - buffer: `[count]`, the same count on every rank; reduced in place.
    ///   - op: `.sum`, `.max` or `.min`.
    ///   - seconds: how long to wait, from the call, for all ranks to contribute.
    /// - Throws: `MPIError.timeout` when the deadline passes. MPI still owns `buffer` then (a
    ///   collective cannot be cancelled): the caller must end the job, e.g.
    ///   `abort(message: "\(error)", code: 1)`, and must not touch `buffer` before.
    public func allReduceWithTimeout<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: MPIReduceOp,
                                                   seconds: Double,
                                                   maxElementsPerCall: Int = Communicator.maxElementsPerCall)
        throws
    {
        let request = try allReduceNonBlocking(buffer, op: op, maxElementsPerCall: maxElementsPerCall)
        try request.wait(seconds: seconds)
    }

    /// `allReduceWithTimeout` on an array, in place (through `allReducedWithTimeout`).
    public func allReduceWithTimeout<T: MPIScalar>(_ array: inout [T], op: MPIReduceOp, seconds: Double,
                                                   maxElementsPerCall: Int = Communicator.maxElementsPerCall)
        throws
    {
        array = try allReducedWithTimeout(array, op: op, seconds: seconds, maxElementsPerCall: maxElementsPerCall)
    }

    /// The element-wise reduction of `values` over the ranks, with a deadline.
    ///
    /// The values travel in a buffer allocated for the call, never in an array's own storage: MPI
    /// writes a non-blocking collective's result during a later call (`MPI_Testall`) that does not
    /// name the buffer, and an optimised build was seen to read a small array back unchanged
    /// after such a reduction. After a timeout the buffer is left to MPI (not freed): end the job.
    public func allReducedWithTimeout<T: MPIScalar>(_ values: [T], op: MPIReduceOp, seconds: Double,
                                                    maxElementsPerCall: Int = Communicator.maxElementsPerCall)
        throws -> [T]
    {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: values.count)
        _ = buffer.initialize(from: values)
        try allReduceWithTimeout(buffer, op: op, seconds: seconds, maxElementsPerCall: maxElementsPerCall)
        defer { buffer.deallocate() }
        return Array(buffer)
    }
}
