import Foundation
import Testing
@testable import HDF5IO
import TestSupport

/// A [37, 3, 2] int32 dataset in chunks of 8 rows (the last chunk partial), gzip and checksum,
/// holding value r·100 + j at row r, element j.
func makeRowFixture(in directory: URL) throws -> (file: HDF5File, dataset: HDF5Dataset, reference: [Int32]) {
    let rows = 37, rowElements = 6
    let reference = (0..<rows * rowElements).map { Int32($0 / rowElements * 100 + $0 % rowElements) }
    let file = try HDF5File(path: filePath(directory, "rows.h5"), mode: .truncate)
    let dataset = try file.root.createDataset("tokens", of: Int32.self, shape: [rows, 3, 2],
                                              chunkRows: 8, gzipLevel: 5, checksum: true)
    try dataset.write(reference)
    return (file, dataset, reference)
}

@Test func readRowsMatchesTheReferenceForEveryRange() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let (file, _, reference) = try makeRowFixture(in: directory)
        try file.close()
        // Reopen so the reads decompress from disk, not from the write cache.
        let dataset = try HDF5File(path: filePath(directory, "rows.h5"), mode: .readOnly).root.dataset("tokens")
        #expect(dataset.chunkShape == [8, 3, 2])
        let rowElements = dataset.rowElementCount
        var buffer = [Int32](repeating: -1, count: dataset.elementCount)  // [rows, 3, 2]
        // Every range, including empty ones, ranges inside one chunk and ranges across boundaries.
        for lower in 0...dataset.rowCount {
            for upper in lower...dataset.rowCount {
                try buffer.withUnsafeMutableBufferPointer { try dataset.readRows(lower..<upper, into: $0.baseAddress!) }
                let expected = reference[lower * rowElements ..< upper * rowElements]
                #expect(buffer[0 ..< expected.count].elementsEqual(expected), "rows \(lower)..<\(upper)")
            }
        }
    }
}

@Test func readRowsConvertsAndLeavesTheRestOfTheBufferAlone() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let (_, dataset, reference) = try makeRowFixture(in: directory)
        var buffer = [Double](repeating: .nan, count: 4 * 6 + 1)  // [4, 3, 2] + one guard element
        try buffer.withUnsafeMutableBufferPointer { try dataset.readRows(7..<11, into: $0.baseAddress!) }
        #expect(buffer[0..<24].elementsEqual(reference[42..<66].map(Double.init)))
        #expect(buffer[24].isNaN)
        #expect(try dataset.readRows(36..<37, as: Int64.self) == reference[216...].map(Int64.init))
    }
}

@Test func writeRowsUpdatesOnlyThoseRows() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        var (file, dataset, reference) = try makeRowFixture(in: directory)
        // Odd ranges: inside a chunk, across two boundaries, the ragged last chunk, one row.
        for rows in [3..<5, 6..<19, 30..<37, 0..<1] {
            let update = (0 ..< rows.count * 6).map { Int32(-1 - $0 - rows.lowerBound * 1000) }
            try update.withUnsafeBufferPointer { try dataset.writeRows(rows, from: $0.baseAddress!) }
            reference.replaceSubrange(rows.lowerBound * 6 ..< rows.upperBound * 6, with: update)
        }
        // Writing from another type converts.
        try [Float](repeating: 7, count: 6).withUnsafeBufferPointer { try dataset.writeRows(20..<21, from: $0.baseAddress!) }
        reference.replaceSubrange(120..<126, with: repeatElement(7, count: 6))
        try file.close()

        file = try HDF5File(path: filePath(directory, "rows.h5"), mode: .readOnly)
        #expect(try file.root.dataset("tokens").read(as: Int32.self) == reference)
    }
}

@Test func rowsOfOneDimensionalDatasets() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "stream.h5"), mode: .truncate)
        let tokens = (0..<1000).map { UInt16($0 * 61 % 65_536) }
        let dataset = try file.root.createDataset("tokens", of: UInt16.self, shape: [1000],
                                                  chunkRows: 64, gzipLevel: 9)
        try dataset.write(tokens)
        #expect(dataset.rowElementCount == 1)
        // A language-model window: L + 1 tokens starting at k·L, across chunk boundaries.
        #expect(try dataset.readRows(127..<257, as: Int32.self) == tokens[127..<257].map(Int32.init))
    }
}

@Test func checksumDetectsCorruptedChunks() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "checksum.h5")
        // A recognisable byte pattern, stored unfiltered apart from the checksum so it can be found.
        let pattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            let dataset = try file.root.createDataset("bytes", of: UInt8.self, shape: [4096],
                                                      chunkRows: 4096, checksum: true)
            try dataset.write(pattern)
        }
        #expect(try HDF5File(path: path, mode: .readOnly).root.dataset("bytes").read(as: UInt8.self) == pattern)

        var contents = try Data(contentsOf: URL(fileURLWithPath: path))
        let offset = try #require(contents.firstRange(of: Data(pattern))?.lowerBound)
        contents[offset + 1000] ^= 0xFF
        try contents.write(to: URL(fileURLWithPath: path))

        let file = try HDF5File(path: path, mode: .readOnly)
        let error = expectHDF5Error { _ = try file.root.dataset("bytes").read(as: UInt8.self) }
        #expect(error?.description.contains("\(path):/bytes") == true)
        #expect(error?.description.lowercased().contains("checksum") == true
                || error?.hdf5Stack.joined().lowercased().contains("checksum") == true,
                "\(error?.hdf5Stack ?? [])")
    }
}
