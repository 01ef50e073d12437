import TensorKernels
import HDF5IO

/// An opened checkpoint file (docs/FORMATS.md, "Checkpoint files"), read in two phases: first the trainer state and the run
/// configuration (which decides the architecture), then the buffers into a model built from it.
/// Every dataset's `crc32` is verified as it is read, and `/trainer`'s over its attributes.
public final class CheckpointReader {
    public let path: String
    public let trainer: TrainerState
    public let configText: String
    let file: HDF5File

    public init(path: String) throws {
        self.path = path
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch {
            throw CheckpointError(path: path, "cannot open: \(error)")
        }
        let group: HDF5Group
        do { group = try file.root.group("trainer") } catch {
            throw CheckpointError(path: path, "no /trainer group: not a checkpoint of this trainer")
        }
        let version: Int64
        do { version = try group.attribute("format_version", as: Int64.self) } catch {
            throw CheckpointError(path: path, "/trainer is missing attribute format_version")
        }
        guard version == CheckpointWriter.formatVersion else {
            throw CheckpointError(path: path, "/trainer format_version \(version) is not supported (this trainer reads \(CheckpointWriter.formatVersion))")
        }
        var state = TrainerState()
        for field in TrainerState.fields {
            let word: UInt64
            do {
                switch field.type {
                case .int64: word = UInt64(bitPattern: try group.attribute(field.key, as: Int64.self))
                case .float64: word = try group.attribute(field.key, as: Double.self).bitPattern
                }
            } catch {
                throw CheckpointError(path: path, "/trainer is missing attribute \(field.key)")
            }
            field.assign(&state, word)
        }
        let storedChecksum: Int64
        do { storedChecksum = try group.attribute("crc32", as: Int64.self) } catch {
            throw CheckpointError(path: path, "/trainer has no crc32 attribute")
        }
        let checksum = state.attributeChecksum(formatVersion: Int(version))
        guard storedChecksum == Int64(checksum) else {
            throw CheckpointError(path: path, "/trainer attributes are corrupted: their crc32 is \(String(checksum, radix: 16)), the file records \(String(UInt32(truncatingIfNeeded: storedChecksum), radix: 16))")
        }
        guard state.step >= 0, state.epoch >= 0, state.batchInEpoch >= 0, state.samplesSeen >= 0 else {
            throw CheckpointError(path: path, "/trainer holds a negative position (step \(state.step), epoch \(state.epoch), batch \(state.batchInEpoch))")
        }
        trainer = state

        let text: String
        let config: HDF5Dataset
        do {
            config = try file.root.dataset("config")
            text = try config.readString()
        } catch {
            throw CheckpointError(path: path, "/config is missing or not a string: \(error)")
        }
        try CheckpointReader.verify(Array(text.utf8).withUnsafeBytes { CRC32.checksum($0) }, of: config,
                                    named: "/config", path: path)
        configText = text
    }

    /// Reads `/model/<name>` for every entry of `table` into `parameters` (laid out by `table`).
    public func readParameters(table: ParameterTable, into parameters: UnsafeMutablePointer<Float>) throws {
        for entry in table.entries {
            try readChecksummed("model/" + entry.name, shape: entry.shape, into: parameters + entry.offset)
        }
        try rejectExtraMembers(group: "model", expected: Set(table.entries.map(\.name)))
    }

    /// Reads `/optimizer/<name>/<state>` for every entry into `buffer` (laid out by `table`).
    public func readOptimizerState(_ state: String, table: ParameterTable,
                                   into buffer: UnsafeMutablePointer<Float>) throws {
        for entry in table.entries {
            try readChecksummed("optimizer/" + entry.name + "/" + state, shape: entry.shape,
                                into: buffer + entry.offset)
        }
    }

    /// Reads `/optimizer/<entry.name>/<state>` into `values` (`[entry.count]`), for a sharded
    /// optimizer state restored entry by entry.
    public func readOptimizerState(_ state: String, entry: ParameterEntry,
                                   into values: UnsafeMutablePointer<Float>) throws {
        try readChecksummed("optimizer/" + entry.name + "/" + state, shape: entry.shape, into: values)
    }

    /// `/trainer/gradient_exponents` (a deterministic run's fixed-point exponents, one per
    /// tensor of `table`), or nil when the checkpoint has none.
    public func readGradientExponents(table: ParameterTable) throws -> [Int]? {
        let name = "trainer/" + CheckpointWriter.gradientExponentsName
        guard file.root.exists(name) else { return nil }
        do {
            let dataset = try file.root.dataset(name)
            guard dataset.shape == [table.entries.count] else {
                throw CheckpointError(path: path, "/\(name) has shape \(dataset.shape), the model has \(table.entries.count) tensors")
            }
            try dataset.requireType([.int32])
            let values = try dataset.read(as: Int32.self)
            try CheckpointReader.verify(values.withUnsafeBytes { CRC32.checksum($0) }, of: dataset, named: "/" + name, path: path)
            return values.map(Int.init)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: path, "/\(name) unreadable: \(error)")
        }
    }

    /// Names of the optimizer state buffers stored for the first parameter (e.g. exp_avg, exp_avg_sq).
    public func optimizerStateNames(table: ParameterTable) throws -> [String] {
        guard let first = table.entries.first else { return [] }
        let path = "optimizer/" + first.name
        guard file.root.exists(path) else { return [] }
        return try file.root.group(path).memberNames()
    }

    /// Reads every dataset under `/model` and `/optimizer` and verifies its crc32, without a
    /// parameter table (names and shapes as stored), and the training data record's (`/data`).
    /// `CheckpointDirectory.newestLoadable` runs it before choosing a file, so a checkpoint whose
    /// values were damaged after it was written (a bad disk, a torn copy) is skipped like one
    /// whose header was, instead of being chosen and then failing the resume.
    public func verifyChecksums() throws {
        do {
            guard file.root.exists("model") else {
                throw CheckpointError(path: path, "no /model group: not a checkpoint of this trainer")
            }
            var names = try file.root.group("model").memberNames().map { "model/" + $0 }
            if file.root.exists("optimizer") {
                for parameter in try file.root.group("optimizer").memberNames() {
                    names += try file.root.group("optimizer/" + parameter).memberNames()
                        .map { "optimizer/\(parameter)/\($0)" }
                }
            }
            for name in names {
                let shape = try file.root.dataset(name).shape
                var values = [Float](repeating: 0, count: shape.reduce(1, *))   // [shape]
                try values.withUnsafeMutableBufferPointer { buffer in
                    try readChecksummed(name, shape: shape, into: buffer.baseAddress!)
                }
            }
            _ = try readDataRecord()
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: path, "unreadable: \(error)")
        }
    }

    private func readChecksummed(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard file.root.exists(name) else {
            throw CheckpointError(path: path, "/\(name) is missing (the checkpoint is of another architecture or optimizer)")
        }
        let dataset = try file.root.dataset(name)
        guard dataset.shape == shape else {
            throw CheckpointError(path: path, "/\(name) has shape \(dataset.shape), the model expects \(shape)")
        }
        do {
            try dataset.requireType([.float32])
            let count = shape.reduce(1, *)
            try dataset.read(into: UnsafeMutableBufferPointer(start: destination, count: count))
            let crc = CRC32.checksum(UnsafeRawBufferPointer(start: destination, count: count * MemoryLayout<Float>.stride))
            try CheckpointReader.verify(crc, of: dataset, named: "/" + name, path: path)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: path, "/\(name) unreadable: \(error)")
        }
    }

    private func rejectExtraMembers(group: String, expected: Set<String>) throws {
        // Parameter names contain dots, not slashes, so /model is flat.
        let names = try file.root.group(group).memberNames()
        if let extra = names.first(where: { !expected.contains($0) }) {
            throw CheckpointError(path: path, "/\(group)/\(extra) is not a parameter of the configured model")
        }
    }

    private static func verify(_ crc: UInt32, of dataset: HDF5Dataset, named name: String, path: String) throws {
        let stored: Int64
        do { stored = try dataset.attribute("crc32", as: Int64.self) } catch {
            throw CheckpointError(path: path, "\(name) has no crc32 attribute")
        }
        guard stored == Int64(crc) else {
            throw CheckpointError(path: path, "\(name) is corrupted: crc32 of its data is \(String(crc, radix: 16)), the file records \(String(UInt32(truncatingIfNeeded: stored), radix: 16))")
        }
    }
}
