import Foundation

/// What one shard file of a split is, as far as training on it goes: its name, its row count,
/// the kind's attributes, its layout and a content fingerprint (`ShardFingerprint`). A
/// checkpoint records one per training shard, so a resumed run can tell whether its data is
/// still the data its saved position refers to (docs/FORMATS.md, "Training data record").
public struct ShardIdentity: Sendable, Equatable {
    /// The path as configured (a glob expanded).
    public let path: String
    /// Rows of the primary dataset: N samples (images, sequences) or T tokens.
    public let rows: Int
    public let kind: DatasetKind
    /// The kind's root attributes as text, e.g. `format_version=1 num_classes=10 mean=[0.286] std=[0.353]`.
    public let attributes: String
    /// Datasets, dtypes and shapes in fingerprint order, e.g. `images uint8 [60000, 28, 28]; labels uint8 [60000]`.
    public let layout: String
    public let fingerprint: UInt64

    /// The file's base name.
    public var fileName: String { (path as NSString).lastPathComponent }
}

extension DatasetSplit {
    /// One identity per shard file, in the order their rows are concatenated. Reads at most
    /// `ShardFingerprint.blockCount` blocks per dataset of each file (a few MiB per shard, whatever
    /// its size): meant to run once when a run starts, never in the training loop.
    public func shardIdentities() throws -> [ShardIdentity] {
        let attributeText = rootAttributesText
        return try primary.shards.indices.map { index in
            var datasets = [(name: primary.name, dataset: primary.shards[index].dataset)]
            if let labels { datasets.append((labels.name, labels.shards[index].dataset)) }
            if let lengths { datasets.append((lengths.name, lengths.shards[index].dataset)) }
            let layout = datasets.map { "\($0.name) \($0.dataset.elementType) \($0.dataset.shape)" }
                .joined(separator: "; ")
            let file = primary.shards[index].file
            return ShardIdentity(path: file, rows: primary.shards[index].rowCount, kind: kind,
                                 attributes: attributeText, layout: layout,
                                 fingerprint: try ShardFingerprint.compute(layout: layout, datasets: datasets, file: file))
        }
    }

    /// The kind's root attributes (the same in every shard: `open` checks it), as `key=value` words.
    private var rootAttributesText: String {
        var words = ["format_version=\(datasetFormatVersion)"]
        if kind != .tokens { words.append("num_classes=\(numClasses)") }
        if kind != .images { words.append("vocab_size=\(vocabSize)") }
        if kind == .images {
            words.append("mean=[" + mean.map { "\($0)" }.joined(separator: ", ") + "]")
            words.append("std=[" + std.map { "\($0)" }.joined(separator: ", ") + "]")
        }
        return words.joined(separator: " ")
    }
}
