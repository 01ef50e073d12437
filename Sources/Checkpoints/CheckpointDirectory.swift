import Foundation

/// The checkpoints of one run directory: `checkpoint-<step, 9 digits>.h5`, newest = highest step.
///
/// Only rank 0 calls into this type; it decides and broadcasts, so ranks never disagree about
/// which file a run resumes from.
public struct CheckpointDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public static func fileName(step: Int) -> String {
        let digits = String(step)
        return "checkpoint-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + ".h5"
    }

    /// Parses the step out of a checkpoint file name; nil for anything else (temporary files,
    /// metrics, other users' files).
    public static func step(ofFileName name: String) -> Int? {
        guard name.hasPrefix("checkpoint-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst("checkpoint-".count).dropLast(".h5".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// Complete checkpoint files, oldest first (by step).
    public func checkpoints() throws -> [(step: Int, path: String)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch CocoaError.fileReadNoSuchFile {
            return []
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return [] }
            throw CheckpointError(path: path, "cannot list the run directory: \(error.localizedDescription)")
        }
        return names.compactMap { name in Self.step(ofFileName: name).map { ($0, path + "/" + name) } }
            .sorted { $0.step < $1.step }
    }

    /// Opens the newest checkpoint that passes its checks — header, trainer state, configuration
    /// and every dataset's crc32 (`CheckpointReader.verifyChecksums`). Files that fail are
    /// reported through `warn` (one line each) and skipped, so a checkpoint damaged by a crash or
    /// a bad disk falls back to the one before it. Nil when there is none.
    public func newestLoadable(warn: (String) -> Void) throws -> CheckpointReader? {
        for candidate in try checkpoints().reversed() {
            do {
                let reader = try CheckpointReader(path: candidate.path)
                try reader.verifyChecksums()
                return reader
            } catch {
                warn("skipping unusable checkpoint: \(error)")
            }
        }
        return nil
    }

    /// Deletes checkpoints beyond retention: the newest `keep`, plus the one with the best
    /// (lowest) validation loss when `keepBest`. `bestStep` names that one.
    /// Returns the paths removed.
    @discardableResult
    public func applyRetention(keep: Int, bestStep: Int?) throws -> [String] {
        precondition(keep >= 1, "keep must be at least 1")
        let all = try checkpoints()
        var removed: [String] = []
        for candidate in all.dropLast(keep) where candidate.step != bestStep {
            if unlink(candidate.path) == 0 { removed.append(candidate.path) }
        }
        return removed
    }

    /// Removes temporary files left by a writer that died mid-write (`.checkpoint-*.tmp`).
    public func removeStaleTemporaries() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for name in names where name.hasPrefix(".checkpoint-") && name.hasSuffix(".tmp") {
            unlink(path + "/" + name)
        }
    }
}
