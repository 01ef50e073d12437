import Checkpoints
import Datasets
import Foundation

/// What a run trains on and whether a resumed run still trains on it (docs/FORMATS.md, "Training
/// data record"). Rank 0 builds the record once at start (a few MiB read per shard, whatever its
/// size), stores it in every checkpoint and compares it with the resumed checkpoint's:
///
/// - the saved position (epoch, batch) lies past the end of the current data — fewer samples than
///   (batch + 1) × global batch — is an error, with `data.allow_change` or without: no sample
///   order of the new data has that batch;
/// - otherwise, any difference (shards added, removed, renamed or reordered; a shard's rows, kind,
///   attributes, layout or fingerprint; the split's sample count) is one warning line naming it,
///   unless `data.allow_change: true`. A shard found under another directory with the same name
///   and content is no change.
/// - a checkpoint without a record (written before it existed) gets a one-line note.
enum DataIdentity {
    /// The record of `split` read in windows of `sequenceLength` (0 for images).
    static func record(of split: DatasetSplit, sequenceLength: Int) throws -> TrainingDataRecord {
        let shards = try split.shardIdentities().map { identity in
            TrainingDataRecord.Shard(file: identity.fileName, path: identity.path, rows: identity.rows,
                                     kind: identity.kind.rawValue, attributes: identity.attributes,
                                     layout: identity.layout, fingerprint: hex16(identity.fingerprint))
        }
        return TrainingDataRecord(samples: split.sampleCount(sequenceLength: max(sequenceLength, 1)),
                                  sequenceLength: sequenceLength, fingerprintScheme: ShardFingerprint.scheme,
                                  shards: shards)
    }

    /// The start-of-run line: the files, rows, samples and fingerprints, and how long reading them took.
    static func summary(_ record: TrainingDataRecord, seconds: Double) -> String {
        let rows = record.shards.reduce(0) { $0 + $1.rows }
        let files = record.shards.count == 1
            ? "\(record.shards[0].file) (fingerprint \(record.shards[0].fingerprint))"
            : "\(record.shards.count) shards \(record.shards.first?.file ?? "") … \(record.shards.last?.file ?? "")"
        let samples = record.sequenceLength > 0
            ? "\(record.samples) samples of \(record.sequenceLength) tokens" : "\(record.samples) samples"
        return "training data: \(files), \(rows) rows, \(samples); fingerprinted in \(String(format: "%.1f", seconds * 1000)) ms"
    }

    /// The resume check, on rank 0. Throws when `position` needs more samples than `current`
    /// holds; returns the one line to print (a warning or a note), or nil when there is nothing to say.
    static func checkResume(saved: TrainingDataRecord?, current: TrainingDataRecord, position: DataPosition,
                            globalBatch: Int, checkpoint: String, allowChange: Bool) throws -> String? {
        let needed = (position.batchInEpoch + 1) * globalBatch
        let positionText = "the saved position (epoch \(position.epoch), batch \(position.batchInEpoch))"
        if current.samples < needed {
            let length = current.sequenceLength > 0 ? " of \(current.sequenceLength) tokens" : ""
            throw TrainingError("data.train has \(current.samples) samples\(length), fewer than \(positionText) of checkpoint \(checkpoint) needs: \(needed) (batch \(position.batchInEpoch) of \(globalBatch) samples); nothing was written — resume with the data it was trained on, or start a new run directory")
        }
        guard !allowChange else { return nil }
        guard let saved else {
            return "note: checkpoint \(checkpoint) holds no record of its training data (written before checkpoints recorded it), so whether data.train changed cannot be checked"
        }
        let changes = DataChanges(from: saved, to: current)
        guard !changes.items.isEmpty else { return nil }
        let shown = changes.items.prefix(4).joined(separator: "; ")
            + (changes.items.count > 4 ? "; and \(changes.items.count - 4) more" : "")
        let consequence = changes.contentChanged
            ? "\(positionText) now names other samples"
            : "the rows and fingerprints are unchanged, so \(positionText) most likely names the same samples"
        return "warning: data.train differs from what checkpoint \(checkpoint) was trained on: \(shown); \(consequence) (--set data.allow_change=true continues without this warning)"
    }
}

/// The differences between a recorded training split and the current one, for people: each
/// item names the shard (index and file), the property and old → new.
struct DataChanges {
    private(set) var items: [String] = []
    /// Whether anything besides file names differs (rows, order, attributes, layout, fingerprints).
    private(set) var contentChanged = false

    init(from saved: TrainingDataRecord, to current: TrainingDataRecord) {
        let compareFingerprints = saved.fingerprintScheme == current.fingerprintScheme
        func content(_ shard: TrainingDataRecord.Shard) -> [String] {
            [String(shard.rows), shard.kind, shard.attributes, shard.layout, compareFingerprints ? shard.fingerprint : ""]
        }
        let old = saved.shards, new = current.shards
        let oldContent = old.map(content), newContent = new.map(content)
        if old.count != new.count {
            contentChanged = true
            var unmatched = newContent
            var removed: [String] = []
            for (shard, key) in zip(old, oldContent) {
                if let index = unmatched.firstIndex(of: key) { unmatched[index] = [] } else { removed.append(shard.file) }
            }
            let added = zip(new, unmatched).filter { !$0.1.isEmpty }.map(\.0.file)
            var item = "\(old.count) shard(s) → \(new.count)"
            if !added.isEmpty { item += ", added " + added.joined(separator: ", ") }
            if !removed.isEmpty { item += ", removed " + removed.joined(separator: ", ") }
            items.append(item)
        } else if oldContent != newContent && oldContent.sorted(by: Self.ordered) == newContent.sorted(by: Self.ordered) {
            contentChanged = true
            items.append("shards reordered: " + old.map(\.file).joined(separator: ", ") + " → " + new.map(\.file).joined(separator: ", "))
        } else {
            for (index, (before, after)) in zip(old, new).enumerated() {
                var properties = [("file", before.file, after.file), ("rows", String(before.rows), String(after.rows)),
                                  ("kind", before.kind, after.kind), ("attributes", before.attributes, after.attributes)]
                // The layout's shapes start with the row count, named on its own above.
                if Self.rowsLeftOut(before.layout) != Self.rowsLeftOut(after.layout) {
                    properties.append(("layout", before.layout, after.layout))
                }
                if compareFingerprints { properties.append(("fingerprint", before.fingerprint, after.fingerprint)) }
                let changed = properties.filter { $0.1 != $0.2 }
                guard !changed.isEmpty else { continue }
                if changed.contains(where: { $0.0 != "file" }) { contentChanged = true }
                items.append("shard \(index) (\(after.file)): " + changed.map { "\($0.0) \($0.1) → \($0.2)" }.joined(separator: ", "))
            }
        }
        if saved.samples != current.samples {
            contentChanged = true
            items.insert("samples \(saved.samples) → \(current.samples)", at: 0)
        }
    }

    /// A layout text with each shape's first extent (the rows) replaced by `N`.
    private static func rowsLeftOut(_ layout: String) -> String {
        layout.replacingOccurrences(of: #"\[[0-9]+"#, with: "[N", options: .regularExpression)
    }

    private static func ordered(_ a: [String], _ b: [String]) -> Bool { a.lexicographicallyPrecedes(b) }
}

/// 16 lowercase hexadecimal digits.
func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
