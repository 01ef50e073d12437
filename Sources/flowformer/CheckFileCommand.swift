import ArgumentParser
import Checkpoints
import Datasets
import FlowModel
import Foundation
import TensorKernels
import Training

/// `flowformer check-file` (hidden): opens and fully reads dataset or checkpoint files through the
/// same code paths training uses, one file after another, and reports each on one line of stdout:
///
///     try PATH                                  printed and flushed before the file is touched
///     ok PATH <summary>                         the file loaded; the summary digests what was read
///     error PATH: <one-line message>            the file was rejected with a clean error
///
/// The corruption tests (`Tests/ReliabilityTests`) run it in a child process over hundreds of
/// damaged files: a crash or a hang inside a library then ends the child, not the test run, and
/// the last `try` line names the file that caused it. Exit status 0 if every file loaded, 1 if
/// any was rejected.
///
/// Datasets: `DatasetSplit.open` (every check, including the label / token-id range scan), then
/// every sample through an `EvaluationLoader` and one epoch through a `TrainingLoader` (with
/// augmentation for images), both prefetching on a background thread as in training. Every value
/// a loader hands out is checked again (labels < num_classes, token ids < vocab_size, pixels
/// finite): a value out of range there is reported as `invalid`, which no file should produce.
/// Summary: `kind=… samples=N crc=XXXXXXXX`, the CRC-32 of the evaluation pass's labels, tokens
/// and pixel bit patterns in sample order.
///
/// Checkpoints: `CheckpointReader` (trainer state, `/config` checksum), the configuration parsed
/// with `RunConfig(yaml:)`, the parameter table built from its `model:` section, then
/// `readParameters` and `readOptimizerState` for every state buffer the configured optimizer
/// needs, as a resume reads them (each dataset's crc32 verified), and the training data record
/// (`/data`, its crc32 verified). Summary: the trainer state (`TrainerState.summary`, every field
/// of the table), the CRC-32 of the configuration, the data record's crc32 (`none` without one) and
/// the CRC-32 of each loaded buffer, e.g.
/// `step=12 epoch=2 batch_in_epoch=7 … best_validation_loss=1.25 config=… data=… model=… exp_avg=…`.
struct CheckFileCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-file",
        abstract: "Open and fully read dataset or checkpoint files; one line per file (for the corruption tests).",
        shouldDisplay: false
    )

    enum FileKind: String, EnumerableFlag {
        case dataset, checkpoint
    }

    @Flag(help: "What the files are.")
    var kind: FileKind

    @Option(help: "Window length L for token-stream datasets.")
    var sequenceLength = 8

    @Argument(help: "Files to check, in order.")
    var paths: [String]

    // Fault injection for the test of the corruption harness itself; hidden from --help.

    @Option(help: ArgumentHelp("Raise SIGSEGV when reaching this file.", visibility: .hidden))
    var injectCrashOn: String?

    @Option(help: ArgumentHelp("Sleep forever when reaching this file.", visibility: .hidden))
    var injectHangOn: String?

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give at least one file") }
        guard sequenceLength > 0 else { throw ValidationError("--sequence-length must be positive") }
    }

    func execute() throws -> Int32 {
        var allLoaded = true
        for path in paths {
            emit("try \(path)")
            if path == injectCrashOn {
                // Past the runtime's crash handler, which would return from a raised signal.
                signal(SIGSEGV, SIG_DFL)
                raise(SIGSEGV)
            }
            if path == injectHangOn { while true { sleep(1000) } }
            do {
                let summary = kind == .dataset ? try checkDataset(path) : try checkCheckpoint(path)
                emit("ok \(path) \(summary)")
            } catch let invalid as InvalidValue {
                allLoaded = false
                emit("invalid \(path): \(invalid.message)")
            } catch {
                allLoaded = false
                emit("error \(path): \(CommandRunner.oneLine(error))")
            }
        }
        return allLoaded ? ExitStatus.success : ExitStatus.failure
    }

    /// One line on stdout, flushed at once so that it survives a crash right after it.
    private func emit(_ line: String) {
        print(line)
        fflush(stdout)
    }

    // MARK: - Datasets

    private func checkDataset(_ path: String) throws -> String {
        let split = try DatasetSplit.open(path)
        let length = split.kind == .tokens ? sequenceLength : nil
        let samples = split.sampleCount(sequenceLength: length ?? max(split.fileSequenceLength, 1))

        // Every sample once, in file order: what evaluation reads.
        var digest = CRC32()
        let evaluation = try EvaluationLoader(split: split, batchSize: 16, sequenceLength: length)
        var evaluated = 0
        while let batch = try evaluation.next() {
            try checkValues(of: batch, split: split, digest: &digest)
            evaluated += batch.count
        }
        guard evaluated == samples else {
            throw InvalidValue(message: "the evaluation pass read \(evaluated) samples, the split has \(samples)")
        }

        // One epoch in training order, with augmentation for images.
        let training = try TrainingLoader(
            split: split, globalBatchSize: min(16, samples), seed: 1, sequenceLength: length,
            augmentation: split.kind == .images ? ImageAugmentation(padding: 1, seed: 1) : nil)
        var ignored = CRC32()
        for _ in 0 ..< training.batchesPerEpoch {
            try checkValues(of: try training.next(), split: split, digest: &ignored)
        }
        return "kind=\(split.kind.rawValue) samples=\(samples) crc=\(hex(digest.value))"
    }

    /// Checks the values a loader handed out and feeds them into `digest`.
    private func checkValues(of batch: Batch, split: DatasetSplit, digest: inout CRC32) throws {
        func checkRange(_ buffer: Int32Buffer, elements: Int, limit: Int, what: String) throws {
            for i in 0 ..< elements where buffer.pointer[i] < 0 || Int(buffer.pointer[i]) >= limit {
                throw InvalidValue(message: "a loader returned \(what) \(buffer.pointer[i]) outside 0..<\(limit) (batch \(batch.position), element \(i))")
            }
            digest.update(UnsafeRawBufferPointer(start: buffer.pointer, count: elements * MemoryLayout<Int32>.stride))
        }
        let rowTokens = batch.tokens.shape.count == 2 ? batch.tokens.shape[1] : 0
        switch split.kind {
        case .images:
            let perSample = batch.pixels.shape[1]
            let pixels = batch.pixels.pointer   // [capacity, H·W·C]
            for i in 0 ..< batch.count * perSample where !pixels[i].isFinite {
                throw InvalidValue(message: "a loader returned pixel \(pixels[i]) (batch \(batch.position), element \(i))")
            }
            digest.update(UnsafeRawBufferPointer(start: pixels, count: batch.count * perSample * MemoryLayout<Float>.stride))
            try checkRange(batch.labels, elements: batch.count, limit: split.numClasses, what: "label")
        case .sequences:
            try checkRange(batch.tokens, elements: batch.count * rowTokens, limit: split.vocabSize, what: "token id")
            try checkRange(batch.labels, elements: batch.count, limit: split.numClasses, what: "label")
        case .tokens:
            try checkRange(batch.tokens, elements: batch.count * rowTokens, limit: split.vocabSize, what: "token id")
            try checkRange(batch.targets, elements: batch.count * rowTokens, limit: split.vocabSize, what: "target id")
        }
    }

    // MARK: - Checkpoints

    private func checkCheckpoint(_ path: String) throws -> String {
        let reader = try CheckpointReader(path: path)
        let config = try RunConfig(yaml: reader.configText, label: path + ":/config")
        let table = ParameterTable.flowformer(config.model)
        let buffer = Tensor<Float>(shape: [table.count])   // [P], laid out by `table`
        let bytes = UnsafeRawBufferPointer(start: buffer.pointer, count: table.count * MemoryLayout<Float>.stride)

        try reader.readParameters(table: table, into: buffer.pointer)
        var digests = ["model=" + hex(CRC32.checksum(bytes))]
        // As a resume does: every state buffer the configured optimizer needs must be stored.
        let optimizer = config.train.makeOptimizer(table: table)
        try reader.readOptimizerState(into: optimizer, optimizerName: config.train.optimizer.rawValue, table: table)
        for state in optimizer.stateBuffers {
            digests.append("\(state.name)=" + hex(CRC32.checksum(UnsafeRawBufferPointer(state.buffer.buffer))))
        }
        let configCRC = Array(reader.configText.utf8).withUnsafeBytes { CRC32.checksum($0) }
        let data = try reader.readDataRecord().map { hex($0.checksum()) } ?? "none"
        return ([reader.trainer.summary, "config=" + hex(configCRC), "data=" + data] + digests).joined(separator: " ")
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// A file that loaded but whose values broke a guarantee of the loaders: a bug, not bad input.
private struct InvalidValue: Error {
    let message: String
}
