import Foundation
import HDF5IO
@testable import Datasets

/// Deterministic pixel of image `sample` at (y, x, c): distinct across samples, rows, columns.
func pixelValue(sample: Int, y: Int, x: Int, c: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: sample &* 37 &+ y &* 11 &+ x &* 5 &+ c &* 3)
}

/// What to write into a fixture file; every field can be spoiled by a test.
struct FixtureFile {
    var kind: String? = "images"
    var formatVersion: Int64? = 1
    var numClasses: Int64? = 10
    var vocabSize: Int64? = nil
    var mean: [Double]? = nil
    var std: [Double]? = nil
    /// name → (dtype, shape, values as Int64 row-major)
    var datasets: [(name: String, type: HDF5ElementType, shape: [Int], values: [Int64])] = []
    var chunkRows = 3

    func write(to path: String) throws {
        let file = try HDF5File(path: path, mode: .truncate)
        let root = file.root
        if let kind { try root.setAttribute("kind", string: kind) }
        if let formatVersion { try root.setAttribute("format_version", formatVersion) }
        if let numClasses { try root.setAttribute("num_classes", numClasses) }
        if let vocabSize { try root.setAttribute("vocab_size", vocabSize) }
        if let mean { try root.setAttribute("mean", array: mean) }
        if let std { try root.setAttribute("std", array: std) }
        for dataset in datasets {
            func make<T: HDF5Scalar>(_ type: T.Type, _ convert: (Int64) -> T) throws {
                let chunked = dataset.shape.first.map { $0 > 0 } ?? false
                let created = try root.createDataset(dataset.name, of: T.self, shape: dataset.shape,
                                                     chunkRows: chunked ? min(chunkRows, dataset.shape[0]) : nil,
                                                     gzipLevel: chunked ? 4 : nil)
                if !dataset.values.isEmpty { try created.write(dataset.values.map(convert)) }
            }
            switch dataset.type {
            case .uint8: try make(UInt8.self) { UInt8(truncatingIfNeeded: $0) }
            case .uint16: try make(UInt16.self) { UInt16(truncatingIfNeeded: $0) }
            case .int32: try make(Int32.self) { Int32(truncatingIfNeeded: $0) }
            case .int64: try make(Int64.self) { $0 }
            case .float32: try make(Float.self) { Float($0) }
            case .float64: try make(Double.self) { Double($0) }
            case .other: fatalError("fixtures write known types only")
            }
        }
        try file.close()
    }

    /// An images file of samples `first..<first+count`, [count, h, w, c] (or [count, h, w] when
    /// grey), labels = sample % classes.
    static func images(first: Int = 0, count: Int, height: Int = 4, width: Int = 3, channels: Int? = 2,
                       classes: Int = 10, mean: [Double]? = nil, std: [Double]? = nil) -> FixtureFile {
        let c = channels ?? 1
        var pixels: [Int64] = []
        for s in first ..< first + count {
            for y in 0..<height { for x in 0..<width { for k in 0..<c {
                pixels.append(Int64(pixelValue(sample: s, y: y, x: x, c: k)))
            } } }
        }
        let shape = channels.map { [count, height, width, $0] } ?? [count, height, width]
        var file = FixtureFile(numClasses: Int64(classes), mean: mean, std: std)
        file.datasets = [("images", .uint8, shape, pixels),
                         ("labels", .uint8, [count], (first ..< first + count).map { Int64($0 % classes) })]
        return file
    }

    /// A sequences file: token (s, j) = (s·7 + j) % vocab, label = s % classes.
    static func sequences(first: Int = 0, count: Int, length: Int = 5, vocab: Int = 16,
                          classes: Int = 10) -> FixtureFile {
        var tokens: [Int64] = []
        for s in first ..< first + count { for j in 0..<length { tokens.append(Int64((s * 7 + j) % vocab)) } }
        var file = FixtureFile(numClasses: Int64(classes), vocabSize: Int64(vocab))
        file.kind = "sequences"
        file.datasets = [("tokens", .int32, [count, length], tokens),
                         ("labels", .int64, [count], (first ..< first + count).map { Int64($0 % classes) })]
        return file
    }

    /// A token stream of positions first..<first+count: token t = t % vocab.
    static func tokens(first: Int = 0, count: Int, vocab: Int = 256) -> FixtureFile {
        var file = FixtureFile(numClasses: nil, vocabSize: Int64(vocab))
        file.kind = "tokens"
        file.datasets = [("tokens", .uint16, [count], (first ..< first + count).map { Int64($0 % vocab) })]
        return file
    }
}

/// Writes `count` samples split into shards of `shardSizes` rows; returns the paths.
func writeShards(in directory: URL, name: String, sizes: [Int],
                 make: (_ first: Int, _ count: Int) -> FixtureFile) throws -> [String] {
    var paths: [String] = []
    var first = 0
    for (index, size) in sizes.enumerated() {
        let path = directory.appendingPathComponent("\(name)-\(String(format: "%05d", index)).h5").path
        try make(first, size).write(to: path)
        paths.append(path)
        first += size
    }
    return paths
}

/// The message of the `DatasetError` `body` throws, or nil.
func datasetErrorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as DatasetError {
        return error.description
    } catch {
        return "unexpected \(type(of: error)): \(error)"
    }
}
