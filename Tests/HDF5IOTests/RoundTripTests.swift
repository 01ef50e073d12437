import Foundation
import Testing
@testable import HDF5IO
import TestSupport

/// Storage layouts a dataset round trip is checked under.
enum Layout: CaseIterable, CustomStringConvertible {
    case contiguous, chunked, chunkedGzip, chunkedGzipChecksum

    var description: String { "\(self.chunkRows.map { "chunkRows \($0)" } ?? "contiguous")"
        + (gzipLevel.map { ", gzip \($0)" } ?? "") + (checksum ? ", fletcher32" : "") }
    var chunkRows: Int? { self == .contiguous ? nil : 2 }
    var gzipLevel: Int? { self == .chunkedGzip || self == .chunkedGzipChecksum ? 6 : nil }
    var checksum: Bool { self == .chunkedGzipChecksum }
}

/// Writes samples of `T` in `shape` under `layout`, reopens the file read-only and checks type,
/// shape, chunking and every byte.
func checkRoundTrip<T: SampleScalar>(_ type: T.Type, shape: [Int], layout: Layout,
                                     in directory: URL) throws {
    let path = filePath(directory, "\(T.self)-\(shape.count)d-\(layout).h5")
    let count = shape.reduce(1, *)
    let values = samples(T.self, count: count)
    do {
        let file = try HDF5File(path: path, mode: .truncate)
        let dataset = try file.root.createDataset("values", of: T.self, shape: shape,
                                                  chunkRows: layout.chunkRows,
                                                  gzipLevel: layout.gzipLevel,
                                                  checksum: layout.checksum)
        try dataset.write(values)
    }
    let file = try HDF5File(path: path, mode: .readOnly)
    let dataset = try file.root.dataset("values")
    #expect(dataset.shape == shape, "\(T.self) \(shape) \(layout)")
    #expect(dataset.elementType == T.hdf5ElementType)
    #expect(dataset.chunkShape == layout.chunkRows.map { [min($0, shape[0])] + shape.dropFirst() })
    let readBack = try dataset.read(as: T.self)
    let sameBytes = readBack.withUnsafeBytes { a in values.withUnsafeBytes { b in a.elementsEqual(b) } }
    #expect(sameBytes, "bytes differ for \(T.self) \(shape) \(layout)")

    // The pointer form reads the same.
    var viaBuffer = [T](repeating: T.sample(99), count: count)
    try viaBuffer.withUnsafeMutableBufferPointer { try dataset.read(into: $0) }
    #expect(viaBuffer.withUnsafeBytes { a in readBack.withUnsafeBytes { b in a.elementsEqual(b) } })
}

let roundTripShapes: [[Int]] = [[7], [5, 3], [3, 2, 4, 5]]

@Test(arguments: roundTripShapes, Layout.allCases)
func everyTypeRoundTrips(shape: [Int], layout: Layout) throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        try checkRoundTrip(UInt8.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(UInt16.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(Int32.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(Int64.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(Int.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(Float.self, shape: shape, layout: layout, in: directory)
        try checkRoundTrip(Double.self, shape: shape, layout: layout, in: directory)
    }
}

@Test func intIsStoredAsInt64() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "int.h5"), mode: .truncate)
        let dataset = try file.root.createDataset("i", of: Int.self, shape: [2])
        #expect(dataset.elementType == .int64)
        try dataset.write([Int.min, Int.max])
        #expect(try dataset.read(as: Int64.self) == [Int64.min, Int64.max])
    }
}

@Test func readConvertsNumerically() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "convert.h5"), mode: .truncate)
        let pixels = try file.root.createDataset("pixels", of: UInt8.self, shape: [2, 2])
        try pixels.write([0, 1, 128, 255] as [UInt8])
        #expect(try pixels.read(as: Float.self) == [0, 1, 128, 255])
        #expect(try pixels.read(as: Int64.self) == [0, 1, 128, 255])

        let weights = try file.root.createDataset("weights", of: Double.self, shape: [3])
        try weights.write([0.5, -2.25, 1e-3])
        #expect(try weights.read(as: Float.self) == [0.5, -2.25, Float(1e-3)])

        // Writing converts too: Int values into an int32 dataset.
        let labels = try file.root.createDataset("labels", of: Int32.self, shape: [3])
        try labels.write([3, 1, 4] as [Int])
        #expect(try labels.read(as: Int32.self) == [3, 1, 4])
    }
}

@Test func scalarAndEmptyDatasets() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "edge.h5"), mode: .truncate)
        let scalar = try file.root.createDataset("scalar", of: Double.self, shape: [])
        #expect(scalar.shape == [] && scalar.elementCount == 1)
        try scalar.write([2.5])
        #expect(try scalar.read(as: Double.self) == [2.5])

        // No rows: stored contiguously even though chunking was asked for.
        let empty = try file.root.createDataset("empty", of: Float.self, shape: [0, 4], gzipLevel: 4)
        #expect(empty.chunkShape == nil)
        #expect(try empty.read(as: Float.self) == [])
        #expect(try empty.readRows(0..<0, as: Float.self) == [])
    }
}

@Test func newDatasetsStartAsZeros() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "zeros.h5"), mode: .truncate)
        let dataset = try file.root.createDataset("z", of: Int32.self, shape: [4, 3], chunkRows: 3)
        #expect(try dataset.read(as: Int32.self) == [Int32](repeating: 0, count: 12))
    }
}

@Test func defaultChunkRowsTargetAboutOneMebibyte() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "chunks.h5"), mode: .truncate)
        // One row is 28·28 bytes → 1 MiB / 784 B = 1337 rows per chunk.
        let images = try file.root.createDataset("images", of: UInt8.self, shape: [60_000, 28, 28],
                                                 gzipLevel: 1)
        #expect(images.chunkShape == [HDF5Group.defaultChunkBytes / 784, 28, 28])
        // Never more rows than the dataset has.
        let small = try file.root.createDataset("small", of: Double.self, shape: [3, 2], checksum: true)
        #expect(small.chunkShape == [3, 2])
    }
}
