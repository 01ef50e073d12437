import Foundation
import Testing
@testable import HDF5IO

@Test func goldenFileReadsBatchAttributeAndOutputShape() throws {
    let path = "/work/shared/golden/noncausal_self.h5"
    guard FileManager.default.fileExists(atPath: path) else { return }
    let file = try HDF5File(path: path, mode: .readOnly)
    #expect(try file.root.attribute("batch", as: Int.self) == 2)
    let output = try file.root.dataset("output")
    #expect(output.shape == [2, 7, 16])
    #expect(output.elementType == .float64)
    #expect(try output.read(as: Double.self).count == 2 * 7 * 16)
    #expect(try file.root.stringAttribute("dtype") == "float64")
    #expect(try file.root.attribute("causal", as: Int.self) == 0)
    #expect(try file.root.dataset("grad/x").shape == [2, 7, 16])
}

@Test func writeThenReadSmoke() throws {
    try withTemporaryDirectory { directory in
        let path = directory.appendingPathComponent("smoke.h5").path
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            let data = try file.root.createDataset("a/b", of: Float.self, shape: [3, 2], chunkRows: 2, gzipLevel: 4)
            try data.write([Float](stride(from: 0, to: 6, by: 1)))
            try file.root.setAttribute("kind", string: "images")
            try data.setAttribute("scale", array: [1.5, 2.5])
        }
        let file = try HDF5File(path: path, mode: .readOnly)
        let data = try file.root.dataset("a/b")
        #expect(try data.readRows(1..<3, as: Int32.self) == [2, 3, 4, 5])
        #expect(try file.root.stringAttribute("kind") == "images")
        #expect(try data.attributeArray("scale", as: Double.self) == [1.5, 2.5])
        #expect(try file.root.memberNames() == ["a"])
        #expect(file.root.exists("a/b") && !file.root.exists("a/c/d"))
    }
}
