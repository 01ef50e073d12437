import Foundation
import HDF5IO
import MPIComm

/// The HDF5 part of `flowformer selftest`: each rank writes a small chunked, compressed file of
/// rank-dependent values into its own temporary directory, reads it back whole and by row
/// ranges, and compares. Failures come back as one-line strings.
enum HDF5Selftest {
    static func roundTrip(world: Communicator) throws -> [String] {
        let directory = NSTemporaryDirectory() + "flowformer-selftest-\(getpid())-rank\(world.rank)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/roundtrip.h5"
        let rows = 37, cols = 5
        let values = (0 ..< rows * cols).map { Float($0 * (world.rank + 1)) * 0.5 }
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            let dataset = try file.root.createDataset("values", of: Float.self, shape: [rows, cols],
                                                      chunkRows: 8, gzipLevel: 4, checksum: true)
            try dataset.write(values)
            try file.root.setAttribute("rank", Int64(world.rank))
            try file.close()
        }
        var failures: [String] = []
        let file = try HDF5File(path: path, mode: .readOnly)
        let dataset = try file.root.dataset("values")
        if try dataset.read(as: Float.self) != values { failures.append("hdf5: whole-dataset read differs") }
        var slice = [Float](repeating: 0, count: 11 * cols)
        try slice.withUnsafeMutableBufferPointer { try dataset.readRows(13 ..< 24, into: $0.baseAddress!) }
        if slice != Array(values[13 * cols ..< 24 * cols]) { failures.append("hdf5: rows 13..<24 differ") }
        if try file.root.attribute("rank", as: Int64.self) != Int64(world.rank) { failures.append("hdf5: attribute differs") }
        return failures
    }
}
