import Foundation
import Testing
import _CHDF5
@testable import HDF5IO

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
    let here = try withTemporaryDirectory { try provokeFailures(in: $0) }
    let there = runOnNewThread { try? withTemporaryDirectory { try provokeFailures(in: $0) } }
    precondition(here.failed == here.attempted && there?.failed == there?.attempted,
                 "every attempt must fail: \(here), \(String(describing: there))")
}

/// The child half of `hdf5PrintsNothingOnStandardError`: runs only in the child process.
@Test func stderrProbeChild() throws {
    guard ProcessInfo.processInfo.environment["HDF5IO_STDERR_PROBE"] == "1" else { return }
    try provokeFailuresOnTwoThreads()
    FileHandle.standardError.write(Data("HDF5IO_PROBE_DONE\n".utf8))
}

@Test func hdf5PrintsNothingOnStandardError() throws {
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
        #expect(!text.contains("HDF5-DIAG") && !text.contains("#000:"), "HDF5 printed:\n\(text)")
    }
}

@Test func automaticErrorPrintingIsOffOnEveryThreadThatUsesTheModule() throws {
    try withTemporaryDirectory { directory in
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
