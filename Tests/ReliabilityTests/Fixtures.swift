import Checkpoints
import FlowModel
import Foundation
import HDF5IO
import TensorKernels

/// An `images` dataset file as docs/FORMATS.md, "Dataset files" and the packers lay it out: root attributes `kind`,
/// `format_version`, `num_classes`, per-channel `mean`/`std`; `images` uint8 [N, H, W, C] and
/// `labels` uint8 [N], both chunked along the first axis and gzip-compressed (level 4, as
/// `datasets/packers/h5write.py`). Pixels are seeded random bytes, so the compressed chunks fill
/// most of the file; labels are seeded in 0..<numClasses.
struct ImageDatasetFixture {
    var samples = 160
    var height = 8, width = 8, channels = 3
    var numClasses = 10
    var chunkRows = 16
    var seed: UInt64 = 7

    func write(to path: String) throws {
        let random = CounterRandom(seed: seed, stream: 1)
        let pixelCount = samples * height * width * channels
        let pixels = (0 ..< pixelCount).map { UInt8(truncatingIfNeeded: random.word(at: UInt64($0))) }   // [N, H, W, C]
        let labels = (0 ..< samples).map { UInt8(random.word(at: UInt64(pixelCount + $0)) % UInt32(numClasses)) }   // [N]

        let file = try HDF5File(path: path, mode: .truncate)
        let root = file.root
        try root.setAttribute("kind", string: "images")
        try root.setAttribute("format_version", Int64(1))
        try root.setAttribute("num_classes", Int64(numClasses))
        try root.setAttribute("mean", array: [0.5, 0.45, 0.4].prefix(channels).map { $0 })
        try root.setAttribute("std", array: [0.25, 0.3, 0.35].prefix(channels).map { $0 })
        try root.createDataset("images", of: UInt8.self, shape: [samples, height, width, channels],
                               chunkRows: chunkRows, gzipLevel: 4).write(pixels)
        try root.createDataset("labels", of: UInt8.self, shape: [samples],
                               chunkRows: 64, gzipLevel: 4).write(labels)
        try file.close()
    }
}

/// A checkpoint of a tiny language model (d_model 8, 2 heads, 1 block, ff 16, seq_len 8,
/// vocab 16), written by `CheckpointWriter` with seeded parameters and AdamW moments, a training
/// data record and a configuration text that `RunConfig(yaml:)` accepts, so `check-file` can rebuild the
/// parameter table from the file as training does on resume.
struct CheckpointFixture {
    static let configText = """
        model:
          kind: lm
          attention: flow
          d_model: 8
          heads: 2
          layers: 1
          ff: 16
          seq_len: 8
          vocab_size: 16
        data:
          train: unused-train.h5
        train:
          global_batch: 4
          micro_batch: 2
          steps: 100
          warmup_steps: 10
        checkpoint:
          dir: unused-run

        """

    static var modelConfig: ModelConfig {
        var config = ModelConfig()
        config.kind = .lm
        config.attention = .flow
        config.dModel = 8
        config.heads = 2
        config.layers = 1
        config.ff = 16
        config.seqLen = 8
        config.vocabSize = 16
        return config
    }

    let table = ParameterTable.flowformer(CheckpointFixture.modelConfig)
    let parameters: [Float]   // [P], laid out by `table`
    let expAvg: [Float]       // [P]
    let expAvgSq: [Float]     // [P]
    let trainer: TrainerState
    /// What the run "trained on": two token shards (the record `/data` holds).
    let dataRecord = TrainingDataRecord(
        samples: 61, sequenceLength: 8, fingerprintScheme: "v1: fixture",
        shards: [
            .init(file: "train-0.h5", path: "shards/train-0.h5", rows: 300, kind: "tokens",
                  attributes: "format_version=1 vocab_size=16", layout: "tokens uint8 [300]", fingerprint: "0123456789abcdef"),
            .init(file: "train-1.h5", path: "shards/train-1.h5", rows: 190, kind: "tokens",
                  attributes: "format_version=1 vocab_size=16", layout: "tokens uint8 [190]", fingerprint: "fedcba9876543210"),
        ])

    init(seed: UInt64 = 11, step: Int = 12) {
        let count = table.count
        let random = CounterRandom(seed: seed, stream: 2)
        parameters = (0 ..< count).map { Float(random.normal(at: UInt64($0)) * 0.02) }
        expAvg = (0 ..< count).map { Float(random.normal(at: UInt64(count + $0)) * 1e-3) }
        expAvgSq = (0 ..< count).map { Float(random.uniformDouble(at: UInt64(2 * count + $0)) * 1e-6) }
        var state = TrainerState()
        state.step = step
        state.epoch = 2
        state.batchInEpoch = 7
        state.samplesSeen = 48
        state.seed = 0xDEAD_BEEF
        state.worldSize = 2
        state.validationLoss = 2.5
        state.bestValidationLoss = 2.25
        state.bestStep = 8
        trainer = state
    }

    /// Writes `checkpoint-<step>.h5` into `directory` and returns its path.
    func write(into directory: String) throws -> String {
        try parameters.withUnsafeBufferPointer { p in
            try expAvg.withUnsafeBufferPointer { m in
                try expAvgSq.withUnsafeBufferPointer { v in
                    try CheckpointWriter.write(directory: directory, table: table, parameters: p.baseAddress!,
                                               optimizerStates: [("exp_avg", m.baseAddress!), ("exp_avg_sq", v.baseAddress!)],
                                               trainer: trainer, configText: CheckpointFixture.configText,
                                               dataRecord: dataRecord)
                }
            }
        }
    }

    /// The byte ranges of a checkpoint file that hold the raw values of its parameter and moment
    /// datasets (found by searching the file for each entry's little-endian float bytes).
    func rawDataRanges(in file: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        for buffer in [parameters, expAvg, expAvgSq] {
            for entry in table.entries {
                let needle = buffer[entry.range].withUnsafeBytes { Array($0) }
                ranges += occurrences(of: needle, in: file)
            }
        }
        return ranges
    }

    /// The CRC-32 of a buffer's bytes as `check-file` prints it (8 hex digits).
    static func crcHex(_ values: [Float]) -> String {
        let digits = String(values.withUnsafeBytes { CRC32.checksum($0) }, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
