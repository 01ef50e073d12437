import Foundation
import Testing
@testable import HDF5IO
import TestSupport

@Test func missingFile() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "absent.h5")
        let error = expectHDF5Error { _ = try HDF5File(path: path, mode: .readOnly) }
        #expect(error?.description == "cannot open file \(path): unable to open file: No such file or directory")
        #expect(error?.description.contains("\n") == false)
        #expect(error?.hdf5Stack.isEmpty == false)
        // Read-write needs the file to exist too.
        #expect(expectHDF5Error { _ = try HDF5File(path: path, mode: .readWrite) } != nil)
    }
}

@Test func fileLockedByAnotherWriter() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "locked.h5")
        do { _ = try HDF5File(path: path, mode: .truncate) }
        // What a writer in another process holds: an exclusive flock on the file.
        let descriptor = open(path, O_RDONLY)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX) == 0)
        guard ProcessInfo.processInfo.environment["HDF5_USE_FILE_LOCKING"] == nil else { return }
        let error = expectHDF5Error { _ = try HDF5File(path: path, mode: .readOnly) }
        #expect(error?.description.hasPrefix(
            "cannot open file \(path): unable to lock file: Resource temporarily unavailable (another process") == true,
            "\(error?.description ?? "")")
        #expect(error?.description.contains("HDF5_USE_FILE_LOCKING=FALSE") == true)
    }
}

@Test func fileThatIsNotHDF5() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "notes.h5")
        try Data("these are plain text bytes, not an HDF5 superblock\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        let error = expectHDF5Error { _ = try HDF5File(path: path, mode: .readOnly) }
        #expect(error?.description == "cannot open file \(path): file signature not found (Not an HDF5 file)")
    }
}

@Test func missingObjectsAndAttributes() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "data.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        let images = try file.root.createDataset("train/images", of: UInt8.self, shape: [2, 2])
        let train = try file.root.group("train")

        let missingDataset = expectHDF5Error { _ = try train.dataset("labels") }
        #expect(missingDataset?.description.hasPrefix("cannot open dataset \(path):/train/labels: ") == true,
                "\(missingDataset?.description ?? "")")
        #expect(missingDataset?.reason.contains("not found") == true)
        #expect(missingDataset?.objectPath == "/train/labels")
        #expect(missingDataset?.filePath == path)

        let missingGroup = expectHDF5Error { _ = try file.root.group("validation") }
        #expect(missingGroup?.description.hasPrefix("cannot open group \(path):/validation: ") == true)

        let groupAsDataset = expectHDF5Error { _ = try file.root.dataset("train") }
        #expect(groupAsDataset?.description == "cannot open dataset \(path):/train: not a dataset (Inappropriate type)")

        let missingAttribute = expectHDF5Error { _ = try images.attribute("num_classes", as: Int.self) }
        #expect(missingAttribute?.description.hasPrefix(
            "cannot read attribute 'num_classes' of \(path):/train/images: can't locate attribute") == true,
            "\(missingAttribute?.description ?? "")")
        #expect(expectHDF5Error { _ = try file.root.stringAttribute("kind") } != nil)

        #expect(expectHDF5Error { _ = try file.root.createGroup("train") }?.description
            .hasPrefix("cannot create group \(path):/train: ") == true)
    }
}

@Test func attributeOfTheWrongKind() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "kinds.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        try file.root.setAttribute("kind", string: "images")
        try file.root.setAttribute("mean", array: [0.1, 0.2, 0.3])
        #expect(expectHDF5Error { _ = try file.root.attribute("kind", as: Int.self) }?.description
            == "cannot read attribute 'kind' of \(path):/: it has type string, expected a number")
        #expect(expectHDF5Error { _ = try file.root.stringAttribute("mean") }?.description
            == "cannot read attribute 'mean' of \(path):/: it has type float64, expected a string")
        #expect(expectHDF5Error { _ = try file.root.attribute("mean", as: Double.self) }?.description
            == "cannot read attribute 'mean' of \(path):/: it holds 3 values, expected one")
    }
}

@Test func requireTypeNamesTheFoundAndAllowedTypes() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "train.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        let labels = try file.root.createDataset("labels", of: Float.self, shape: [4])
        let error = expectHDF5Error { try labels.requireType([.uint8, .int32, .int64]) }
        #expect(error?.description == "\(path):/labels has dtype float32, expected one of uint8, int32, int64")
        try labels.requireType([.float32, .float64])  // allowed: no throw

        #expect(expectHDF5Error { try labels.requireShape([4, 1]) }?.description
            == "\(path):/labels has shape [4], expected [4, 1]")
    }
}

@Test func rowsOutOfRange() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "images.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        let images = try file.root.createDataset("images", of: UInt8.self, shape: [15, 4], chunkRows: 4)
        var buffer = [UInt8](repeating: 0, count: 100 * 4)
        let past = expectHDF5Error {
            try buffer.withUnsafeMutableBufferPointer { try images.readRows(10..<20, into: $0.baseAddress!) }
        }
        #expect(past?.description == "cannot read rows 10..<20 of \(path):/images: the dataset has 15 rows")
        let negative = expectHDF5Error {
            try buffer.withUnsafeMutableBufferPointer { try images.readRows(-1..<2, into: $0.baseAddress!) }
        }
        #expect(negative?.description == "cannot read rows -1..<2 of \(path):/images: the dataset has 15 rows")
        let write = expectHDF5Error {
            try buffer.withUnsafeBufferPointer { try images.writeRows(15..<16, from: $0.baseAddress!) }
        }
        #expect(write?.description == "cannot write rows 15..<16 of \(path):/images: the dataset has 15 rows")
        // The boundary itself is fine.
        try buffer.withUnsafeMutableBufferPointer { try images.readRows(14..<15, into: $0.baseAddress!) }
    }
}

@Test func wrongBufferSizes() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "sizes.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        let weights = try file.root.createDataset("w", of: Float.self, shape: [2, 3])
        #expect(expectHDF5Error { try weights.write([Float](repeating: 1, count: 5)) }?.description
            == "cannot write dataset \(path):/w: the buffer holds 5 values but the dataset has 6 (shape [2, 3])")
        var small = [Float](repeating: 0, count: 4)
        #expect(expectHDF5Error { try small.withUnsafeMutableBufferPointer { try weights.read(into: $0) } } != nil)
    }
}

@Test func writingToAReadOnlyFile() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "readonly.h5")
        do { _ = try HDF5File(path: path, mode: .truncate).root.createDataset("x", of: Double.self, shape: [2]) }
        let file = try HDF5File(path: path, mode: .readOnly)
        let dataset = try file.root.dataset("x")
        let error = expectHDF5Error { try dataset.write([1.0, 2.0]) }
        #expect(error?.description.hasPrefix("cannot write dataset \(path):/x: ") == true, "\(error?.description ?? "")")
        #expect(expectHDF5Error { try file.root.setAttribute("a", 1) } != nil)
        #expect(expectHDF5Error { _ = try file.root.createGroup("g") } != nil)
    }
}
