/// What a run was trained on, as a checkpoint records it in `/data` (docs/FORMATS.md, "Training
/// data record"): the training split's sample count at the run's sequence length and one entry
/// per shard file, in `data.train` order. A resumed run compares it with its data: the saved
/// position (epoch, batch) names samples by their index in that split.
///
/// Stored as attributes (`/data` for the split, `/data/shard-<index, 5 digits>` for each shard),
/// each described once in `splitFields` / `shardFields`; the writer, the reader, the `crc32` over
/// them and the `inspect` lines iterate those tables.
public struct TrainingDataRecord: Sendable, Equatable {
    /// One shard file.
    public struct Shard: Sendable, Equatable {
        /// Base name of the file.
        public var file = ""
        /// The path as configured (a glob expanded).
        public var path = ""
        /// Rows of the primary dataset: N samples (images, sequences) or T tokens.
        public var rows = 0
        /// The file's `kind` attribute: images, sequences or tokens.
        public var kind = ""
        /// The kind's root attributes, `key=value` words (`format_version=1 vocab_size=256`).
        public var attributes = ""
        /// Datasets, dtypes and shapes (`tokens uint8 [4351234]`).
        public var layout = ""
        /// The content fingerprint, 16 hexadecimal digits (Datasets' `ShardFingerprint`).
        public var fingerprint = ""

        public init(file: String, path: String, rows: Int, kind: String, attributes: String, layout: String,
                    fingerprint: String) {
            self.file = file
            self.path = path
            self.rows = rows
            self.kind = kind
            self.attributes = attributes
            self.layout = layout
            self.fingerprint = fingerprint
        }

        init() {}
    }

    /// Samples of the whole split at `sequenceLength`: N, or ⌊(T − 1) / L⌋ windows of a token stream.
    public var samples = 0
    /// L of the run (0 for images): the windows `samples` counts.
    public var sequenceLength = 0
    /// The fingerprint's definition (`ShardFingerprint.scheme`); fingerprints of different
    /// schemes are not compared.
    public var fingerprintScheme = ""
    public var shards: [Shard] = []

    public init(samples: Int, sequenceLength: Int, fingerprintScheme: String, shards: [Shard]) {
        self.samples = samples
        self.sequenceLength = sequenceLength
        self.fingerprintScheme = fingerprintScheme
        self.shards = shards
    }

    init() {}

    /// The version of this record's layout (`/data` attribute `format_version`).
    public static let formatVersion = 1
    /// The group holding the record.
    public static let groupName = "data"

    /// `/data/shard-00000`, … (at least 5 digits).
    static func shardGroupName(_ index: Int) -> String {
        let digits = String(index)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// Attributes of `/data`, in checksum order (`format_version` and `shards`, the count, are
    /// written before them).
    public static let splitFields: [DataRecordField<TrainingDataRecord>] = [
        .integer("samples", \.samples),
        .integer("sequence_length", \.sequenceLength),
        .string("fingerprint", \.fingerprintScheme),
    ]

    /// Attributes of each `/data/shard-<i>`, in checksum order.
    public static let shardFields: [DataRecordField<Shard>] = [
        .string("file", \.file),
        .string("path", \.path),
        .integer("rows", \.rows),
        .string("kind", \.kind),
        .string("attributes", \.attributes),
        .string("layout", \.layout),
        .string("fingerprint", \.fingerprint),
    ]

    /// The CRC-32 stored as `/data`'s `crc32`: of `format_version` and the shard count, then the
    /// split's fields and every shard's fields in table order; an integer as its 8-byte
    /// little-endian two's complement, a string as its UTF-8 byte count (8 bytes, little-endian)
    /// followed by its UTF-8 bytes.
    public func checksum(formatVersion: Int = TrainingDataRecord.formatVersion) -> UInt32 {
        var crc = CRC32()
        func add(_ value: DataRecordValue) {
            switch value {
            case .integer(let number):
                withUnsafeBytes(of: Int64(number).littleEndian) { crc.update($0) }
            case .string(let text):
                let bytes = Array(text.utf8)
                withUnsafeBytes(of: Int64(bytes.count).littleEndian) { crc.update($0) }
                bytes.withUnsafeBytes { crc.update($0) }
            }
        }
        add(.integer(formatVersion))
        add(.integer(shards.count))
        for field in Self.splitFields { add(field.get(self)) }
        for shard in shards {
            for field in Self.shardFields { add(field.get(shard)) }
        }
        return crc.value
    }

    /// The record as indented lines (`inspect`): the split's fields, then one line per shard.
    public var lines: [String] {
        var lines = ["samples \(samples) (sequence length \(sequenceLength)), \(shards.count) shard(s), fingerprint \(fingerprintScheme)"]
        for (index, shard) in shards.enumerated() {
            lines.append("shard \(index): " + Self.shardFields.map { "\($0.key)=\($0.get(shard).text)" }.joined(separator: " "))
        }
        return lines
    }
}

/// A value of the data record as stored: an int64 or a UTF-8 string attribute.
public enum DataRecordValue: Sendable, Equatable {
    case integer(Int)
    case string(String)

    /// The value for people.
    public var text: String {
        switch self {
        case .integer(let number): return String(number)
        case .string(let text): return text.contains(" ") || text.isEmpty ? "\"\(text)\"" : text
        }
    }
}

/// One attribute of the data record: its name and how it maps onto the value type `Root`.
public struct DataRecordField<Root>: Sendable {
    public let key: String
    /// Whether it is stored as int64 (else as a string).
    let isInteger: Bool
    public let get: @Sendable (Root) -> DataRecordValue
    let set: @Sendable (inout Root, DataRecordValue) -> Void

    static func integer(_ key: String, _ path: WritableKeyPath<Root, Int> & Sendable) -> Self {
        Self(key: key, isInteger: true, get: { .integer($0[keyPath: path]) },
             set: { root, value in if case .integer(let number) = value { root[keyPath: path] = number } })
    }

    static func string(_ key: String, _ path: WritableKeyPath<Root, String> & Sendable) -> Self {
        Self(key: key, isInteger: false, get: { .string($0[keyPath: path]) },
             set: { root, value in if case .string(let text) = value { root[keyPath: path] = text } })
    }
}
