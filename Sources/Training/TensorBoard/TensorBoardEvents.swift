import Foundation
import MPIComm

/// TensorBoard event files in the run directory (`tensorboard --logdir runs/` shows every run):
/// each metrics record that `MetricsLog` appends to `metrics.jsonl` also becomes one event whose
/// scalars are the record's numbers, tagged `<event>/<key>` (`train/loss`, `train/lr`,
/// `eval/val_accuracy`, …; `step` is the event's step, strings are left out).
///
/// Each start of the trainer (fresh or resumed) opens a new file
/// `events.out.tfevents.<unix time>.<host>.<pid>` and writes into it only records whose step is
/// beyond the last one logged before for that event kind (read from the existing `metrics.jsonl`):
/// a resume from an older checkpoint re-runs steps that are already in the event files, and
/// TensorBoard would otherwise show them twice. Files are TFRecord streams:
///
///     uint64 length | uint32 masked CRC-32C(length) | data[length] | uint32 masked CRC-32C(data)
///
/// (little-endian), data being one serialised `Event` (`EventProtocolBuffer`). Every record is
/// written with one `write` call; a crash leaves at most a partial last record, which
/// TensorBoard's reader stops at. Write failures are reported once per series on stderr and never
/// stop training.
final class TensorBoardEvents {
    let path: String
    private let handle: FileHandle
    /// Last step already in the event files, per event kind ("train", "eval", …).
    private var lastLoggedStep: [String: Int]
    private var failing = false

    /// - Parameters:
    ///   - directory: the run directory.
    ///   - previousMetrics: `metrics.jsonl` as it was before this start (its steps are not logged again).
    init(directory: String, previousMetrics: String) throws {
        lastLoggedStep = Self.lastSteps(inMetricsFile: previousMetrics)
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        path = directory + "/events.out.tfevents.\(Int(now)).\(host).\(getpid())"
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError("cannot create \(path)")
        }
        self.handle = handle
        write(EventProtocolBuffer.fileVersionEvent(wallTime: now))
    }

    deinit { try? handle.close() }

    /// Writes `record` (a metrics.jsonl record) as one event, unless its step was logged before.
    func append(_ record: [String: MetricValue]) {
        guard case .string(let event)? = record["event"], case .int(let step)? = record["step"] else { return }
        if let last = lastLoggedStep[event], step <= last { return }
        var scalars: [(tag: String, value: Float)] = []
        for key in record.keys.sorted() where key != "step" {
            switch record[key]! {
            case .int(let value): scalars.append(("\(event)/\(key)", Float(value)))
            case .double(let value) where value.isFinite: scalars.append(("\(event)/\(key)", Float(value)))
            default: break
            }
        }
        guard !scalars.isEmpty else { return }
        write(EventProtocolBuffer.scalarEvent(wallTime: Date().timeIntervalSince1970, step: step, scalars: scalars))
    }

    /// One TFRecord: length, masked CRC of the length, data, masked CRC of the data.
    private func write(_ data: [UInt8]) {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        let length = Array(withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) })
        record += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { record.append(contentsOf: $0) }
        record += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { record.append(contentsOf: $0) }
        do {
            try handle.write(contentsOf: Data(record))
            failing = false
        } catch {
            if !failing {
                Communicator.writeStderrLine("flowformer: warning: cannot append to \(path) (\(error.localizedDescription)); TensorBoard events are dropped until a write succeeds")
            }
            failing = true
        }
    }

    /// The largest step per event kind in a metrics.jsonl file (empty if it does not exist);
    /// lines that do not parse are skipped, as every reader of the file does.
    static func lastSteps(inMetricsFile path: String) -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return [:]
        }
        var last: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = object["event"] as? String, let step = object["step"] as? Int else { continue }
            last[event] = max(last[event] ?? step, step)
        }
        return last
    }
}
