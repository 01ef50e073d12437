import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh, empty directory for one test, `<prefix>-<label's letters and digits>-<UUID>` (Swift
/// Testing runs tests in parallel, so every call gets its own). It lies in this test process's
/// scratch directory, which is removed with everything in it when the process exits
/// (`FLOWFORMER_KEEP_TEST_RUNS=1` keeps it, for a post-mortem).
///
/// - Parameter label: the calling test's name by default; "" for none.
public func temporaryDirectory(_ prefix: String, label: String = #function) throws -> String {
    let name = [prefix, label.filter { $0.isLetter || $0.isNumber }, UUID().uuidString]
        .filter { !$0.isEmpty }.joined(separator: "-")
    let path = try TestScratch.root() + "/" + name
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `temporaryDirectory` as a file URL.
public func temporaryDirectoryURL(_ prefix: String, label: String = #function) throws -> URL {
    URL(fileURLWithPath: try temporaryDirectory(prefix, label: label), isDirectory: true)
}

/// Runs `body` with a fresh directory (as `temporaryDirectory`) and removes the directory and
/// everything in it as soon as `body` returns or throws.
public func withTemporaryDirectory<R>(_ prefix: String, label: String = #function,
                                      _ body: (URL) throws -> R) throws -> R {
    let directory = try temporaryDirectoryURL(prefix, label: label)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

/// The one scratch directory of this test process: `<tmp>/flowformer-tests-<pid>-<random>`,
/// made on first use, removed at exit unless `FLOWFORMER_KEEP_TEST_RUNS=1`.
enum TestScratch {
    static func root() throws -> String {
        switch made {
        case .success(let path): return path
        case .failure(let error): throw error
        }
    }

    private static let made: Result<String, Error> = {
        let path = NSTemporaryDirectory() + "flowformer-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            return .failure(error)
        }
        if ProcessInfo.processInfo.environment["FLOWFORMER_KEEP_TEST_RUNS"] != "1" {
            atexit { TestScratch.removeAtExit() }
        }
        return .success(path)
    }()

    private static func removeAtExit() {
        if case .success(let path) = made { try? FileManager.default.removeItem(atPath: path) }
    }
}
