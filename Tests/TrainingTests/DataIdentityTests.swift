import Checkpoints
import Datasets
import Testing
@testable import Training

/// The resume check of the training data (`DataIdentity`, docs/FORMATS.md "Training data
/// record") on records: what counts as a change and how it is named; the position past the end.
@Suite struct DataIdentityTests {
    static func shard(_ file: String, rows: Int = 2000, fingerprint: String? = nil, directory: String = "/d") -> TrainingDataRecord.Shard {
        TrainingDataRecord.Shard(file: file, path: directory + "/" + file, rows: rows, kind: "tokens",
                                 attributes: "format_version=1 vocab_size=256", layout: "tokens uint8 [\(rows)]",
                                 fingerprint: fingerprint ?? String(repeating: String(file.first ?? "0"), count: 16))
    }

    static func record(_ shards: [TrainingDataRecord.Shard]) -> TrainingDataRecord {
        TrainingDataRecord(samples: (shards.reduce(0) { $0 + $1.rows } - 1) / 32, sequenceLength: 32,
                           fingerprintScheme: ShardFingerprint.scheme, shards: shards)
    }

    static let saved = record([shard("a.h5"), shard("b.h5")])
    static let position = DataPosition(epoch: 2, batchInEpoch: 3)

    static func check(_ current: TrainingDataRecord, saved: TrainingDataRecord? = saved, allowChange: Bool = false) throws -> String? {
        try DataIdentity.checkResume(saved: saved, current: current, position: position, globalBatch: 12,
                                     checkpoint: "run/checkpoint-000000005.h5", allowChange: allowChange)
    }

    @Test func unchangedOrMovedDataIsSilent() throws {
        #expect(try Self.check(Self.saved) == nil)
        // The same files under another directory.
        #expect(try Self.check(Self.record([Self.shard("a.h5", directory: "/scratch"), Self.shard("b.h5", directory: "/scratch")])) == nil)
    }

    /// Each change → (fragments of the one line, whether it says the position names other samples).
    static let changes: [(String, TrainingDataRecord, [String], Bool)] = [
        ("content", record([shard("a.h5"), shard("b.h5", fingerprint: "00000000000000ff")]),
         ["shard 1 (b.h5): fingerprint bbbbbbbbbbbbbbbb → 00000000000000ff"], true),
        ("rows", record([shard("a.h5", rows: 900), shard("b.h5")]),
         ["samples 124 → 90", "shard 0 (a.h5): rows 2000 → 900;"], true),
        ("dtype", record([shard("a.h5"), TrainingDataRecord.Shard(
            file: "b.h5", path: "/d/b.h5", rows: 2000, kind: "tokens", attributes: "format_version=1 vocab_size=256",
            layout: "tokens int32 [2000]", fingerprint: "00000000000000ff")]),
         ["shard 1 (b.h5): layout tokens uint8 [2000] → tokens int32 [2000], fingerprint bbbbbbbbbbbbbbbb → 00000000000000ff;"], true),
        ("added", record([shard("a.h5"), shard("b.h5"), shard("c.h5")]), ["2 shard(s) → 3, added c.h5"], true),
        ("removed", record([shard("b.h5")]), ["2 shard(s) → 1, removed a.h5"], true),
        ("reordered", record([shard("b.h5"), shard("a.h5")]), ["shards reordered: a.h5, b.h5 → b.h5, a.h5"], true),
        ("renamed", record([shard("a.h5"), TrainingDataRecord.Shard(
            file: "c.h5", path: "/d/c.h5", rows: 2000, kind: "tokens", attributes: "format_version=1 vocab_size=256",
            layout: "tokens uint8 [2000]", fingerprint: String(repeating: "b", count: 16))]),
         ["shard 1 (c.h5): file b.h5 → c.h5"], false),
    ]

    @Test(arguments: changes)
    func changeIsNamedInOneLine(label: String, current: TrainingDataRecord, fragments: [String], otherSamples: Bool) throws {
        let line = try #require(try Self.check(current), "\(label): no warning")
        #expect(line.hasPrefix("warning: data.train differs from what checkpoint run/checkpoint-000000005.h5 was trained on: "), "\(line)")
        #expect(!line.contains("\n"), "\(line)")
        for fragment in fragments { #expect(line.contains(fragment), "\(label): '\(fragment)' not in: \(line)") }
        #expect(line.contains("the saved position (epoch 2, batch 3) now names other samples") == otherSamples, "\(line)")
        #expect(line.contains("data.allow_change=true"), "\(line)")
        #expect(try Self.check(current, allowChange: true) == nil, "\(label): allow_change silences it")
    }

    @Test func checkpointWithoutRecordGetsANote() throws {
        let line = try #require(try Self.check(Self.saved, saved: nil))
        #expect(line.hasPrefix("note: checkpoint run/checkpoint-000000005.h5 holds no record of its training data"), "\(line)")
        #expect(try Self.check(Self.saved, saved: nil, allowChange: true) == nil)
    }

    /// Batch 3 of 12 samples needs 48 samples: 47 is an error, allow_change or not; 48 is enough.
    @Test func positionPastTheEndIsAnError() throws {
        for allowChange in [false, true] {
            for saved in [Self.saved, nil] {
                let small = Self.record([Self.shard("a.h5", rows: 47 * 32 + 1)])
                #expect(small.samples == 47)
                let error = #expect(throws: TrainingError.self) { try Self.check(small, saved: saved, allowChange: allowChange) }
                #expect(error?.description.hasPrefix("data.train has 47 samples of 32 tokens, fewer than the saved position (epoch 2, batch 3) of checkpoint run/checkpoint-000000005.h5 needs: 48") == true,
                        "\(String(describing: error))")
            }
        }
        let enough = Self.record([Self.shard("a.h5", rows: 48 * 32 + 1)])
        #expect(try Self.check(enough, allowChange: true) == nil)
    }

    /// One item per changed shard (and one for the sample count), at most four of them shown.
    @Test func manyChangesAreCut() throws {
        let names = (0 ..< 6).map { "s\($0).h5" }
        let saved = Self.record(names.map { Self.shard($0) })
        let current = Self.record(names.map { Self.shard($0, rows: 1999, fingerprint: "ffffffffffffffff") })
        let line = try #require(try Self.check(current, saved: saved))
        #expect(line.contains("shard 3 (s3.h5): rows 2000 → 1999, fingerprint ssssssssssssssss → ffffffffffffffff; and 2 more;"), "\(line)")
        #expect(!line.contains("samples 374"), "the sample count did not change: \(line)")
    }
}
