import Foundation
import HDF5IO

/// One dataset file opened and checked on its own (attributes, datasets, dtypes, ranks, row
/// counts); `requireSameLayout(as:)` then checks it against the split's first shard.
struct OpenedShard {
    let path: String
    let file: HDF5File
    let kind: DatasetKind
    let numClasses: Int
    let vocabSize: Int
    let mean: [Double]
    let std: [Double]
    let datasets: [String: HDF5Dataset]

    static let integerTypes: [HDF5ElementType] = [.uint8, .uint16, .int32, .int64]

    init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.at(path, "no such file")
        }
        guard !isDirectory.boolValue else { throw DatasetError.at(path, "is a directory, not an HDF5 file") }
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw DatasetError.at(path, "not a readable HDF5 file (\(error.reason))")
        }
        let root = file.root

        // Root attributes.
        guard root.hasAttribute("kind") else {
            throw DatasetError.at(path, "missing root attribute 'kind' (images, sequences or tokens)")
        }
        let kindName = try wrapped { try root.stringAttribute("kind") }
        guard let kind = DatasetKind(rawValue: kindName) else {
            throw DatasetError.at(path, "unknown kind '\(kindName)' (expected images, sequences or tokens)")
        }
        self.kind = kind
        guard root.hasAttribute("format_version") else {
            throw DatasetError.at(path, "missing root attribute 'format_version'")
        }
        let version = try wrapped { try root.attribute("format_version", as: Int64.self) }
        guard version == datasetFormatVersion else {
            throw DatasetError.at(path, "format_version \(version) is not supported (this reader reads \(datasetFormatVersion))")
        }
        func positiveAttribute(_ name: String) throws -> Int {
            guard root.hasAttribute(name) else {
                throw DatasetError.at(path, "missing root attribute '\(name)' (required for kind \(kind.rawValue))")
            }
            let value = try wrapped { try root.attribute(name, as: Int64.self) }
            guard value > 0 && value <= Int64(Int32.max) else {
                throw DatasetError.at(path, "\(name) must be in 1...\(Int32.max), got \(value)")
            }
            return Int(value)
        }
        numClasses = kind == .tokens ? 0 : try positiveAttribute("num_classes")
        vocabSize = kind == .images ? 0 : try positiveAttribute("vocab_size")

        // Datasets: presence, dtype, rank, non-empty rows.
        var datasets: [String: HDF5Dataset] = [:]
        for name in kind.requiredDatasets {
            guard root.exists(name) else {
                let needed = kind.requiredDatasets.map { "/\($0)" }.joined(separator: " and ")
                throw DatasetError.at(path, "missing dataset /\(name) (kind \(kind.rawValue) needs \(needed))")
            }
            let dataset = try wrapped { try root.dataset(name) }
            let allowedTypes: [HDF5ElementType] = (kind == .images && name == "images") ? [.uint8] : Self.integerTypes
            guard allowedTypes.contains(dataset.elementType) else {
                throw DatasetError.at(path, dataset: name, "dtype \(dataset.elementType), expected "
                                      + allowedTypes.map(\.description).joined(separator: ", "))
            }
            let ranks: [Int]
            switch (kind, name) {
            case (.images, "images"): ranks = [3, 4]
            case (.sequences, "tokens"): ranks = [2]
            default: ranks = [1]
            }
            guard ranks.contains(dataset.shape.count) else {
                let expected = ranks.map(String.init).joined(separator: " or ")
                throw DatasetError.at(path, dataset: name, "rank \(dataset.shape.count) (shape \(dataset.shape)), expected \(expected)")
            }
            guard dataset.rowCount > 0 else {
                throw DatasetError.at(path, dataset: name, "empty (shape \(dataset.shape))")
            }
            guard dataset.shape.allSatisfy({ $0 > 0 }) else {
                throw DatasetError.at(path, dataset: name, "shape \(dataset.shape) has a zero extent")
            }
            datasets[name] = dataset
        }
        if let labels = datasets["labels"] {
            let inputName = kind == .images ? "images" : "tokens"
            let inputRows = datasets[inputName]!.rowCount
            guard labels.rowCount == inputRows else {
                throw DatasetError.at(path, dataset: "labels", "\(labels.rowCount) rows, but /\(inputName) has \(inputRows)")
            }
        }
        self.datasets = datasets

        // Image statistics: both or neither, one value per channel, std > 0.
        if kind == .images {
            let shape = datasets["images"]!.shape
            let channels = shape.count == 4 ? shape[3] : 1
            switch (root.hasAttribute("mean"), root.hasAttribute("std")) {
            case (false, false):
                mean = Array(repeating: 0, count: channels)
                std = Array(repeating: 1, count: channels)
            case (true, true):
                mean = try wrapped { try root.attributeArray("mean", as: Double.self) }
                std = try wrapped { try root.attributeArray("std", as: Double.self) }
                guard mean.count == channels && std.count == channels else {
                    throw DatasetError.at(path, "mean/std have \(mean.count)/\(std.count) values, the images \(channels) channels")
                }
                if let bad = std.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
                    throw DatasetError.at(path, "std[\(bad)] = \(std[bad]) must be positive")
                }
                if let bad = mean.firstIndex(where: { !$0.isFinite }) {
                    throw DatasetError.at(path, "mean[\(bad)] = \(mean[bad]) is not finite")
                }
                // On the 0–1 scale (docs/FORMATS.md, "Dataset files") a mean lies in [0, 1] and a standard deviation in
                // (0, 0.5]; std up to 1 is let through. The normalised pixels (p/255 − mean)/std
                // must also be finite in Float32, which a tiny std would break.
                if let bad = mean.firstIndex(where: { !(0...1).contains($0) }) {
                    throw DatasetError.at(path, "mean[\(bad)] = \(mean[bad]) is outside the 0–1 scale")
                }
                if let bad = std.firstIndex(where: { $0 > 1 }) {
                    throw DatasetError.at(path, "std[\(bad)] = \(std[bad]) is above 1, outside the 0–1 scale")
                }
                if let bad = std.indices.first(where: { c in
                    [0.0, 1.0].contains { !Float(($0 - mean[c]) / std[c]).isFinite } || !Float(1 / (255 * std[c])).isFinite
                }) {
                    throw DatasetError.at(path, "std[\(bad)] = \(std[bad]) is too small: normalised pixels would overflow Float32")
                }
            default:
                throw DatasetError.at(path, "has only one of the attributes mean and std")
            }
        } else {
            mean = []
            std = []
        }
    }

    /// Throws unless this shard has the first shard's kind, row shapes, dtypes and attributes.
    func requireSameLayout(as first: OpenedShard) throws {
        func differs(_ what: String, _ mine: Any, _ theirs: Any) -> DatasetError {
            DatasetError.at(path, "\(what) \(mine) differs from \(theirs) in \(first.path) (shards of a split must have the same layout)")
        }
        guard kind == first.kind else { throw differs("kind", kind.rawValue, first.kind.rawValue) }
        for name in kind.requiredDatasets {
            let mine = datasets[name]!, theirs = first.datasets[name]!
            let myRow = Array(mine.shape.dropFirst()), theirRow = Array(theirs.shape.dropFirst())
            guard myRow == theirRow else { throw differs("/\(name) row shape", myRow, theirRow) }
            guard mine.elementType == theirs.elementType else {
                throw differs("/\(name) dtype", mine.elementType, theirs.elementType)
            }
        }
        guard numClasses == first.numClasses else { throw differs("num_classes", numClasses, first.numClasses) }
        guard vocabSize == first.vocabSize else { throw differs("vocab_size", vocabSize, first.vocabSize) }
        guard mean == first.mean else { throw differs("mean", mean, first.mean) }
        guard std == first.std else { throw differs("std", std, first.std) }
    }
}
