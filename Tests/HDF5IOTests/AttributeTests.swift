import Foundation
import Testing
import _CHDF5
@testable import HDF5IO
import TestSupport

/// Sets a scalar and an array attribute of `T` on `holder` and reads both back exactly.
func checkAttributeRoundTrip<T: SampleScalar>(_ type: T.Type, on holder: HDF5AttributeHolder) throws {
    let scalar = T.sample(3)
    let array = samples(T.self, count: 6, offset: 1)
    try holder.setAttribute("scalar_\(T.self)", scalar)
    try holder.setAttribute("array_\(T.self)", array: array)
    #expect(try holder.attribute("scalar_\(T.self)", as: T.self) == scalar)
    #expect(try holder.attributeArray("array_\(T.self)", as: T.self) == array)
    #expect(try holder.attributeArray("scalar_\(T.self)", as: T.self) == [scalar])
}

@Test func attributesOfEveryKindRoundTripOnGroupsAndDatasets() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "attributes.h5")
        let longText = String(repeating: "key: value — ünïcödé\n", count: 5_000)  // > 64 KiB
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            let dataset = try file.root.createDataset("data", of: Float.self, shape: [2])
            for holder in [file.root, dataset] as [HDF5AttributeHolder] {
                try checkAttributeRoundTrip(UInt8.self, on: holder)
                try checkAttributeRoundTrip(UInt16.self, on: holder)
                try checkAttributeRoundTrip(Int32.self, on: holder)
                try checkAttributeRoundTrip(Int64.self, on: holder)
                try checkAttributeRoundTrip(Int.self, on: holder)
                try checkAttributeRoundTrip(Float.self, on: holder)
                try checkAttributeRoundTrip(Double.self, on: holder)
                try holder.setAttribute("kind", string: "images")
                try holder.setAttribute("empty_string", string: "")
                try holder.setAttribute("long_text", string: longText)
                try holder.setAttribute("empty_array", array: [Double]())
            }
        }
        // Read back from a fresh read-only open, so nothing comes from caches.
        let file = try HDF5File(path: path, mode: .readOnly)
        let dataset = try file.root.dataset("data")
        for holder in [file.root, dataset] as [HDF5AttributeHolder] {
            #expect(try holder.attribute("scalar_Int64", as: Int64.self) == Int64.sample(3))
            #expect(try holder.attributeArray("array_Double", as: Double.self) == samples(Double.self, count: 6, offset: 1))
            #expect(try holder.attributeArray("array_UInt8", as: UInt8.self) == samples(UInt8.self, count: 6, offset: 1))
            #expect(try holder.stringAttribute("kind") == "images")
            #expect(try holder.stringAttribute("empty_string") == "")
            #expect(try holder.stringAttribute("long_text") == longText)
            #expect(try holder.attributeArray("empty_array", as: Double.self) == [])
            #expect(holder.hasAttribute("kind") && !holder.hasAttribute("kinds"))
        }
        #expect(try dataset.attributeNames().contains("scalar_UInt16"))
        #expect(try file.root.attributeNames() == file.root.attributeNames().sorted())
        #expect(try file.root.attributeNames().count == 7 * 2 + 4)
    }
}

@Test func numericAttributesConvertOnRead() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "convert.h5"), mode: .truncate)
        try file.root.setAttribute("num_classes", Int32(10))
        try file.root.setAttribute("mean", array: [0.25, 0.5] as [Double])
        #expect(try file.root.attribute("num_classes", as: Int.self) == 10)
        #expect(try file.root.attribute("num_classes", as: Double.self) == 10)
        #expect(try file.root.attributeArray("mean", as: Float.self) == [0.25, 0.5])
    }
}

@Test func settingAnAttributeReplacesIt() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "replace.h5"), mode: .truncate)
        try file.root.setAttribute("step", 1)
        try file.root.setAttribute("step", array: [2.5, 3.5])
        #expect(try file.root.attributeArray("step", as: Double.self) == [2.5, 3.5])
        try file.root.setAttribute("step", string: "done")
        #expect(try file.root.stringAttribute("step") == "done")
        try file.root.deleteAttribute("step")
        #expect(!file.root.hasAttribute("step"))
    }
}

@Test func fixedLengthStringAttributesAreRead() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "fixed.h5")
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            _ = file.root  // the file exists; add fixed-length strings as numpy's bytes_ would store them
        }
        // Written through the C API: HDF5IO itself writes variable-length strings only.
        #expect(writeFixedLengthStringAttribute(path: path, name: "nullpad", text: "abc", size: 8,
                                                padding: H5T_STR_NULLPAD))
        #expect(writeFixedLengthStringAttribute(path: path, name: "spacepad", text: "xyz", size: 6,
                                                padding: H5T_STR_SPACEPAD))
        #expect(writeFixedLengthStringAttribute(path: path, name: "full", text: "12345678", size: 8,
                                                padding: H5T_STR_NULLTERM))
        let file = try HDF5File(path: path, mode: .readOnly)
        #expect(try file.root.stringAttribute("nullpad") == "abc")
        #expect(try file.root.stringAttribute("spacepad") == "xyz")
        #expect(try file.root.stringAttribute("full") == "12345678")  // fills the whole size, no NUL
    }
}

/// Adds a scalar fixed-length string attribute to the root of the file at `path` with plain C calls.
func writeFixedLengthStringAttribute(path: String, name: String, text: String, size: Int,
                                     padding: H5T_str_t) -> Bool {
    let file = H5Fopen(path, ff_h5f_acc_rdwr(), ff_h5p_default())
    guard file >= 0 else { return false }
    defer { _ = H5Fclose(file) }
    let type = H5Tcopy(ff_h5t_c_s1())
    defer { _ = H5Tclose(type) }
    guard H5Tset_size(type, size) >= 0, H5Tset_strpad(type, padding) >= 0 else { return false }
    let space = H5Screate(H5S_SCALAR)
    defer { _ = H5Sclose(space) }
    let attribute = H5Acreate2(file, name, type, space, ff_h5p_default(), ff_h5p_default())
    guard attribute >= 0 else { return false }
    defer { _ = H5Aclose(attribute) }
    var bytes = [UInt8](repeating: padding == H5T_STR_SPACEPAD ? UInt8(ascii: " ") : 0, count: size)
    for (index, byte) in text.utf8.prefix(size).enumerated() { bytes[index] = byte }
    return H5Awrite(attribute, type, bytes) >= 0
}

@Test func stringDatasetsRoundTrip() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "config.h5")
        let config = "model:\n  d_model: 256\n  attention: flow   # Flow-Attention, ε = 1e-6\n"
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            let dataset = try file.root.createStringDataset("run/config", string: config)
            #expect(dataset.elementType == .other("string") && dataset.shape == [])
        }
        let file = try HDF5File(path: path, mode: .readOnly)
        #expect(try file.root.dataset("run/config").readString() == config)
        let numbers = try HDF5File(path: filePath(directory, "n.h5"), mode: .truncate)
            .root.createDataset("n", of: Int32.self, shape: [2])
        #expect(expectHDF5Error { _ = try numbers.readString() }?.description
            == "cannot read dataset \(filePath(directory, "n.h5")):/n: it has dtype int32, expected a string")
    }
}

@Test func largeChunkCacheGivesTheSameRows() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "cache.h5")
        let values = (0..<20_000).map { Float($0) }
        do {
            try HDF5File(path: path, mode: .truncate).root
                .createDataset("v", of: Float.self, shape: [5000, 4], chunkRows: 1000, gzipLevel: 1)
                .write(values)
        }
        let dataset = try HDF5File(path: path, mode: .readOnly, chunkCacheBytes: 64 << 20).root.dataset("v")
        for start in [4321, 17, 2999, 998] {
            #expect(try dataset.readRows(start..<(start + 3), as: Float.self)
                    == Array(values[start * 4 ..< (start + 3) * 4]))
        }
    }
}
