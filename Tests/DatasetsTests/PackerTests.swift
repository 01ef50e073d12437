import Foundation
import Testing
@testable import Datasets
import TestSupport

/// The packers (datasets/pack.sh) run end to end on small fixtures written here — and on the real
/// Debian data when it is installed — and the reader must accept what they write.
@Suite struct PackerTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `datasets/pack.sh arguments`; returns (exit status, stdout + stderr).
    @discardableResult
    func pack(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.repositoryRoot.appendingPathComponent("datasets/pack.sh").path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func packOrFail(_ arguments: [String]) throws {
        let (status, output) = try pack(arguments)
        #expect(status == 0, "pack.sh \(arguments.joined(separator: " ")) failed:\n\(output)")
    }

    /// An IDX file (uint8) of `shape` holding `values`.
    func idx(_ values: [UInt8], shape: [Int]) -> Data {
        var data = Data([0, 0, 0x08, UInt8(shape.count)])
        for extent in shape { withUnsafeBytes(of: UInt32(extent).bigEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: values)
        return data
    }

    /// A version 1.0 `.npy` file: header dict padded with spaces to a multiple of 64 bytes.
    func npy(_ bytes: [UInt8], descr: String, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: bytes)
        return data
    }

    @Test func fashionMNISTFromIDXFixtures() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let source = directory.appendingPathComponent("idx")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let trainImages = (0 ..< 30 * 28 * 28).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let trainLabels = (0..<30).map { UInt8($0 % 10) }
        let testImages = (0 ..< 10 * 28 * 28).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        let testLabels = (0..<10).map { UInt8(9 - $0) }
        // Plain (not .gz) IDX files: the packer reads both.
        try idx(trainImages, shape: [30, 28, 28]).write(to: source.appendingPathComponent("train-images-idx3-ubyte"))
        try idx(trainLabels, shape: [30]).write(to: source.appendingPathComponent("train-labels-idx1-ubyte"))
        try idx(testImages, shape: [10, 28, 28]).write(to: source.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx(testLabels, shape: [10]).write(to: source.appendingPathComponent("t10k-labels-idx1-ubyte"))
        let out = directory.appendingPathComponent("out").path
        try packOrFail(["fashion-mnist", "--source", source.path, "--out", out, "--val", "5", "--shard-size", "10"])

        let train = try DatasetSplit.open(out + "/fashion-mnist-train-*.h5")
        let val = try DatasetSplit.open(out + "/fashion-mnist-val.h5")
        let test = try DatasetSplit.open(out + "/fashion-mnist-test.h5")
        #expect(train.files.count == 3 && train.rowCount == 25 && val.rowCount == 5 && test.rowCount == 10)
        #expect(train.kind == .images && train.numClasses == 10 && train.imageChannels == 1)
        let trainPixels = trainImages.prefix(25 * 784).map { Double($0) / 255 }
        let mean = trainPixels.reduce(0, +) / Double(trainPixels.count)
        #expect(abs(train.mean[0] - mean) < 1e-9 && val.mean == train.mean && test.std == train.std)
        #expect(try UInt8.readAll(val.primary) == Array(trainImages[25 * 784 ..< 30 * 784]))
        #expect(try Int32.readAll(val.labels!) == trainLabels[25...].map(Int32.init))
        #expect(try Int32.readAll(test.labels!) == testLabels.map(Int32.init))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")))
    func fashionMNISTFromDebian() throws {
        let out = try temporaryDirectoryURL("DatasetsTests").path
        try packOrFail(["fashion-mnist", "--out", out])
        let counts = try ["train", "val", "test"].map { try DatasetSplit.open(out + "/fashion-mnist-\($0).h5").rowCount }
        #expect(counts == [55_000, 5_000, 10_000])
        let train = try DatasetSplit.open(out + "/fashion-mnist-train.h5")
        #expect(abs(train.mean[0] - 0.2858) < 1e-3 && abs(train.std[0] - 0.3529) < 1e-3)
        let loader = try TrainingLoader(split: train, globalBatchSize: 256, seed: 0)
        #expect(loader.batchesPerEpoch == 214)
        _ = try loader.next()
    }

    @Test func kjvPacksAnyTextAsBytes() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let text = String(repeating: "In the beginning was the Word.\n", count: 40)   // 1240 bytes
        let textPath = directory.appendingPathComponent("text.txt").path
        try text.write(toFile: textPath, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out").path
        try packOrFail(["kjv", "--text", textPath, "--out", out, "--val-fraction", "0.1", "--shard-size", "500"])
        let train = try DatasetSplit.open(out + "/kjv-train-*.h5")
        let val = try DatasetSplit.open(out + "/kjv-val.h5")
        #expect(train.kind == .tokens && train.vocabSize == 256 && train.files.count == 3)
        #expect(train.rowCount + val.rowCount == 1240)
        #expect(train.rowCount % 31 == 0, "the cut is not at a line break")
        let all = try Int32.readAll(train.primary) + Int32.readAll(val.primary)
        #expect(all == Array(text.utf8).map(Int32.init))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/bible")))
    func kjvFromDebian() throws {
        let out = try temporaryDirectoryURL("DatasetsTests").path
        try packOrFail(["kjv", "--out", out])
        let train = try DatasetSplit.open(out + "/kjv-train.h5")
        let val = try DatasetSplit.open(out + "/kjv-val.h5")
        let total = train.rowCount + val.rowCount
        #expect(total > 3_900_000 && total < 4_300_000)
        #expect(Double(val.rowCount) / Double(total) > 0.049 && Double(val.rowCount) / Double(total) < 0.051)
        let start = try Int32.readAll(train.primary, rows: 0..<55)
        #expect(String(decoding: start.map { UInt8($0) }, as: UTF8.self)
                == "In the beginning God created the heaven and the earth.\n")
        let loader = try TrainingLoader(split: train, globalBatchSize: 8, seed: 0, sequenceLength: 256)
        let batch = try loader.next()
        #expect(batch.targets[0] == batch.tokens[1])
    }

    /// Value of a ListOps tree given as token ids (PAD 0, digits 1–10, [MIN 11 … [SM 14, ] 15).
    func listOpsValue(_ tokens: [Int32]) -> Int {
        var stack: [[Int]] = [[]]
        var operators: [Int32] = []
        for token in tokens where token != 0 {
            switch token {
            case 1...10: stack[stack.count - 1].append(Int(token) - 1)
            case 11...14: operators.append(token); stack.append([])
            default:
                let values = stack.removeLast().sorted()
                let value: Int
                switch operators.removeLast() {
                case 11: value = values.first!
                case 12: value = values.last!
                case 13: value = values.count % 2 == 1 ? values[values.count / 2]
                                                      : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
                default: value = values.reduce(0, +) % 10
                }
                stack[stack.count - 1].append(value)
            }
        }
        return stack[0][0]
    }

    @Test func listOpsTreesEvaluateToTheirLabels() throws {
        let out = try temporaryDirectoryURL("DatasetsTests").path
        try packOrFail(["listops", "--out", out, "--train", "12", "--val", "3", "--test", "4", "--seed", "3"])
        let train = try DatasetSplit.open(out + "/listops-train.h5")
        #expect(train.kind == .sequences && train.vocabSize == 16 && train.numClasses == 10)
        #expect(train.fileSequenceLength == 2000 && train.rowCount == 12)
        #expect(try DatasetSplit.open(out + "/listops-val.h5").rowCount == 3)
        #expect(try DatasetSplit.open(out + "/listops-test.h5").rowCount == 4)
        let loader = try EvaluationLoader(split: train, batchSize: 12, sequenceLength: 2000)
        let batch = try #require(try loader.next())
        for row in 0..<12 {
            let tokens = Array(batch.tokens.buffer[row * 2000 ..< (row + 1) * 2000])
            let length = tokens.firstIndex(of: 0) ?? 2000
            #expect(length > 500 && length < 2000)
            #expect(tokens[length...].allSatisfy { $0 == 0 })
            #expect(Int(batch.labels[row]) == listOpsValue(tokens), "tree \(row)")
        }
    }

    @Test func convertNpyIdxAndCifar() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let out = directory.appendingPathComponent("out").path

        // .npy: 6 RGB images 2×3, labels int64.
        let pixels = (0 ..< 6 * 2 * 3 * 3).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        let labels: [Int64] = [0, 1, 2, 3, 4, 2]
        let imagesPath = directory.appendingPathComponent("images.npy")
        let labelsPath = directory.appendingPathComponent("labels.npy")
        try npy(pixels, descr: "|u1", shape: [6, 2, 3, 3]).write(to: imagesPath)
        try npy(labels.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } },
                descr: "<i8", shape: [6]).write(to: labelsPath)
        try packOrFail(["convert", "--npy", imagesPath.path, labelsPath.path, "--name", "mine", "--out", out, "--val", "2"])
        let mine = try DatasetSplit.open(out + "/mine-train.h5")
        let mineVal = try DatasetSplit.open(out + "/mine-val.h5")
        #expect(mine.numClasses == 5 && mine.imageChannels == 3 && mine.rowCount == 4 && mineVal.rowCount == 2)
        #expect(try UInt8.readAll(mine.primary) + UInt8.readAll(mineVal.primary) == pixels)
        #expect(mineVal.mean == mine.mean && mine.mean.count == 3)

        // IDX (grey 3×3), with statistics copied from another file of the same channel count.
        let idxImages = (0 ..< 4 * 9).map { UInt8($0 * 5) }
        try idx(idxImages, shape: [4, 3, 3]).write(to: directory.appendingPathComponent("x.idx"))
        try idx([1, 0, 1, 2], shape: [4]).write(to: directory.appendingPathComponent("y.idx"))
        try packOrFail(["convert", "--idx", directory.appendingPathComponent("x.idx").path,
                        directory.appendingPathComponent("y.idx").path, "--name", "digits", "--out", out])
        let digits = try DatasetSplit.open(out + "/digits-train.h5")
        #expect(digits.numClasses == 3 && digits.imageChannels == 1 && digits.imageHeight == 3)
        #expect(try UInt8.readAll(digits.primary) == idxImages)

        // CIFAR-10 binary: 3 records of label + R, G, B planes → stored H×W×C.
        var records = Data()
        var planes: [[UInt8]] = []
        for record in 0..<3 {
            let plane = (0 ..< 3072).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ record) }
            planes.append(plane)
            records.append(UInt8(record + 7))
            records.append(contentsOf: plane)
        }
        try records.write(to: directory.appendingPathComponent("data_batch_1.bin"))
        try packOrFail(["convert", "--cifar10", directory.appendingPathComponent("data_batch_1.bin").path,
                        "--name", "cifar", "--out", out])
        let cifar = try DatasetSplit.open(out + "/cifar-train.h5")
        #expect(cifar.numClasses == 10 && cifar.imageHeight == 32 && cifar.imageChannels == 3)
        let stored = try UInt8.readAll(cifar.primary)
        var expected: [UInt8] = []
        for plane in planes { for y in 0..<32 { for x in 0..<32 { for c in 0..<3 { expected.append(plane[c * 1024 + y * 32 + x]) } } } }
        #expect(stored == expected)
        #expect(try Int32.readAll(cifar.labels!) == [7, 8, 9])

        // A bad label is refused with one line.
        let (status, output) = try pack(["convert", "--npy", imagesPath.path, labelsPath.path, "--num-classes", "4",
                                         "--name", "bad", "--out", out])
        #expect(status != 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "labels row 4: label 4 ≥ num_classes 4")
    }
}

/// Whole-array reads for the tests, in the element type the test compares.
extension UInt8 {
    static func readAll(_ array: ShardedArray) throws -> [UInt8] {
        var values = [UInt8](repeating: 0, count: array.rowCount * array.rowElements)
        try values.withUnsafeMutableBufferPointer { try array.read(rows: 0 ..< array.rowCount, into: $0.baseAddress!) }
        return values
    }
}

extension Int32 {
    static func readAll(_ array: ShardedArray, rows: Range<Int>? = nil) throws -> [Int32] {
        let range = rows ?? 0 ..< array.rowCount
        var values = [Int32](repeating: 0, count: range.count * array.rowElements)
        try values.withUnsafeMutableBufferPointer { try array.read(rows: range, into: $0.baseAddress!) }
        return values
    }
}
