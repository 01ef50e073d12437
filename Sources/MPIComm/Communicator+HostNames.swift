import _CMPI

extension Communicator {
    /// Every rank's host name (`MPI_Get_processor_name`), indexed by rank; a collective.
    /// Names are truncated to `MPI_MAX_PROCESSOR_NAME` bytes (256 in Open MPI).
    public func processorNames() throws -> [String] {
        let width = Int(ff_mpi_max_processor_name())
        var mine = [UInt8](repeating: 0, count: width)          // [width], zero-padded
        let name = Array(try processorName.utf8.prefix(width))
        mine.replaceSubrange(0..<name.count, with: name)
        var all = [UInt8](repeating: 0, count: width * size)      // [size, width]
        try mine.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { receive in
                try checkMPI(MPI_Allgather(send.baseAddress, Int32(width), ff_mpi_byte(),
                                           receive.baseAddress, Int32(width), ff_mpi_byte(), handle),
                             "MPI_Allgather (host names)", rank: rank)
            }
        }
        return (0..<size).map { r in
            let row = all[(r * width)..<((r + 1) * width)]
            return String(decoding: row.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
