/// Where training stands: everything besides parameters and optimizer moments that a resumed
/// run needs to continue at exactly the same global sample. Stored as attributes of `/trainer`;
/// `TrainerState.fields` describes each one once.
public struct TrainerState: Sendable, Equatable {
    /// Optimizer steps done.
    public var step: Int = 0
    /// Epoch of the next global batch, and that batch's index within the epoch.
    public var epoch: Int = 0
    public var batchInEpoch: Int = 0
    /// Training samples consumed so far (step × global batch).
    public var samplesSeen: Int = 0
    /// The run's seed: initialisation, data order, dropout and augmentation are all keyed by it
    /// (counter-based generators, so the seed and the position above are the whole RNG state).
    public var seed: UInt64 = 0
    /// Ranks of the run that wrote the checkpoint (informational: any world size may resume).
    public var worldSize: Int = 1
    /// The validation metric (lower is better: the validation loss) measured at `step`, if any.
    public var validationLoss: Double? = nil
    /// The best validation loss seen so far in the run and the step it was measured at.
    public var bestValidationLoss: Double? = nil
    public var bestStep: Int? = nil

    public init() {}
}

extension TrainerState {
    /// Every field of the state, in the order of the `/trainer` checksum. The checkpoint writer
    /// and reader, the attribute checksum, the broadcast from rank 0 and the `inspect` /
    /// `check-file` summaries all iterate this table, so a new field is one line here (and a new
    /// `CheckpointWriter.formatVersion`, since older files lack its attribute).
    public static let fields: [TrainerStateField] = [
        .integer("step", \.step),
        .integer("epoch", \.epoch),
        .integer("batch_in_epoch", \.batchInEpoch),
        .integer("samples_seen", \.samplesSeen),
        .unsigned("seed", \.seed),
        .integer("world_size", \.worldSize),
        .integer("best_step", \.bestStep),
        .real("validation_loss", \.validationLoss),
        .real("best_validation_loss", \.bestValidationLoss),
    ]

    /// The CRC-32 stored as `/trainer`'s `crc32` attribute: of the little-endian 8-byte words of
    /// `format_version` and then of every field in table order (an integer as its two's-complement
    /// Int64, a real as its IEEE bit pattern; absent values as −1 and NaN). The attributes live in
    /// an object header that HDF5 does not checksum; without this a flipped bit would resume at
    /// another step or sample silently.
    func attributeChecksum(formatVersion: Int) -> UInt32 {
        var crc = CRC32()
        for word in [UInt64(bitPattern: Int64(formatVersion))] + Self.fields.map({ $0.word(self) }) {
            withUnsafeBytes(of: word.littleEndian) { crc.update($0) }
        }
        return crc.value
    }

    /// The state as one line of text (each field's 64-bit word in decimal, in table order), for
    /// rank 0 to broadcast; `init(broadcastText:)` reads it back bit for bit.
    public var broadcastText: String {
        Self.fields.map { String($0.word(self)) }.joined(separator: " ")
    }

    public init?(broadcastText text: String) {
        let words = text.split(separator: " ").compactMap { UInt64($0) }
        guard words.count == Self.fields.count else { return nil }
        self.init()
        for (field, word) in zip(Self.fields, words) { field.assign(&self, word) }
    }

    /// `key=value` for every field, in table order (`check-file`, `inspect`); an absent value is `-`.
    public var summary: String {
        Self.fields.map { "\($0.key)=\($0.text(self))" }.joined(separator: " ")
    }
}

/// One field of `TrainerState` as a checkpoint stores it: the attribute `/trainer/<key>`, of
/// HDF5 type int64 or float64, and how it maps onto the state as a 64-bit word.
public struct TrainerStateField: Sendable {
    public enum StoredType: String, Sendable {
        case int64, float64
    }

    /// Attribute name under `/trainer`.
    public let key: String
    public let type: StoredType
    /// The stored value's bits: an Int64's two's complement, or a Double's IEEE pattern.
    let word: @Sendable (TrainerState) -> UInt64
    let assign: @Sendable (inout TrainerState, UInt64) -> Void

    /// The value for people: decimal, or `-` for none.
    public let text: @Sendable (TrainerState) -> String

    /// A count stored as int64.
    static func integer(_ key: String, _ path: WritableKeyPath<TrainerState, Int>) -> Self {
        Self(key: key, type: .int64, word: { UInt64(bitPattern: Int64($0[keyPath: path])) },
             assign: { $0[keyPath: path] = Int(Int64(bitPattern: $1)) }, text: { String($0[keyPath: path]) })
    }

    /// An optional count stored as int64, −1 for none.
    static func integer(_ key: String, _ path: WritableKeyPath<TrainerState, Int?>) -> Self {
        Self(key: key, type: .int64, word: { UInt64(bitPattern: Int64($0[keyPath: path] ?? -1)) },
             assign: { let value = Int(Int64(bitPattern: $1)); $0[keyPath: path] = value < 0 ? nil : value },
             text: { $0[keyPath: path].map(String.init) ?? "-" })
    }

    /// A 64-bit unsigned value stored as int64 with the same bits.
    static func unsigned(_ key: String, _ path: WritableKeyPath<TrainerState, UInt64>) -> Self {
        Self(key: key, type: .int64, word: { $0[keyPath: path] }, assign: { $0[keyPath: path] = $1 },
             text: { String($0[keyPath: path]) })
    }

    /// An optional real stored as float64, NaN for none.
    static func real(_ key: String, _ path: WritableKeyPath<TrainerState, Double?>) -> Self {
        Self(key: key, type: .float64, word: { ($0[keyPath: path] ?? .nan).bitPattern },
             assign: { let value = Double(bitPattern: $1); $0[keyPath: path] = value.isNaN ? nil : value },
             text: { $0[keyPath: path].map { "\($0)" } ?? "-" })
    }
}
