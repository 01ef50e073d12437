import Foundation
import Testing
@testable import HDF5IO
import TestSupport

@Test func groupsPathsAndMembers() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let file = try HDF5File(path: filePath(directory, "groups.h5"), mode: .truncate)
        let moments = try file.root.createGroup("optimizer/blocks.0.attn.q.weight")
        #expect(moments.path == "/optimizer/blocks.0.attn.q.weight")
        let expAvg = try moments.createDataset("exp_avg", of: Float.self, shape: [4, 4])
        #expect(expAvg.path == "/optimizer/blocks.0.attn.q.weight/exp_avg")
        _ = try file.root.createDataset("model/zeta", of: Float.self, shape: [1])
        _ = try file.root.createDataset("model/alpha", of: Float.self, shape: [1])
        _ = try file.root.createGroup("model/Beta")

        #expect(try file.root.memberNames() == ["model", "optimizer"])
        #expect(try file.root.group("model").memberNames() == ["Beta", "alpha", "zeta"])
        #expect(try file.root.group("optimizer").group("blocks.0.attn.q.weight").memberNames() == ["exp_avg"])

        let optimizer = try file.root.group("optimizer")
        #expect(optimizer.exists("blocks.0.attn.q.weight/exp_avg"))
        #expect(optimizer.exists("/model/alpha"))  // absolute paths start at the root
        #expect(try optimizer.dataset("/model/alpha").path == "/model/alpha")
        #expect(file.root.exists("model") && file.root.exists("/") && file.root.exists(""))
        #expect(!file.root.exists("model/gamma"))
        #expect(!file.root.exists("missing/deeper/still"))
        #expect(!optimizer.exists("exp_avg"))
    }
}

@Test func readWriteModeEditsAndTruncateModeStartsOver() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "modes.h5")
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            try file.root.createDataset("x", of: Int32.self, shape: [3]).write([1, 2, 3] as [Int32])
            try file.flush()
        }
        do {
            let file = try HDF5File(path: path, mode: .readWrite)
            #expect(file.mode == .readWrite && file.path == path)
            try file.root.dataset("x").write([4, 5, 6] as [Int32])
            try file.root.setAttribute("format_version", 1)
        }
        do {
            let file = try HDF5File(path: path, mode: .readOnly)
            #expect(try file.root.dataset("x").read(as: Int32.self) == [4, 5, 6])
            #expect(try file.root.attribute("format_version", as: Int.self) == 1)
        }
        let file = try HDF5File(path: path, mode: .truncate)
        #expect(try file.root.memberNames() == [])
        #expect(!file.root.hasAttribute("format_version"))
    }
}

@Test func releasingEveryObjectClosesTheFile() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "lifetime.h5")
        var dataset: HDF5Dataset? = try {
            let file = try HDF5File(path: path, mode: .truncate)
            let dataset = try file.root.createDataset("d", of: Double.self, shape: [2])
            try dataset.write([1, 2])
            return dataset
        }()
        // The dataset keeps its file open after the file variable went away …
        #expect(try dataset?.read(as: Double.self) == [1, 2])
        // … so HDF5 refuses to truncate it (proof that the check below means something).
        #expect(expectHDF5Error { _ = try HDF5File(path: path, mode: .truncate) } != nil)
        dataset = nil
        // Everything released: the file is closed, and can be recreated.
        _ = try HDF5File(path: path, mode: .truncate)
    }
}

@Test func explicitCloseClosesObjectsStillHeld() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "close.h5")
        let file = try HDF5File(path: path, mode: .truncate)
        let group = try file.root.createGroup("g")
        let dataset = try group.createDataset("d", of: Float.self, shape: [3])
        try dataset.write([1, 2, 3] as [Float])
        try file.close()
        try file.close()  // idempotent
        #expect(!file.isOpen)

        let error = expectHDF5Error { _ = try dataset.read(as: Float.self) }
        #expect(error?.description == "cannot read dataset \(path):/g/d: the file has been closed")
        #expect(expectHDF5Error { _ = try group.memberNames() } != nil)
        #expect(!group.exists("d") && !dataset.hasAttribute("x"))

        // Nothing is left open, so the file can be reopened for writing while the Swift objects live.
        let reopened = try HDF5File(path: path, mode: .readWrite)
        #expect(try reopened.root.dataset("g/d").read(as: Float.self) == [1, 2, 3])
    }
}

@Test func concurrentReadsFromSeveralThreads() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "shared.h5")
        let values = (0..<4000).map { Float($0) * 0.5 }
        do {
            let file = try HDF5File(path: path, mode: .truncate)
            try file.root.createDataset("v", of: Float.self, shape: [1000, 4], chunkRows: 16, gzipLevel: 3)
                .write(values)
        }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let dataset = try HDF5File(path: path, mode: .readOnly).root.dataset("v")
                for start in stride(from: worker * 7, to: 990, by: 29) {
                    let rows = try dataset.readRows(start..<(start + 10), as: Float.self)
                    if !rows.elementsEqual(values[start * 4 ..< (start + 10) * 4]) {
                        failures.add("worker \(worker) rows \(start)..<\(start + 10)")
                    }
                }
                // An error on this thread is a Swift error, not a print.
                _ = try? dataset.attribute("missing", as: Int.self)
            } catch {
                failures.add("worker \(worker): \(error)")
            }
        }
        #expect(failures.messages.isEmpty, "\(failures.messages)")
    }
}

/// Failure messages collected from several threads.
final class Failures: @unchecked Sendable {  // the lock guards `messages`
    private let lock = NSLock()
    private(set) var messages: [String] = []
    func add(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
}

@Test func goldenFlowAttentionFile() throws {
    let path = "/work/shared/golden/noncausal_self.h5"
    guard FileManager.default.fileExists(atPath: path) else { return }
    let file = try HDF5File(path: path, mode: .readOnly)
    #expect(try file.root.attribute("batch", as: Int.self) == 2)
    #expect(try file.root.attribute("causal", as: Int.self) == 0)  // stored as int8
    #expect(try file.root.stringAttribute("dtype") == "float64")   // variable-length UTF-8
    let output = try file.root.dataset("output")
    #expect(output.shape == [2, 7, 16])
    #expect(output.elementType == .float64)
    let values = try output.read(as: Double.self)
    #expect(values.count == 2 * 7 * 16 && values.allSatisfy(\.isFinite))
    #expect(try output.readRows(1..<2, as: Double.self) == Array(values[112...]))
    #expect(try file.root.dataset("grad/x").shape == [2, 7, 16])
    #expect(try file.root.memberNames().contains("params"))
}
