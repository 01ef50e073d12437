import Checkpoints
import FlowModel
import Foundation
import HDF5IO
import TensorKernels
import TestSupport
import Testing
import Training

extension EndToEnd {
    /// Resuming on other training data (docs/FORMATS.md, "Training data record"), under
    /// `mpirun -np 2` on the KJV bytes: a changed file gives one warning line and training goes
    /// on, `data.allow_change=true` silences it, unchanged data says nothing (and the record
    /// checks out against its documented definition, recomputed in Python); a file with fewer
    /// samples than the saved position needs is a one-line error that leaves the checkpoint
    /// usable; a checkpoint from before the record resumes with a one-line note.
    @Suite struct ResumeOnOtherData {
        /// Stops at step 5: the saved position is epoch 0, batch 5 (global batch 12, 72 samples needed).
        static func stoppedAtStep5(_ run: RunSetup) throws -> String {
            let first = try run.train(ranks: 2, ["--stop-at-step", "5"])
            #expect(first.status == 75, "\(first)")
            return try #require(try run.checkpoints()[5])
        }

        /// `jobs/formats/check_data_record.py`: the record checked from its definition in
        /// docs/FORMATS.md alone (h5py, numpy), fingerprints recomputed from `files`.
        static func checkFromDefinition(_ checkpoint: String, files: [String]) throws -> ProcessResult {
            let script = RealData.packageRoot.appendingPathComponent("jobs/formats/check_data_record.py").path
            return try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, checkpoint, "--files"] + files)
        }

        static func dataLines(_ result: ProcessResult) -> [String] {
            result.stdoutLines.filter { $0.hasPrefix("warning: data.train") || $0.hasPrefix("note: checkpoint") }
        }

        @Test func changedDataWarnsOnceUnlessAllowedAndTrainingGoesOn() throws {
            let run = try RunSetup("lm")
            let checkpoint = try Self.stoppedAtStep5(run)
            #expect(try CheckpointReader(path: checkpoint).readDataRecord()?.shards.map(\.file) == ["kjv-train.h5"])
            let original = try RealData.path("kjv-train.h5")
            let documented = try Self.checkFromDefinition(checkpoint, files: [original])
            #expect(documented.status == 0 && documented.stdout.hasPrefix("check_data_record: ok"), "\(documented)")

            let unchanged = try run.train(ranks: 2, ["--resume", checkpoint, "--stop-at-step", "6"])
            #expect(unchanged.status == 75, "\(unchanged)")
            #expect(unchanged.stdout.contains("training data: kjv-train.h5 (fingerprint "), "\(unchanged)")
            #expect(Self.dataLines(unchanged).isEmpty, "unchanged data: \(unchanged)")

            // The same rows, one byte changed in the first block.
            let changed = run.directory + "/kjv-train.h5"
            try KJVCopy.write(to: changed) { tokens in tokens[100] = tokens[100] == 32 ? 33 : 32 }
            let warned = try run.train(ranks: 2, ["--resume", checkpoint, "--stop-at-step", "6", "--set", "data.train=\(changed)"])
            #expect(warned.status == 75, "training goes on after the warning: \(warned)")
            let lines = Self.dataLines(warned)
            #expect(lines.count == 1, "one line: \(warned)")
            let line = lines.first ?? ""
            #expect(line.contains("shard 0 (kjv-train.h5): fingerprint "), "\(line)")
            #expect(!line.contains("rows"), "the rows did not change: \(line)")
            #expect(line.contains("the saved position (epoch 0, batch 5) now names other samples"), "\(line)")
            // The new checkpoint records the data it continued on.
            let after = try CheckpointReader(path: try #require(try run.checkpoints()[6])).readDataRecord()
            #expect(after?.shards.map(\.path) == [changed], "\(String(describing: after))")
            let step6 = try #require(try run.checkpoints()[6])
            #expect(try Self.checkFromDefinition(step6, files: [changed]).status == 0)
            let mismatch = try Self.checkFromDefinition(checkpoint, files: [changed])
            #expect(mismatch.status == 1 && mismatch.stdout.contains("FAIL: shard 0"), "the changed file is not the recorded one: \(mismatch)")

            let allowed = try run.train(ranks: 2, ["--resume", checkpoint, "--stop-at-step", "6", "--set", "data.train=\(changed)",
                                                   "--set", "data.allow_change=true"])
            #expect(allowed.status == 75, "\(allowed)")
            #expect(Self.dataLines(allowed).isEmpty, "data.allow_change=true: \(allowed)")
        }

        @Test func fewerSamplesThanThePositionNeedsIsAnError() throws {
            let run = try RunSetup("lm")
            let checkpoint = try Self.stoppedAtStep5(run)
            let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
            // 71 windows of 32 tokens: one sample short of batch 5's last.
            let small = run.directory + "/kjv-small.h5"
            try KJVCopy.write(to: small, tokens: 71 * 32 + 1)
            for extra in [[], ["--set", "data.allow_change=true"]] {
                let refused = try run.train(ranks: 2, ["--set", "data.train=\(small)"] + extra, timeout: 120)
                #expect(refused.status == 1 && !refused.timedOut, "\(refused)")
                #expect(refused.flowformerLines.count == 1, "one line: \(refused)")
                #expect(refused.stderr.contains("data.train has 71 samples of 32 tokens, fewer than the saved position (epoch 0, batch 5) of checkpoint \(checkpoint) needs: 72"),
                        "\(refused)")
                #expect(!refused.stderr.contains("Fatal error") && !refused.stderr.contains("Stack dump"), "\(refused)")
            }
            #expect(try run.checkpoints().keys.sorted() == [5])
            #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before, "the checkpoint is untouched")
            let inspected = try ProcessRunner.run(try ProcessRunner.builtProduct("flowformer"), ["inspect", checkpoint])
            #expect(inspected.status == 0, "the checkpoint still loads: \(inspected)")
            #expect(inspected.stdout.contains("file=kjv-train.h5 "), "\(inspected)")
        }

        @Test func checkpointWithoutARecordResumesWithANote() throws {
            let run = try RunSetup("lm")
            let checkpoint = try Self.stoppedAtStep5(run)
            try KJVCopy.rewriteWithoutDataRecord(checkpoint, directory: run.runDirectory)
            #expect(try CheckpointReader(path: checkpoint).readDataRecord() == nil)
            let resumed = try run.train(ranks: 2, ["--stop-at-step", "6"])
            #expect(resumed.status == 75, "\(resumed)")
            #expect(Self.dataLines(resumed).count == 1, "\(resumed)")
            #expect(Self.dataLines(resumed).first?.hasPrefix("note: checkpoint \(checkpoint) holds no record of its training data") == true,
                    "\(resumed)")
            #expect(try CheckpointReader(path: try #require(try run.checkpoints()[6])).readDataRecord() != nil)
        }
    }
}

/// Token files made from the packed KJV training split.
enum KJVCopy {
    /// Writes a `tokens` file holding the first `tokens` (all when nil) of kjv-train.h5, after `change`.
    static func write(to path: String, tokens count: Int? = nil, change: (inout [UInt16]) -> Void = { _ in }) throws {
        let source = try HDF5File(path: try RealData.path("kjv-train.h5"), mode: .readOnly)
        let stream = try source.root.dataset("tokens")   // [T]
        var tokens = try stream.readRows(0 ..< (count ?? stream.rowCount), as: UInt16.self)
        change(&tokens)
        let file = try HDF5File(path: path, mode: .truncate)
        try file.root.setAttribute("kind", string: "tokens")
        try file.root.setAttribute("format_version", Int64(1))
        try file.root.setAttribute("vocab_size", try source.root.attribute("vocab_size", as: Int64.self))
        try file.root.createDataset("tokens", of: UInt16.self, shape: [tokens.count], chunkRows: 32_768).write(tokens)
        try file.close()
    }

    /// Rewrites `checkpoint` as checkpoints were written before they recorded their training data.
    static func rewriteWithoutDataRecord(_ checkpoint: String, directory: String) throws {
        let reader = try CheckpointReader(path: checkpoint)
        let config = try RunConfig(yaml: reader.configText, label: checkpoint)
        let table = ParameterTable.flowformer(config.model)
        var parameters = [Float](repeating: 0, count: table.count)   // [P]
        try parameters.withUnsafeMutableBufferPointer { try reader.readParameters(table: table, into: $0.baseAddress!) }
        let names = try reader.optimizerStateNames(table: table)
        var states = names.map { _ in [Float](repeating: 0, count: table.count) }   // [states][P]
        for index in names.indices {
            try states[index].withUnsafeMutableBufferPointer { try reader.readOptimizerState(names[index], table: table, into: $0.baseAddress!) }
        }
        let pointers = states.map { state in
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: state.count)
            copy.initialize(from: state, count: state.count)
            return copy
        }
        defer { pointers.forEach { $0.deallocate() } }
        _ = try parameters.withUnsafeBufferPointer { p in
            try CheckpointWriter.write(directory: directory, table: table, parameters: p.baseAddress!,
                                       optimizerStates: zip(names, pointers).map { (name: $0, buffer: UnsafePointer($1)) },
                                       trainer: reader.trainer, configText: reader.configText)
        }
    }
}
