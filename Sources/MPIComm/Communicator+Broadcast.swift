import _CMPI

extension Communicator {
    /// Copies `root`'s buffer into every other rank's buffer, in place (`MPI_Bcast`).
    /// Every rank passes a buffer of the same count; on `root` it is only read.
    ///
    /// - Parameters:
    ///   - buffer: `[count]` elements; chunked into calls of at most `maxElementsPerCall`.
    ///   - root: the sending rank, 0 ..< size (MPI reports an invalid root as `MPIError`).
    public func broadcast<T: MPIElement>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int,
                                         maxElementsPerCall: Int = Communicator.maxElementsPerCall) throws {
        guard let base = buffer.baseAddress else { return }
        let datatype = T.mpiDatatype.handle
        try forEachChunk(totalCount: buffer.count, maxElementsPerCall: maxElementsPerCall) { offset, count in
            try checkMPI(MPI_Bcast(base + offset, count, datatype, Int32(clamping: root), handle),
                         "MPI_Bcast", rank: rank)
        }
    }

    /// Replaces `array` on every rank with `root`'s array. The length travels first, so the
    /// other ranks may pass arrays of any length (an empty one is typical).
    ///
    /// - Parameters:
    ///   - array: `[n]` on `root`; becomes `[n]` on every rank.
    ///   - root: the sending rank, 0 ..< size.
    public func broadcast<T: MPIElement>(_ array: inout [T], root: Int,
                                         maxElementsPerCall: Int = Communicator.maxElementsPerCall) throws {
        let count = try broadcast(Int64(array.count), root: root)
        if rank == root || array.count == Int(count) {
            try array.withUnsafeMutableBufferPointer {
                try broadcast($0, root: root, maxElementsPerCall: maxElementsPerCall)
            }
        } else {
            // T is bitwise-copyable, so MPI's bytes fully initialise the new storage.
            array = try [T](unsafeUninitializedCapacity: Int(count)) { storage, initializedCount in
                try broadcast(storage, root: root, maxElementsPerCall: maxElementsPerCall)
                initializedCount = Int(count)
            }
        }
    }

    /// `root`'s `value`, on every rank.
    public func broadcast<T: MPIElement>(_ value: T, root: Int) throws -> T {
        var copy = value
        try withUnsafeMutablePointer(to: &copy) {
            try broadcast(UnsafeMutableBufferPointer(start: $0, count: 1), root: root)
        }
        return copy
    }

    /// `root`'s `string`, on every rank (sent as UTF-8 bytes, length first). Other ranks' `string`
    /// is ignored; pass `""`.
    public func broadcast(_ string: String, root: Int) throws -> String {
        var bytes = rank == root ? Array(string.utf8) : []
        try broadcast(&bytes, root: root)
        return String(decoding: bytes, as: UTF8.self)
    }
}
