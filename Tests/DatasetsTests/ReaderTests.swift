import Foundation
import Testing
@testable import Datasets
import TestSupport

/// Expected normalised pixel of `sample` at (y, x, c) with no augmentation.
func normalisedPixel(sample: Int, y: Int, x: Int, c: Int, mean: [Double], std: [Double]) -> Float {
    Float((Double(pixelValue(sample: sample, y: y, x: x, c: c)) / 255 - mean[c]) / std[c])
}

@Suite struct ShardedReadTests {
    @Test func rowRangesAcrossShardBoundariesReturnExactlyThoseRows() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let paths = try writeShards(in: directory, name: "img", sizes: [3, 1, 4, 2]) { first, count in
            .images(first: first, count: count, height: 2, width: 2, channels: 3)
        }
        let split = try DatasetSplit.open(paths)
        #expect(split.rowCount == 10 && split.files == paths)
        let rowElements = 2 * 2 * 3
        var pixels = [UInt8](repeating: 0, count: 10 * rowElements)
        var labels = [Int32](repeating: 0, count: 10)
        for start in 0..<10 {
            for end in start + 1 ... 10 {
                try pixels.withUnsafeMutableBufferPointer { try split.primary.read(rows: start..<end, into: $0.baseAddress!) }
                try labels.withUnsafeMutableBufferPointer { try split.labels!.read(rows: start..<end, into: $0.baseAddress!) }
                for (offset, sample) in (start..<end).enumerated() {
                    let expected = (0..<2).flatMap { y in (0..<2).flatMap { x in (0..<3).map { c in
                        pixelValue(sample: sample, y: y, x: x, c: c) } } }
                    #expect(Array(pixels[offset * rowElements ..< (offset + 1) * rowElements]) == expected,
                            "rows \(start)..<\(end), sample \(sample)")
                    #expect(labels[offset] == Int32(sample % 10))
                }
            }
        }
        #expect(split.primary.locate(4) == (paths[2], 0))
        #expect(split.primary.locate(9) == (paths[3], 1))
    }
}

@Suite struct TrainingLoaderTests {
    let mean = [0.25, 0.5]
    let std = [0.5, 0.2]

    func imageSplit(_ directory: URL, sizes: [Int] = [7, 5, 9, 4]) throws -> DatasetSplit {
        let paths = try writeShards(in: directory, name: "train", sizes: sizes) { first, count in
            .images(first: first, count: count, height: 4, width: 3, channels: 2, mean: mean, std: std)
        }
        return try DatasetSplit.open(directory.appendingPathComponent("train-*.h5").path + "", verifyValues: true)
            .withFiles(paths)
    }

    @Test func imageBatchesHoldTheOrderedSamplesNormalised() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let split = try imageSplit(directory)        // 25 samples over 4 shards
        #expect(split.imageHeight == 4 && split.imageWidth == 3 && split.imageChannels == 2)
        for worldSize in 1...4 {
            let global = 12                          // a multiple of 1, 2, 3, 4; 2 batches per epoch
            let loaders = try (0..<worldSize).map {
                try TrainingLoader(split: split, globalBatchSize: global, worldSize: worldSize, rank: $0, seed: 9)
            }
            let order = try TrainingOrder(sampleCount: 25, globalBatchSize: global, seed: 9)
            for step in 0..<5 {     // crosses two epoch boundaries
                let position = DataPosition(epoch: step / 2, batchInEpoch: step % 2)
                var concatenated: [Int] = []
                for loader in loaders {
                    #expect(loader.position == position)
                    let batch = try loader.next()
                    #expect(batch.position == position && batch.count == global / worldSize)
                    concatenated += batch.sampleIndices
                    for row in 0 ..< batch.count {
                        let sample = batch.sampleIndex(row)
                        #expect(batch.labels[row] == Int32(sample % 10))
                        var index = row * 24
                        for y in 0..<4 { for x in 0..<3 { for c in 0..<2 {
                            let expected = normalisedPixel(sample: sample, y: y, x: x, c: c, mean: mean, std: std)
                            #expect(abs(batch.pixels[index] - expected) < 1e-5)
                            index += 1
                        } } }
                    }
                }
                #expect(concatenated == Array(order.globalBatch(at: position)), "W=\(worldSize) \(position)")
            }
        }
    }

    @Test func tokenWindowsGiveInputsAndNextTokenTargets() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        // 103 tokens in shards of 10, 33, 60: windows of L = 8 cross shard boundaries.
        _ = try writeShards(in: directory, name: "kjv", sizes: [10, 33, 60]) { first, count in
            .tokens(first: first, count: count, vocab: 50)
        }
        let split = try DatasetSplit.open(directory.appendingPathComponent("kjv-*.h5").path)
        let length = 8
        #expect(split.sampleCount(sequenceLength: length) == 12)      // ⌊102 / 8⌋
        for prefetch in [true, false] {
            let loader = try TrainingLoader(split: split, globalBatchSize: 4, seed: 1, sequenceLength: length,
                                            prefetch: prefetch)
            var seen: [Int] = []
            for _ in 0..<3 {
                let batch = try loader.next()
                for row in 0 ..< batch.count {
                    let sample = batch.sampleIndex(row)
                    seen.append(sample)
                    for i in 0..<length {
                        #expect(batch.tokens[row * length + i] == Int32((sample * length + i) % 50))
                        #expect(batch.targets[row * length + i] == Int32((sample * length + i + 1) % 50))
                    }
                }
            }
            #expect(seen.sorted() == Array(0..<12))
            #expect(loader.position == DataPosition(epoch: 1, batchInEpoch: 0))
            #expect(loader.waitSeconds >= 0)
        }
    }

    @Test func sequenceBatchesHoldTokensAndLabels() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let path = directory.appendingPathComponent("listops.h5").path
        try FixtureFile.sequences(count: 9, length: 6, vocab: 16).write(to: path)
        let split = try DatasetSplit.open(path)
        #expect(datasetErrorMessage { _ = try TrainingLoader(split: split, globalBatchSize: 3, seed: 0, sequenceLength: 5) }
                == "\(path): sequences of length 6, but seq_len is 5")
        let loader = try TrainingLoader(split: split, globalBatchSize: 3, seed: 0, sequenceLength: 6)
        let batch = try loader.next()
        for row in 0..<3 {
            let sample = batch.sampleIndex(row)
            #expect(batch.labels[row] == Int32(sample % 10))
            #expect((0..<6).map { batch.tokens[row * 6 + $0] } == (0..<6).map { Int32((sample * 7 + $0) % 16) })
        }
    }

    @Test func sequenceBatchesHoldLengths() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        // Without a lengths dataset every row is real to its end.
        let plain = directory.appendingPathComponent("plain.h5").path
        try FixtureFile.sequences(count: 4, length: 6).write(to: plain)
        let plainBatch = try TrainingLoader(split: try DatasetSplit.open(plain), globalBatchSize: 2, seed: 0,
                                            sequenceLength: 6).next()
        #expect(plainBatch.lengths.array == [6, 6])
        // With one, row s has (s % 6) + 1 real tokens, whatever order the batch takes them in.
        let padded = directory.appendingPathComponent("padded.h5").path
        var file = FixtureFile.sequences(count: 9, length: 6)
        file.datasets.append(("lengths", .int32, [9], (0..<9).map { Int64($0 % 6 + 1) }))
        try file.write(to: padded)
        let loader = try TrainingLoader(split: try DatasetSplit.open(padded), globalBatchSize: 3, seed: 0, sequenceLength: 6)
        for _ in 0..<3 {
            let batch = try loader.next()
            for row in 0..<3 { #expect(batch.lengths[row] == Int32(batch.sampleIndex(row) % 6 + 1)) }
        }
        // A length outside 1...L is named with its row.
        let bad = directory.appendingPathComponent("bad.h5").path
        var badFile = FixtureFile.sequences(count: 3, length: 6)
        badFile.datasets.append(("lengths", .int32, [3], [6, 7, 1]))
        try badFile.write(to: bad)
        #expect(datasetErrorMessage { _ = try DatasetSplit.open(bad) } == "\(bad):/lengths row 1: length 7 ≥ seq_len + 1 = 7")
    }

    /// Every batch's sample indices and first pixel, for comparisons.
    func record(_ loader: TrainingLoader, batches: Int) throws -> [[Float]] {
        try (0..<batches).map { _ in
            let batch = try loader.next()
            return batch.sampleIndices.map(Float.init) + Array(batch.pixels.array.prefix(batch.count * 24))
        }
    }

    @Test func savedPositionsRestoreTheSameBatches() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let split = try imageSplit(directory)
        let augmentation = ImageAugmentation(padding: 1, seed: 4)
        let reference = try TrainingLoader(split: split, globalBatchSize: 6, seed: 3, augmentation: augmentation)
        #expect(reference.batchesPerEpoch == 4)
        let all = try record(reference, batches: 10)

        // A run that stops after 6 batches and saves its position...
        let first = try TrainingLoader(split: split, globalBatchSize: 6, seed: 3, augmentation: augmentation)
        _ = try record(first, batches: 6)
        let saved = first.position
        #expect(saved == DataPosition(epoch: 1, batchInEpoch: 2))
        // ... continues exactly, in a new loader and with seek, with or without prefetching.
        let resumed = try TrainingLoader(split: split, globalBatchSize: 6, seed: 3, augmentation: augmentation,
                                         startingAt: saved, prefetch: false)
        #expect(try record(resumed, batches: 4) == Array(all[6...]))
        first.seek(to: DataPosition(epoch: 0, batchInEpoch: 1))
        #expect(try record(first, batches: 3) == Array(all[1...3]))
        #expect(datasetErrorMessage {
            _ = try TrainingLoader(split: split, globalBatchSize: 6, seed: 3, startingAt: DataPosition(epoch: 0, batchInEpoch: 4))
        } == "\(split.displayName): cannot start at epoch 0 batch 4, an epoch has 4 batches")
    }
}

@Suite struct AugmentationTests {
    /// Reference: pad the uint8 image with `padding` zeros, crop H×W at (dy, dx), flip, normalise.
    func reference(sample: Int, height: Int, width: Int, channels: Int, dy: Int, dx: Int, padding: Int,
                   flip: Bool, mean: [Double], std: [Double]) -> [Float] {
        let paddedHeight = height + 2 * padding, paddedWidth = width + 2 * padding
        var padded = [UInt8](repeating: 0, count: paddedHeight * paddedWidth * channels)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            padded[((y + padding) * paddedWidth + x + padding) * channels + c] = pixelValue(sample: sample, y: y, x: x, c: c)
        } } }
        var output: [Float] = []
        for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            let cropX = flip ? width - 1 - x : x
            let value = padded[((y + dy) * paddedWidth + cropX + dx) * channels + c]
            output.append(Float((Double(value) / 255 - mean[c]) / std[c]))
        } } }
        return output
    }

    @Test func cropAndFlipMatchTheReferenceAndIgnoreTheWorldSize() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let path = directory.appendingPathComponent("train.h5").path
        let mean = [0.1, 0.2], std = [0.3, 0.4]
        try FixtureFile.images(count: 16, height: 5, width: 6, channels: 2, mean: mean, std: std).write(to: path)
        let split = try DatasetSplit.open(path)
        let augmentation = ImageAugmentation(padding: 2, horizontalFlip: true, seed: 21)
        var byWorldSize: [[Int: [Float]]] = []
        var flips = 0, shifts = 0
        for worldSize in [1, 2, 4] {
            var images: [Int: [Float]] = [:]
            for rank in 0..<worldSize {
                let loader = try TrainingLoader(split: split, globalBatchSize: 8, worldSize: worldSize, rank: rank,
                                                seed: 2, augmentation: augmentation)
                for _ in 0..<4 {          // two epochs
                    let batch = try loader.next()
                    for row in 0 ..< batch.count {
                        let sample = batch.sampleIndex(row)
                        let pixels = Array(batch.pixels.array[row * 60 ..< (row + 1) * 60])
                        let draw = augmentation.draw(epoch: batch.position.epoch, sample: sample)
                        #expect((0...4).contains(draw.dy) && (0...4).contains(draw.dx))
                        let expected = reference(sample: sample, height: 5, width: 6, channels: 2, dy: draw.dy,
                                                 dx: draw.dx, padding: 2, flip: draw.flip, mean: mean, std: std)
                        #expect(zip(pixels, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "sample \(sample)")
                        images[batch.position.epoch * 100 + sample] = pixels
                        if worldSize == 1 {
                            flips += draw.flip ? 1 : 0
                            shifts += (draw.dy != 2 || draw.dx != 2) ? 1 : 0
                        }
                    }
                }
            }
            byWorldSize.append(images)
        }
        #expect(byWorldSize[0].count == 32)
        #expect(byWorldSize[1] == byWorldSize[0] && byWorldSize[2] == byWorldSize[0])
        #expect(flips > 4 && flips < 28, "flips \(flips) of 32")
        #expect(shifts > 16, "shifts \(shifts) of 32")
        // The same sample is augmented differently in different epochs (for most samples).
        let changed = (0..<16).filter { byWorldSize[0][$0] != byWorldSize[0][100 + $0] }.count
        #expect(changed > 8)
    }
}

@Suite struct EvaluationLoaderTests {
    @Test func ranksCoverEverySampleOnceWithAPartialLastBatch() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let paths = try writeShards(in: directory, name: "val", sizes: [6, 5]) { first, count in
            .images(first: first, count: count, height: 2, width: 2, channels: nil)
        }
        let split = try DatasetSplit.open(paths)
        #expect(split.imageChannels == 1 && split.mean == [0] && split.std == [1])
        for worldSize in 1...4 {
            var covered: [Int] = []
            for rank in 0..<worldSize {
                let loader = try EvaluationLoader(split: split, batchSize: 2, worldSize: worldSize, rank: rank)
                var pass: [Int] = []
                while let batch = try loader.next() {
                    #expect(batch.count == 2 || pass.count + batch.count == loader.sampleCount)
                    for row in 0 ..< batch.count {
                        let sample = batch.sampleIndex(row)
                        #expect(batch.labels[row] == Int32(sample % 10))
                        #expect(abs(batch.pixels[row * 4 + 3] - Float(pixelValue(sample: sample, y: 1, x: 1, c: 0)) / 255) < 1e-6)
                    }
                    pass += batch.sampleIndices
                }
                #expect(try loader.next() == nil)
                loader.restart()
                var again: [Int] = []
                while let batch = try loader.next() { again += batch.sampleIndices }
                #expect(again == pass)
                covered += pass
            }
            #expect(covered == Array(0..<11), "W=\(worldSize)")
        }
    }
}

extension DatasetSplit {
    /// Checks that a glob found exactly `paths`, in order, and returns self.
    func withFiles(_ paths: [String]) -> DatasetSplit {
        precondition(files == paths, "glob found \(files), expected \(paths)")
        return self
    }
}
