import Foundation
import Testing
import _CHDF5
@testable import HDF5IO
import TestSupport

/// Provokes every kind of failure this module reports; returns how many attempts failed (all of
/// them should) out of how many.
func provokeFailures(in directory: URL) throws -> (failed: Int, attempted: Int) {
    let textPath = filePath(directory, "text.h5")
    try Data("plain text".utf8).write(to: URL(fileURLWithPath: textPath))
    let file = try HDF5File(path: filePath(directory, "data.h5"), mode: .truncate)
    let dataset = try file.root.createDataset("d", of: Float.self, shape: [4], chunkRows: 2)
    let attempts: [() throws -> Void] = [
        { _ = try HDF5File(path: filePath(directory, "absent.h5"), mode: .readOnly) },
        { _ = try HDF5File(path: textPath, mode: .readOnly) },
        { _ = try file.root.dataset("missing/dataset") },
        { _ = try file.root.group("d") },
        { _ = try dataset.attribute("missing", as: Int.self) },
        { _ = try file.root.createDataset("d", of: Float.self, shape: [1]) },
        { _ = try dataset.readRows(3..<9, as: Float.self) },
        { try dataset.requireType([.uint8]) },
    ]
    return (attempts.filter { (try? $0()) == nil }.count, attempts.count)
}

/// Runs `provokeFailures` on the calling thread and on a fresh one, each in its own directory.
func provokeFailuresOnTwoThreads() throws {
    let here = try withTemporaryDirectory("hdf5io-tests") { try provokeFailures(in: $0) }
    let there = runOnNewThread { try? withTemporaryDirectory("hdf5io-tests") { try provokeFailures(in: $0) } }
    #expect(here.failed == here.attempted && there?.failed == there?.attempted,
            "every attempt must fail: \(here), \(String(describing: there))")
}

/// Open HDF5 objects per kind, over all files of the process.
func openObjectCounts() -> [String: Int] {
    let kinds: [(String, UInt32)] = [
        ("file", H5F_OBJ_FILE), ("group", H5F_OBJ_GROUP), ("dataset", H5F_OBJ_DATASET),
        ("attribute", H5F_OBJ_ATTR), ("named datatype", H5F_OBJ_DATATYPE),
    ]
    let allFiles = hid_t(kinds.reduce(0) { $0 | $1.1 })  // H5F_OBJ_ALL: count over every open file
    var counts: [String: Int] = [:]
    for (name, kind) in kinds {
        counts[name] = H5Fget_obj_count(allFiles, kind)
    }
    return counts
}

/// Dataspace, datatype, property-list and error-stack identifiers created while `body` ran and
/// still open afterwards, per kind.
///
/// HDF5 1.10 cannot count these kinds from outside, but it numbers the identifiers of each kind
/// consecutively: one identifier made and closed before `body` and one after bracket every
/// identifier `body` made, and `H5Iis_valid` tells which of them are still open.
func identifiersLeftOpen(by body: () throws -> Void) rethrows -> [String: Int] {
    let kinds: [(name: String, make: () -> hid_t, close: (hid_t) -> herr_t)] = [
        ("dataspace", { H5Screate(H5S_SCALAR) }, { H5Sclose($0) }),
        ("datatype", { H5Tcopy(ff_h5t_c_s1()) }, { H5Tclose($0) }),
        ("property list", { H5Pcreate(ff_h5p_file_access()) }, { H5Pclose($0) }),
        ("error stack", { H5Eget_current_stack() }, { H5Eclose_stack($0) }),
    ]
    func bracket() -> [hid_t] {
        kinds.map { kind in
            let id = kind.make()
            precondition(id >= 0 && kind.close(id) >= 0, "cannot make a \(kind.name)")
            return id
        }
    }
    let first = bracket()
    try body()
    let last = bracket()
    var leftOpen: [String: Int] = [:]
    for (index, kind) in kinds.enumerated() {
        leftOpen[kind.name] = (first[index] + 1 ..< last[index]).filter { H5Iis_valid($0) > 0 }.count
    }
    return leftOpen
}

/// Uses every part of the API once, successes and failures, and releases everything.
func exerciseEverything(in directory: URL) throws {
    let path = filePath(directory, "all.h5")
    do {
        let file = try HDF5File(path: path, mode: .truncate, chunkCacheBytes: 4 << 20)
        let dataset = try file.root.createDataset("g/d", of: Int32.self, shape: [9, 2], chunkRows: 4,
                                                  gzipLevel: 2, checksum: true)
        try dataset.write((0..<18).map(Int32.init))
        try [Int32](repeating: 5, count: 4).withUnsafeBufferPointer { try dataset.writeRows(3..<5, from: $0.baseAddress!) }
        try dataset.setAttribute("n", 3)
        try dataset.setAttribute("a", array: [1.5, 2.5])
        try file.root.setAttribute("s", string: "text")
        try file.root.setAttribute("s", string: "replaced")
        _ = try file.root.createStringDataset("config", string: "yaml")
        _ = try file.root.createGroup("h/i")
        try file.flush()
        try file.close()
    }
    let file = try HDF5File(path: path, mode: .readOnly)
    let dataset = try file.root.dataset("g/d")
    _ = try dataset.read(as: Double.self)
    _ = try dataset.readRows(2..<7, as: Float.self)
    _ = try dataset.attribute("n", as: Int.self)
    _ = try dataset.attributeArray("a", as: Float.self)
    _ = try dataset.attributeNames()
    _ = try file.root.stringAttribute("s")
    _ = try file.root.dataset("config").readString()
    _ = try file.root.memberNames()
    _ = file.root.exists("h/i") && dataset.hasAttribute("n")
    // Failures after an object was opened, so error paths must close what they opened.
    _ = try? file.root.stringAttribute("missing")
    _ = try? dataset.stringAttribute("n")
    _ = try? dataset.attribute("a", as: Int.self)
    _ = try? dataset.readString()
    _ = try? file.root.dataset("config").read(as: Int32.self)
    // Only what is still referenced is open.
    let open = openObjectCounts()
    #expect(open == ["file": 1, "dataset": 1, "group": 0, "attribute": 0, "named datatype": 0],
            "objects open besides the file and its dataset: \(open)")
}

/// The child half of `hdf5PrintsNothingOnStandardError`: runs only in the child process, where
/// nothing else uses HDF5, so the identifier counts are exact.
@Test func stderrProbeChild() throws {
    guard ProcessInfo.processInfo.environment["HDF5IO_STDERR_PROBE"] == "1" else { return }
    HDF5Library.prepareCurrentThread()
    #expect(openObjectCounts().values.allSatisfy { $0 == 0 })
    let leftOpen = try identifiersLeftOpen {
        try provokeFailuresOnTwoThreads()
        try withTemporaryDirectory("hdf5io-tests") { try exerciseEverything(in: $0) }
    }
    #expect(leftOpen.values.allSatisfy { $0 == 0 }, "identifiers left open: \(leftOpen)")
    let after = openObjectCounts()
    #expect(after.values.allSatisfy { $0 == 0 }, "objects left open: \(after)")
    FileHandle.standardError.write(Data("HDF5IO_PROBE_DONE\n".utf8))
}

/// Runs the probe above in a child process: HDF5 must print nothing, and every identifier the
/// module opened must be closed again.
@Test func hdf5PrintsNothingOnStandardErrorAndClosesEverything() throws {
    guard ProcessInfo.processInfo.environment["HDF5IO_STDERR_PROBE"] == nil else { return }
    // Runs this test bundle again, only the probe above, and reads what it prints.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = ["--filter", "HDF5IOTests.stderrProbeChild", "--testing-library", "swift-testing"]
    var environment = ProcessInfo.processInfo.environment
    environment["HDF5IO_STDERR_PROBE"] = "1"
    process.environment = environment
    let errorPipe = Pipe(), outputPipe = Pipe()
    process.standardError = errorPipe
    process.standardOutput = outputPipe
    try process.run()
    let errorText = String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let outputText = String(decoding: outputPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(outputText)\n\(errorText)")
    #expect(errorText.contains("HDF5IO_PROBE_DONE"), "the probe did not run:\n\(outputText)\n\(errorText)")
    for text in [errorText, outputText] {
        // "HDF5-DIAG" heads an error dump; "HDF5: " starts the complaints printed at exit when
        // identifiers were left open.
        #expect(!text.contains("HDF5-DIAG") && !text.contains("#000:") && !text.contains("HDF5: "),
                "HDF5 printed:\n\(text)")
    }
}

@Test func automaticErrorPrintingIsOffOnEveryThreadThatUsesTheModule() throws {
    try withTemporaryDirectory("hdf5io-tests") { directory in
        let path = filePath(directory, "absent.h5")
        let printerInstalled = runOnNewThread { () -> Bool in
            _ = try? HDF5File(path: path, mode: .readOnly)
            var printer: H5E_auto2_t? = nil
            var data: UnsafeMutableRawPointer? = nil
            _ = H5Eget_auto2(ff_h5e_default(), &printer, &data)
            return printer != nil
        }
        #expect(printerInstalled == false)
        #expect(HDF5Library.isThreadSafe)
    }
}
