import Foundation
import HDF5IO
import TestSupport
import Testing
@testable import Checkpoints

/// The training data record (`/data`, docs/FORMATS.md "Training data record"): written and read
/// back equal, absent in older files, its crc32 catching a changed attribute.
@Suite struct DataRecordTests {
    static let record = TrainingDataRecord(
        samples: 1234, sequenceLength: 32, fingerprintScheme: "v1: test",
        shards: (0 ..< 3).map { index in
            TrainingDataRecord.Shard(file: "train-\(index).h5", path: "/data/ünï/train-\(index).h5", rows: 10_000 + index,
                                     kind: "tokens", attributes: "format_version=1 vocab_size=256",
                                     layout: "tokens uint8 [\(10_000 + index)]", fingerprint: String(repeating: "\(index)", count: 16))
        })

    @Test func roundTripAndLayout() throws {
        let saved = try writeCheckpoint(in: try temporaryDirectory("checkpoints"), step: 4, dataRecord: Self.record)
        let reader = try CheckpointReader(path: saved.path)
        #expect(try reader.readDataRecord() == Self.record)
        try reader.verifyChecksums()
        // The layout docs/FORMATS.md describes, readable without this project.
        let file = try HDF5File(path: saved.path, mode: .readOnly)
        let group = try file.root.group("data")
        #expect(try group.attribute("shards", as: Int64.self) == 3)
        #expect(try group.attribute("samples", as: Int64.self) == 1234)
        #expect(try file.root.group("data/shard-00002").stringAttribute("file") == "train-2.h5")
        #expect(try file.root.group("data/shard-00002").attribute("rows", as: Int64.self) == 10_002)
        #expect(Self.record.lines.count == 4 && Self.record.lines[1].contains("file=train-0.h5 "), "\(Self.record.lines)")
    }

    @Test func olderCheckpointsHaveNone() throws {
        let saved = try writeCheckpoint(in: try temporaryDirectory("checkpoints"), step: 4)
        let reader = try CheckpointReader(path: saved.path)
        #expect(try reader.readDataRecord() == nil)
        try reader.verifyChecksums()
    }

    /// A changed attribute (a bit flip in a row count, a renamed file) fails the crc32, in
    /// `readDataRecord` and in `verifyChecksums` (so the automatic resume skips the file).
    @Test(arguments: ["rows", "file"])
    func changedAttributeIsDetected(key: String) throws {
        let saved = try writeCheckpoint(in: try temporaryDirectory("checkpoints"), step: 4, dataRecord: Self.record)
        do {
            let file = try HDF5File(path: saved.path, mode: .readWrite)
            let shard = try file.root.group("data/shard-00001")
            if key == "rows" {
                try shard.setAttribute("rows", Int64(10_001 ^ 8))
            } else {
                try shard.setAttribute("file", string: "train-7.h5")
            }
            try file.close()
        }
        let reader = try CheckpointReader(path: saved.path)
        let error = #expect(throws: CheckpointError.self) { try reader.readDataRecord() }
        #expect(error?.description.contains("/data attributes are corrupted") == true, "\(String(describing: error))")
        #expect(throws: CheckpointError.self) { try reader.verifyChecksums() }
    }

    @Test func missingShardIsNamed() throws {
        var record = Self.record
        record.shards.removeLast()
        let saved = try writeCheckpoint(in: try temporaryDirectory("checkpoints"), step: 4, dataRecord: record)
        do {
            let file = try HDF5File(path: saved.path, mode: .readWrite)
            try file.root.group("data").setAttribute("shards", Int64(3))
            try file.close()
        }
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader(path: saved.path).readDataRecord() }
        #expect(error?.description.contains("/data/shard-00002 is missing") == true, "\(String(describing: error))")
    }
}
