import TensorKernels
import HDF5IO
#if canImport(Glibc)
import Glibc
#endif

/// Writes one checkpoint file atomically (docs/FORMATS.md, "Checkpoint files").
///
/// The file is written under a temporary name in the destination directory, closed, fsynced,
/// renamed to its final name and the directory fsynced: after a crash at any point the final
/// name either holds a complete checkpoint or does not exist. Temporary files start with `.`
/// and end in `.tmp`, so a listing never mistakes one for a checkpoint.
///
/// Layout:
///
///     /model/<name>                         float32, shape from the parameter table
///     /optimizer/<name>/<state>             float32, e.g. exp_avg and exp_avg_sq (AdamW)
///     /trainer                              group; format_version, rng, `TrainerState.fields`, crc32
///     /trainer/gradient_exponents           int32 [tensors], only for train.deterministic runs: the
///                                           fixed-point exponent of each parameter tensor's gradient
///                                           sum for the next step (table order)
///     /config                               the resolved run configuration (YAML text, a UTF-8 string)
///     /data, /data/shard-<i>                what the run trains on (`TrainingDataRecord`): the split's
///                                           sample count, each shard's name, rows, kind attributes,
///                                           layout and fingerprint; crc32 over them (absent in files
///                                           written before the record existed)
///
/// Every dataset carries the attribute `crc32`: the CRC-32 of its raw little-endian bytes (for
/// `/config`, of its UTF-8 bytes). `/trainer` carries one over its attributes
/// (`TrainerState.attributeChecksum`).
public enum CheckpointWriter {
    public static let formatVersion = 1
    /// The dataset under `/trainer` holding a deterministic run's gradient exponents.
    public static let gradientExponentsName = "gradient_exponents"

    /// Writes `checkpoint-<step>.h5` into `directory` and returns its path.
    ///
    /// - Parameters:
    ///   - parameters: the model's parameter buffer, laid out by `table`.
    ///   - optimizerStates: each optimizer state buffer (same layout as `parameters`) by name.
    ///   - gradientExponents: one per table entry, for deterministic runs; nil otherwise.
    ///   - dataRecord: what the run trains on, stored as `/data`; nil writes none.
    ///   - beforeRename: called once the temporary file is complete and synced (fault-injection
    ///     tests kill the process there).
    ///   - fetchOptimizerState: when given, the values of state `name` of `entry` come from it
    ///     (`[entry.count]`, valid until the next call) instead of `buffer + entry.offset`: a
    ///     sharded optimizer state gathers them entry by entry, in the order the file is written
    ///     (every entry in table order, its states in `optimizerStates` order).
    public static func write(
        directory: String, table: ParameterTable,
        parameters: UnsafePointer<Float>,
        optimizerStates: [(name: String, buffer: UnsafePointer<Float>)],
        trainer: TrainerState, configText: String,
        gradientExponents: [Int]? = nil,
        dataRecord: TrainingDataRecord? = nil,
        beforeRename: (() -> Void)? = nil,
        fetchOptimizerState: ((_ name: String, _ entry: ParameterEntry) throws -> UnsafePointer<Float>)? = nil
    ) throws -> String {
        let finalPath = directory + "/" + CheckpointDirectory.fileName(step: trainer.step)
        let temporaryPath = directory + "/." + CheckpointDirectory.fileName(step: trainer.step)
            + ".\(getpid()).tmp"
        do {
            try writeFile(path: temporaryPath, table: table, parameters: parameters,
                          optimizerStates: optimizerStates, trainer: trainer, configText: configText,
                          gradientExponents: gradientExponents, dataRecord: dataRecord,
                          fetchOptimizerState: fetchOptimizerState)
            try fsyncPath(temporaryPath, directory: false)
            beforeRename?()
            if rename(temporaryPath, finalPath) != 0 {
                throw CheckpointError(path: finalPath, "rename from \(temporaryPath) failed: \(errnoText())")
            }
            try fsyncPath(directory, directory: true)
        } catch {
            // Truncate before unlinking: after a failed write HDF5 may keep its descriptor of the
            // temporary file open, which would keep the partial file's blocks allocated (a full
            // disk would stay full, and a retry at the next checkpoint fail for that alone).
            truncate(temporaryPath, 0)
            unlink(temporaryPath)
            if let error = error as? CheckpointError { throw error }
            throw CheckpointError(path: finalPath, "not written (\(error)); earlier checkpoints are untouched")
        }
        return finalPath
    }

    private static func writeFile(
        path: String, table: ParameterTable, parameters: UnsafePointer<Float>,
        optimizerStates: [(name: String, buffer: UnsafePointer<Float>)],
        trainer: TrainerState, configText: String, gradientExponents: [Int]?, dataRecord: TrainingDataRecord?,
        fetchOptimizerState: ((_ name: String, _ entry: ParameterEntry) throws -> UnsafePointer<Float>)?
    ) throws {
        let file = try HDF5File(path: path, mode: .truncate)
        let model = try file.root.createGroup("model")
        for entry in table.entries {
            try writeChecksummed(model, entry.name, shape: entry.shape, values: parameters + entry.offset)
        }
        let optimizer = try file.root.createGroup("optimizer")
        for entry in table.entries where !optimizerStates.isEmpty {
            let group = try optimizer.createGroup(entry.name)
            for state in optimizerStates {
                let values = try fetchOptimizerState?(state.name, entry) ?? state.buffer + entry.offset
                try writeChecksummed(group, state.name, shape: entry.shape, values: values)
            }
        }
        let attributes = try file.root.createGroup("trainer")
        try attributes.setAttribute("format_version", Int64(formatVersion))
        for field in TrainerState.fields {
            let word = field.word(trainer)
            switch field.type {
            case .int64: try attributes.setAttribute(field.key, Int64(bitPattern: word))
            case .float64: try attributes.setAttribute(field.key, Double(bitPattern: word))
            }
        }
        try attributes.setAttribute("rng", string: "counter-based, keyed by (seed, epoch, step, sample index); no other state")
        try attributes.setAttribute("crc32", Int64(trainer.attributeChecksum(formatVersion: formatVersion)))
        if let gradientExponents {
            precondition(gradientExponents.count == table.entries.count, "one gradient exponent per parameter tensor")
            let values = gradientExponents.map { Int32(clamping: $0) }   // [tensors]
            let dataset = try attributes.createDataset(gradientExponentsName, of: Int32.self, shape: [values.count])
            try dataset.write(values)
            try dataset.setAttribute("crc32", Int64(values.withUnsafeBytes { CRC32.checksum($0) }))
        }
        try file.root.setAttribute("format_version", Int64(formatVersion))
        try file.root.setAttribute("kind", string: "flowformer-checkpoint")

        let config = try file.root.createStringDataset("config", string: configText)
        let crc = Array(configText.utf8).withUnsafeBytes { CRC32.checksum($0) }
        try config.setAttribute("crc32", Int64(crc))
        if let dataRecord { try write(dataRecord, into: file.root) }
        try file.flush()
    }

    private static func writeChecksummed(_ group: HDF5Group, _ name: String, shape: [Int],
                                         values: UnsafePointer<Float>) throws {
        let count = shape.reduce(1, *)
        let dataset = try group.createDataset(name, of: Float.self, shape: shape)
        try dataset.write(UnsafeBufferPointer(start: values, count: count))
        let crc = CRC32.checksum(UnsafeRawBufferPointer(start: values, count: count * MemoryLayout<Float>.stride))
        try dataset.setAttribute("crc32", Int64(crc))
    }

    /// Flushes a file's (or a directory's) contents to stable storage.
    static func fsyncPath(_ path: String, directory: Bool) throws {
        let fd = open(path, directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY)
        if fd < 0 { throw CheckpointError(path: path, "cannot open for fsync: \(errnoText())") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw CheckpointError(path: path, "fsync failed: \(errnoText())") }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
