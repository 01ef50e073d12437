/// One named parameter inside the model's single parameter buffer.
///
/// `name` is the PyTorch `state_dict` name (docs/FORMATS.md, "Parameter names") (e.g. `blocks.0.attn.query.weight`),
/// `shape` is row-major, and the values are `parameters[offset ..< offset + count]`.
public struct ParameterEntry: Sendable, Equatable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    /// Whether AdamW applies decoupled weight decay to it: Linear weights only — not biases,
    /// LayerNorm parameters, token/patch embeddings' position tables or embeddings.
    public let decays: Bool

    public init(name: String, offset: Int, shape: [Int], decays: Bool) {
        self.name = name
        self.offset = offset
        self.shape = shape
        self.decays = decays
    }

    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset ..< offset + count }
}

/// The layout of the single parameter buffer (and of the gradient and optimizer-moment buffers,
/// which share it): entries in layer order, contiguous, with no gaps.
///
/// Ordering by layer means the gradients of one block are one contiguous slice, which the
/// trainer can all-reduce as soon as that block's backward finishes.
public struct ParameterTable: Sendable, Equatable {
    public private(set) var entries: [ParameterEntry] = []
    public private(set) var count: Int = 0

    public init() {}

    /// Appends a parameter after the last one and returns its entry.
    @discardableResult
    public mutating func append(_ name: String, shape: [Int], decays: Bool) -> ParameterEntry {
        precondition(!entries.contains { $0.name == name }, "duplicate parameter name \(name)")
        let entry = ParameterEntry(name: name, offset: count, shape: shape, decays: decays)
        entries.append(entry)
        count += entry.count
        return entry
    }

    public subscript(name: String) -> ParameterEntry? { entries.first { $0.name == name } }
}
