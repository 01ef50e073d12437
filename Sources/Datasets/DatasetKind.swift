/// What a dataset file holds (its root attribute `kind`, docs/FORMATS.md, "Dataset files").
public enum DatasetKind: String, Sendable, CaseIterable {
    /// `images` uint8 [N, H, W(, C)] and `labels` integer [N]; attributes `num_classes`, optional
    /// `mean` / `std` per channel on the 0–1 scale.
    case images
    /// `tokens` integer [N, L] and `labels` integer [N]; attributes `vocab_size`, `num_classes`.
    case sequences
    /// `tokens` integer [T], one stream; attribute `vocab_size`. Sample k is the window
    /// tokens[k·L ..< k·L + L + 1].
    case tokens

    /// The datasets every file of this kind must have, in the order they are checked.
    var requiredDatasets: [String] {
        switch self {
        case .images: return ["images", "labels"]
        case .sequences: return ["tokens", "labels"]
        case .tokens: return ["tokens"]
        }
    }
}

/// The file format version this reader understands (root attribute `format_version`).
public let datasetFormatVersion: Int64 = 1
