import Foundation
import Testing
import TensorKernels
import HDF5IO
@testable import Checkpoints
import TestSupport

/// A small table with the shapes of a real model's first entries.
func smallTable() -> ParameterTable {
    var table = ParameterTable()
    table.append("embed.weight", shape: [11, 4], decays: false)
    table.append("blocks.0.norm1.weight", shape: [4], decays: false)
    table.append("blocks.0.attn.query.weight", shape: [4, 4], decays: true)
    table.append("head.weight", shape: [11, 4], decays: true)
    return table
}

func values(_ count: Int, salt: Float) -> [Float] { (0..<count).map { Float($0) * 0.37 - salt } }

struct Saved {
    let path: String
    let table: ParameterTable
    let parameters: [Float]
    let expAvg: [Float]
    let expAvgSq: [Float]
    let state: TrainerState
}

func writeCheckpoint(in directory: String, step: Int, validationLoss: Double? = nil,
                     dataRecord: TrainingDataRecord? = nil) throws -> Saved {
    let table = smallTable()
    let parameters = values(table.count, salt: Float(step))
    let expAvg = values(table.count, salt: 1.5)
    let expAvgSq = values(table.count, salt: -2.5).map { $0 * $0 }
    var state = TrainerState()
    state.step = step
    state.epoch = 2
    state.batchInEpoch = 7
    state.samplesSeen = step * 64
    state.seed = 0xDEAD_BEEF_CAFE
    state.worldSize = 3
    state.validationLoss = validationLoss
    state.bestValidationLoss = 1.25
    state.bestStep = 4
    let path = try parameters.withUnsafeBufferPointer { p in
        try expAvg.withUnsafeBufferPointer { m in
            try expAvgSq.withUnsafeBufferPointer { v in
                try CheckpointWriter.write(
                    directory: directory, table: table, parameters: p.baseAddress!,
                    optimizerStates: [("exp_avg", m.baseAddress!), ("exp_avg_sq", v.baseAddress!)],
                    trainer: state, configText: "model:\n  kind: lm\n# ünïcode\n", dataRecord: dataRecord)
            }
        }
    }
    return Saved(path: path, table: table, parameters: parameters, expAvg: expAvg, expAvgSq: expAvgSq, state: state)
}

@Test func roundTripIsBitwise() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 12, validationLoss: 2.5)
    #expect(saved.path.hasSuffix("/checkpoint-000000012.h5"))
    let reader = try CheckpointReader(path: saved.path)
    #expect(reader.trainer == saved.state)
    #expect(reader.configText == "model:\n  kind: lm\n# ünïcode\n")
    var parameters = [Float](repeating: 0, count: saved.table.count)
    try parameters.withUnsafeMutableBufferPointer { try reader.readParameters(table: saved.table, into: $0.baseAddress!) }
    #expect(parameters.map(\.bitPattern) == saved.parameters.map(\.bitPattern))
    var moment = [Float](repeating: 0, count: saved.table.count)
    try moment.withUnsafeMutableBufferPointer { try reader.readOptimizerState("exp_avg_sq", table: saved.table, into: $0.baseAddress!) }
    #expect(moment.map(\.bitPattern) == saved.expAvgSq.map(\.bitPattern))
    #expect(try reader.optimizerStateNames(table: saved.table) == ["exp_avg", "exp_avg_sq"])
    // No temporary file remains.
    let names = try FileManager.default.contentsOfDirectory(atPath: directory)
    #expect(names == ["checkpoint-000000012.h5"])
}

@Test func layoutIsTheSpecOne() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 3)
    let file = try HDF5File(path: saved.path, mode: .readOnly)
    let weight = try file.root.dataset("model/blocks.0.attn.query.weight")
    #expect(weight.shape == [4, 4])
    #expect(weight.elementType == .float32)
    #expect(file.root.exists("optimizer/head.weight/exp_avg"))
    #expect(try file.root.group("trainer").attribute("step", as: Int64.self) == 3)
    #expect(try file.root.dataset("config").readString().hasPrefix("model:"))
}

@Test func crc32MatchesZlib() {
    // zlib.crc32(b"123456789") == 0xCBF43926, the standard check value.
    let bytes = Array("123456789".utf8)
    #expect(bytes.withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
    // Both loop paths (8 bytes at a time and the tail) agree with a bitwise reference.
    let long = (0..<1027).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    var reference: UInt32 = 0xFFFF_FFFF
    for byte in long {
        reference ^= UInt32(byte)
        for _ in 0..<8 { reference = (reference & 1) != 0 ? 0xEDB8_8320 ^ (reference >> 1) : reference >> 1 }
    }
    #expect(long.withUnsafeBytes { CRC32.checksum($0) } == ~reference)
}

/// Flips one byte inside the raw data of /model/<name> (found by searching for its float bytes).
func corruptParameterBytes(_ saved: Saved, entry name: String) throws {
    let entry = try #require(saved.table[name])
    let needle = saved.parameters[entry.range].withUnsafeBytes { Array($0) }
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: saved.path)))
    let start = try #require(firstIndex(of: needle, in: bytes))
    bytes[start + needle.count / 2] ^= 0x40
    try Data(bytes).write(to: URL(fileURLWithPath: saved.path))
}

func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    outer: for i in 0...(haystack.count - needle.count) {
        for j in 0..<needle.count where haystack[i + j] != needle[j] { continue outer }
        return i
    }
    return nil
}

@Test func flippedDataByteIsDetected() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 5)
    try corruptParameterBytes(saved, entry: "head.weight")
    let reader = try CheckpointReader(path: saved.path)
    var parameters = [Float](repeating: 0, count: saved.table.count)
    let error = #expect(throws: CheckpointError.self) {
        try parameters.withUnsafeMutableBufferPointer { try reader.readParameters(table: saved.table, into: $0.baseAddress!) }
    }
    #expect(error?.description.contains("/model/head.weight is corrupted") == true)
}

@Test func truncatedFileIsRejected() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 5)
    let size = try #require(try FileManager.default.attributesOfItem(atPath: saved.path)[.size] as? Int)
    let handle = try #require(FileHandle(forWritingAtPath: saved.path))
    try handle.truncate(atOffset: UInt64(size / 2))
    try handle.close()
    #expect(throws: CheckpointError.self) {
        let reader = try CheckpointReader(path: saved.path)
        var parameters = [Float](repeating: 0, count: saved.table.count)
        try parameters.withUnsafeMutableBufferPointer { try reader.readParameters(table: saved.table, into: $0.baseAddress!) }
    }
}

@Test func newestLoadableFallsBackPastADamagedCheckpoint() throws {
    let directory = try temporaryDirectory("checkpoints")
    _ = try writeCheckpoint(in: directory, step: 10)
    let newest = try writeCheckpoint(in: directory, step: 20)
    try Data("not an HDF5 file".utf8).write(to: URL(fileURLWithPath: newest.path))
    // A partial file left by a writer that died is never taken for a checkpoint.
    try Data("partial".utf8).write(to: URL(fileURLWithPath: directory + "/.checkpoint-000000030.h5.999.tmp"))
    var warnings: [String] = []
    let reader = try CheckpointDirectory(path: directory).newestLoadable { warnings.append($0) }
    #expect(reader?.trainer.step == 10)
    #expect(warnings.count == 1)
    #expect(warnings.first?.contains("checkpoint-000000020.h5") == true)
}

@Test func wrongFormatVersionIsRejected() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 1)
    do {
        let file = try HDF5File(path: saved.path, mode: .readWrite)
        try file.root.group("trainer").setAttribute("format_version", Int64(99))
        try file.close()
    }
    let error = #expect(throws: CheckpointError.self) { try CheckpointReader(path: saved.path) }
    #expect(error?.description.contains("format_version 99") == true)
}

@Test func otherArchitectureIsRejected() throws {
    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 1)
    var other = ParameterTable()
    other.append("embed.weight", shape: [11, 8], decays: false)
    let reader = try CheckpointReader(path: saved.path)
    var buffer = [Float](repeating: 0, count: other.count)
    let error = #expect(throws: CheckpointError.self) {
        try buffer.withUnsafeMutableBufferPointer { try reader.readParameters(table: other, into: $0.baseAddress!) }
    }
    #expect(error?.description.contains("has shape [11, 4], the model expects [11, 8]") == true)
}

@Test func retentionKeepsNewestAndBest() throws {
    let directory = try temporaryDirectory("checkpoints")
    for step in [2, 4, 6, 8, 10] { _ = try writeCheckpoint(in: directory, step: step) }
    let store = CheckpointDirectory(path: directory)
    try store.applyRetention(keep: 2, bestStep: 4)
    #expect(try store.checkpoints().map(\.step) == [4, 8, 10])
}

@Test func namesParse() {
    #expect(CheckpointDirectory.step(ofFileName: "checkpoint-000000200.h5") == 200)
    #expect(CheckpointDirectory.step(ofFileName: ".checkpoint-000000200.h5.12.tmp") == nil)
    #expect(CheckpointDirectory.step(ofFileName: "checkpoint-.h5") == nil)
    #expect(CheckpointDirectory.step(ofFileName: "metrics.jsonl") == nil)
    #expect(CheckpointDirectory.fileName(step: 1_234_567_890) == "checkpoint-1234567890.h5")
}

@Test func unwritableDirectoryFailsCleanly() throws {
    let table = smallTable()
    let parameters = [Float](repeating: 1, count: table.count)
    let error = #expect(throws: CheckpointError.self) {
        try parameters.withUnsafeBufferPointer {
            _ = try CheckpointWriter.write(directory: "/nonexistent-dir/run", table: table, parameters: $0.baseAddress!,
                                           optimizerStates: [], trainer: TrainerState(), configText: "")
        }
    }
    #expect(error?.description.contains("earlier checkpoints are untouched") == true)
}

/// The `/trainer` table keeps the layout of files written before it existed: the same attribute
/// names and HDF5 types, and the checksum over the same words in the same order.
@Test func trainerTableKeepsTheFileLayout() throws {
    var state = TrainerState()
    state.step = 12; state.epoch = 2; state.batchInEpoch = 7; state.samplesSeen = 48
    state.seed = 0xDEAD_BEEF_0000_0001; state.worldSize = 3; state.validationLoss = 2.5
    state.bestValidationLoss = 2.25; state.bestStep = 8
    #expect(TrainerState.fields.map(\.key) == ["step", "epoch", "batch_in_epoch", "samples_seen", "seed", "world_size",
                                               "best_step", "validation_loss", "best_validation_loss"])
    // The checksum as format version 1 defines it, spelled out.
    let integers: [Int64] = [1, 12, 2, 7, 48, Int64(bitPattern: state.seed), 3, 8]
    let words = integers.map { UInt64(bitPattern: $0).littleEndian } + [2.5, 2.25].map { ($0 as Double).bitPattern.littleEndian }
    #expect(state.attributeChecksum(formatVersion: 1) == words.withUnsafeBytes { CRC32.checksum($0) })

    let directory = try temporaryDirectory("checkpoints")
    let saved = try writeCheckpoint(in: directory, step: 5, validationLoss: 1.5)
    let trainer = try HDF5File(path: saved.path, mode: .readOnly).root.group("trainer")
    for field in TrainerState.fields {
        switch field.type {
        case .int64: _ = try trainer.attribute(field.key, as: Int64.self)
        case .float64: _ = try trainer.attribute(field.key, as: Double.self)
        }
    }
    #expect(try trainer.attribute("best_step", as: Int64.self) == (saved.state.bestStep.map(Int64.init) ?? -1))
}

@Test func trainerStateCrossesTheBroadcastBitForBit() {
    var state = TrainerState()
    state.step = 9; state.seed = UInt64.max; state.validationLoss = -0.0; state.bestStep = nil
    state.bestValidationLoss = Double.leastNonzeroMagnitude
    let text = state.broadcastText
    #expect(TrainerState(broadcastText: text) == state)
    #expect(TrainerState(broadcastText: text + " 1") == nil)
    #expect(TrainerState(broadcastText: "") == nil)
    #expect(state.summary.hasPrefix("step=9 epoch=0 batch_in_epoch=0 samples_seen=0 seed=18446744073709551615 world_size=1 best_step=- "))
}
