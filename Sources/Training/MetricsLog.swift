import Checkpoints
import Foundation
import MPIComm

/// `metrics.jsonl` in the run directory: one JSON object per line, per logged step and per
/// evaluation, appended across resumes (rank 0 only). Every record also goes to the run's
/// TensorBoard event file (`TensorBoardEvents`). Each line is written with one `write`
/// call and flushed, so a crash leaves at most a partial last line; readers skip lines that do
/// not parse.
public final class MetricsLog {
    public let path: String
    private let handle: FileHandle
    /// The last append failed (its warning is printed once per series of failures).
    private var failing = false
    /// The same records as TensorBoard events (nil if the event file could not be created).
    private let events: TensorBoardEvents?

    public init(directory: String) throws {
        path = directory + "/metrics.jsonl"
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TrainingError("cannot create \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError("cannot open \(path) for appending")
        }
        self.handle = handle
        handle.seekToEndOfFile()
        do {
            events = try TensorBoardEvents(directory: directory, previousMetrics: path)
        } catch {
            Communicator.writeStderrLine("flowformer: warning: \(error); no TensorBoard events for this run")
            events = nil
        }
    }

    deinit { try? handle.close() }

    /// Appends one record. Keys are written in sorted order; non-finite numbers become null.
    public func append(_ record: [String: MetricValue]) {
        events?.append(record)
        var line = "{"
        for (index, key) in record.keys.sorted().enumerated() {
            if index > 0 { line += ", " }
            line += "\"\(key)\": " + record[key]!.json
        }
        line += "}\n"
        // `FileHandle.write(_:)` traps on a failed write (disk full, file-size limit): use the
        // throwing form, and report the first failure of a series as one line on stderr.
        do {
            try handle.write(contentsOf: Data(line.utf8))
            failing = false
        } catch {
            if !failing {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let reason = underlying.map { String(cString: strerror(Int32($0.code))) } ?? error.localizedDescription
                Communicator.writeStderrLine("flowformer: warning: cannot append to \(path) (\(reason)); metrics records are dropped until a write succeeds")
            }
            failing = true
        }
    }
}

/// A value in a metrics record.
public enum MetricValue {
    case int(Int)
    case double(Double)
    case string(String)

    var json: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return v.isFinite ? String(v) : "null"
        case .string(let s): return jsonStringLiteral(s)
        }
    }
}

/// An error of the training run itself (not of its inputs' files): one line.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
