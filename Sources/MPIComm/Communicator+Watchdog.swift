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

    /// `allReduceWithTimeout` on an array, in place. After a timeout the array's storage is still
    /// MPI's: abort the job without touching the array.
    public func allReduceWithTimeout<T: MPIScalar>(_ array: inout [T], op: MPIReduceOp, seconds: Double,
                                                   maxElementsPerCall: Int = Communicator.maxElementsPerCall)
        throws
    {
        try array.withUnsafeMutableBufferPointer {
            try allReduceWithTimeout($0, op: op, seconds: seconds, maxElementsPerCall: maxElementsPerCall)
        }
    }
}
