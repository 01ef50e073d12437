import Foundation
import HDF5IO

/// One split (train, val or test) of a dataset: one HDF5 file or several shard files with the
/// same layout (docs/FORMATS.md, "Dataset files"), opened and checked.
///
/// `open` checks, before any training starts, everything that would otherwise fail later:
/// files exist and are HDF5; root attributes `kind` and `format_version` = 1; the kind's
/// attributes (`num_classes`, `vocab_size`, `mean`/`std` with one value per channel, std > 0);
/// the kind's datasets exist with integer (images: uint8) dtypes and the right ranks; labels and
/// inputs have the same number of rows; no file is empty; every shard has the same kind, row
/// shape, dtypes and attributes as the first; and (unless `verifyValues` is false) every label is
/// in 0..<num_classes and every token id in 0..<vocab_size, read chunk by chunk. A problem throws a
/// `DatasetError` naming the file, the dataset and the row.
///
/// Rows are read later only as needed, with hyperslabs (`ShardedArray`).
public final class DatasetSplit {
    /// The shard files, in the order their rows are concatenated.
    public let files: [String]
    public let kind: DatasetKind
    /// `num_classes` (images, sequences), 0 for tokens.
    public let numClasses: Int
    /// `vocab_size` (sequences, tokens), 0 for images.
    public let vocabSize: Int
    /// Image extents (images), 0 otherwise. Grey [N, H, W] files have 1 channel.
    public let imageHeight: Int, imageWidth: Int, imageChannels: Int
    /// Per-channel `mean` / `std` on the 0–1 scale (images; 0 and 1 when the file has none).
    public let mean: [Double], std: [Double]
    /// L of a `sequences` file, 0 otherwise (a `tokens` stream's window is chosen by the reader).
    public let fileSequenceLength: Int
    /// Rows of the primary dataset over all shards: N samples (images, sequences) or T tokens.
    public let rowCount: Int

    let primary: ShardedArray     // images [N, H, W(, C)], tokens [N, L] or tokens [T]
    let labels: ShardedArray?     // [N] for images and sequences

    /// Samples for a `tokens` stream read in windows of L+1: ⌊(T − 1) / L⌋; N for the others.
    public func sampleCount(sequenceLength: Int) -> Int {
        precondition(sequenceLength > 0, "sequence length must be positive")
        return kind == .tokens ? max(rowCount - 1, 0) / sequenceLength : rowCount
    }

    /// A short name for messages: the single file, or the first shard and the shard count.
    public var displayName: String {
        files.count == 1 ? files[0] : "\(files[0]) (+\(files.count - 1) more shards)"
    }

    /// Opens one split from a file, a glob pattern (`train-*.h5`) or a list of either.
    public static func open(_ sources: [String], verifyValues: Bool = true) throws -> DatasetSplit {
        let files = try expandSources(sources)
        var opened: [OpenedShard] = []
        for file in files {
            let shard = try OpenedShard(path: file)
            if let first = opened.first { try shard.requireSameLayout(as: first) }
            opened.append(shard)
        }
        let split = DatasetSplit(shards: opened)
        if verifyValues { try split.verifyValueRanges() }
        return split
    }

    /// `open([source])`.
    public static func open(_ source: String, verifyValues: Bool = true) throws -> DatasetSplit {
        try open([source], verifyValues: verifyValues)
    }

    /// The files named by `sources`: each is a path, or a glob pattern expanded in sorted order.
    public static func expandSources(_ sources: [String]) throws -> [String] {
        guard !sources.isEmpty else { throw DatasetError("no dataset files given") }
        var files: [String] = []
        for source in sources {
            if source.contains(where: { "*?[".contains($0) }) {
                let matches = globFiles(source)
                guard !matches.isEmpty else { throw DatasetError("\(source): the pattern matches no file") }
                files += matches
            } else {
                files.append(source)
            }
        }
        return files
    }

    private init(shards: [OpenedShard]) {
        let first = shards[0]
        files = shards.map(\.path)
        kind = first.kind
        numClasses = first.numClasses
        vocabSize = first.vocabSize
        mean = first.mean
        std = first.std
        let primaryName = first.kind == .images ? "images" : "tokens"
        primary = ShardedArray(name: primaryName, datasets: shards.map { ($0.path, $0.datasets[primaryName]!) })
        labels = first.kind == .tokens
            ? nil : ShardedArray(name: "labels", datasets: shards.map { ($0.path, $0.datasets["labels"]!) })
        rowCount = primary.rowCount
        if kind == .images {
            imageHeight = primary.rowShape[0]
            imageWidth = primary.rowShape[1]
            imageChannels = primary.rowShape.count == 3 ? primary.rowShape[2] : 1
        } else {
            imageHeight = 0; imageWidth = 0; imageChannels = 0
        }
        fileSequenceLength = kind == .sequences ? primary.rowShape[0] : 0
    }

    /// Streams every label and token id through a range check, about 2²⁰ values at a time.
    private func verifyValueRanges() throws {
        if let labels {
            try verifyRange(of: labels, limit: numClasses, what: "label", limitName: "num_classes")
        }
        if kind != .images {
            try verifyRange(of: primary, limit: vocabSize, what: "token id", limitName: "vocab_size")
        }
    }

    private func verifyRange(of array: ShardedArray, limit: Int, what: String, limitName: String) throws {
        let rowsPerRead = max(1, (1 << 20) / max(array.rowElements, 1))
        var values = [Int64](repeating: 0, count: rowsPerRead * array.rowElements)   // [rowsPerRead, rowElements]
        let bound = Int64(limit)
        for shard in array.shards {
            var row = 0
            while row < shard.rowCount {
                let end = min(row + rowsPerRead, shard.rowCount)
                try values.withUnsafeMutableBufferPointer { buffer in
                    try wrapped { try shard.dataset.readRows(row ..< end, into: buffer.baseAddress!) }
                    for i in 0 ..< (end - row) * array.rowElements {
                        let value = buffer[i]
                        guard value < 0 || value >= bound else { continue }
                        let badRow = row + i / array.rowElements
                        let column = array.rowElements > 1 ? " column \(i % array.rowElements)" : ""
                        let problem = value < 0 ? "\(what) \(value) < 0" : "\(what) \(value) ≥ \(limitName) \(limit)"
                        throw DatasetError("\(shard.file):/\(array.name) row \(badRow)\(column): \(problem)")
                    }
                }
                row = end
            }
        }
    }
}

/// Runs `body`, turning an `HDF5Error` into a `DatasetError` with the same one-line message.
func wrapped<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as HDF5Error {
        throw DatasetError(error.description)
    }
}

/// Paths matching a shell glob pattern, sorted.
private func globFiles(_ pattern: String) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    guard glob(pattern, 0, nil, &result) == 0 else { return [] }
    var paths: [String] = []
    for i in 0 ..< Int(result.gl_pathc) {
        if let path = result.gl_pathv[i] { paths.append(String(cString: path)) }
    }
    return paths.sorted()
}
