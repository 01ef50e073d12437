import Foundation
import Testing
@testable import Datasets
import TestSupport

/// Every way a split can be wrong, each on a real HDF5 file, and the one-line message it gives.
@Suite struct OpenValidationTests {
    /// Writes `fixture` as bad.h5 in a fresh directory and returns the message of opening it.
    func openMessage(_ fixture: FixtureFile, name: String = #function) throws -> (String?, String) {
        let directory = try temporaryDirectoryURL("DatasetsTests", label: name)
        let path = directory.appendingPathComponent("bad.h5").path
        try fixture.write(to: path)
        return (datasetErrorMessage { _ = try DatasetSplit.open(path) }, path)
    }

    @Test func aGoodFileOpens() throws {
        let (message, _) = try openMessage(.images(count: 5, mean: [0.5, 0.25], std: [0.2, 0.1]))
        #expect(message == nil)
    }

    @Test func missingFile() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let path = directory.appendingPathComponent("absent.h5").path
        #expect(datasetErrorMessage { _ = try DatasetSplit.open(path) } == "\(path): no such file")
        let pattern = directory.appendingPathComponent("absent-*.h5").path
        #expect(datasetErrorMessage { _ = try DatasetSplit.open(pattern) } == "\(pattern): the pattern matches no file")
    }

    @Test func notHDF5() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let path = directory.appendingPathComponent("text.h5").path
        try "not hdf5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let message = try #require(datasetErrorMessage { _ = try DatasetSplit.open(path) })
        #expect(message.hasPrefix("\(path): not a readable HDF5 file"))
        #expect(!message.contains("\n"))
    }

    @Test func missingOrUnknownKindOrVersion() throws {
        var noKind = FixtureFile.images(count: 3)
        noKind.kind = nil
        let (m1, p1) = try openMessage(noKind)
        #expect(m1 == "\(p1): missing root attribute 'kind' (images, sequences or tokens)")

        var wrongKind = FixtureFile.images(count: 3)
        wrongKind.kind = "pictures"
        let (m2, p2) = try openMessage(wrongKind)
        #expect(m2 == "\(p2): unknown kind 'pictures' (expected images, sequences or tokens)")

        var newer = FixtureFile.images(count: 3)
        newer.formatVersion = 2
        let (m3, p3) = try openMessage(newer)
        #expect(m3 == "\(p3): format_version 2 is not supported (this reader reads 1)")

        var noClasses = FixtureFile.images(count: 3)
        noClasses.numClasses = nil
        let (m4, p4) = try openMessage(noClasses)
        #expect(m4 == "\(p4): missing root attribute 'num_classes' (required for kind images)")
    }

    @Test func missingOrMisnamedDataset() throws {
        var misnamed = FixtureFile.images(count: 3)
        misnamed.datasets[1].name = "label"
        let (message, path) = try openMessage(misnamed)
        #expect(message == "\(path): missing dataset /labels (kind images needs /images and /labels)")

        var noTokens = FixtureFile.tokens(count: 10)
        noTokens.datasets[0].name = "text"
        let (m2, p2) = try openMessage(noTokens)
        #expect(m2 == "\(p2): missing dataset /tokens (kind tokens needs /tokens)")
    }

    @Test func wrongDtypeOrRank() throws {
        var floatImages = FixtureFile.images(count: 3)
        floatImages.datasets[0].type = .float32
        let (m1, p1) = try openMessage(floatImages)
        #expect(m1 == "\(p1):/images: dtype float32, expected uint8")

        var floatLabels = FixtureFile.images(count: 3)
        floatLabels.datasets[1].type = .float64
        let (m2, p2) = try openMessage(floatLabels)
        #expect(m2 == "\(p2):/labels: dtype float64, expected uint8, uint16, int32, int64")

        var flatImages = FixtureFile.images(count: 3)
        flatImages.datasets[0].shape = [3, 24]
        let (m3, p3) = try openMessage(flatImages)
        #expect(m3 == "\(p3):/images: rank 2 (shape [3, 24]), expected 3 or 4")

        var flatSequences = FixtureFile.sequences(count: 4)
        flatSequences.datasets[0].shape = [20]
        let (m4, p4) = try openMessage(flatSequences)
        #expect(m4 == "\(p4):/tokens: rank 1 (shape [20]), expected 2")
    }

    @Test func labelsAndInputsOfDifferentLengths() throws {
        var fixture = FixtureFile.images(count: 4)
        fixture.datasets[1].shape = [3]
        fixture.datasets[1].values.removeLast()
        let (message, path) = try openMessage(fixture)
        #expect(message == "\(path):/labels: 3 rows, but /images has 4")
    }

    @Test func labelAtLeastNumClasses() throws {
        var fixture = FixtureFile.images(count: 8, classes: 10)
        fixture.datasets[1].values[6] = 11
        let (message, path) = try openMessage(fixture)
        #expect(message == "\(path):/labels row 6: label 11 ≥ num_classes 10")

        var negative = FixtureFile.sequences(count: 8)
        negative.datasets[1].values[2] = -1
        let (m2, p2) = try openMessage(negative)
        #expect(m2 == "\(p2):/labels row 2: label -1 < 0")
    }

    @Test func tokenIdAtLeastVocabSize() throws {
        var stream = FixtureFile.tokens(count: 50, vocab: 40)
        stream.vocabSize = 30
        let (m1, p1) = try openMessage(stream)
        #expect(m1 == "\(p1):/tokens row 30: token id 30 ≥ vocab_size 30")

        var sequences = FixtureFile.sequences(count: 6, length: 5, vocab: 16)
        sequences.datasets[0].values[4 * 5 + 3] = 16
        let (m2, p2) = try openMessage(sequences)
        #expect(m2 == "\(p2):/tokens row 4 column 3: token id 16 ≥ vocab_size 16")

        // Skipping the value scan opens the same file.
        #expect(datasetErrorMessage { _ = try DatasetSplit.open(p2, verifyValues: false) } == nil)
    }

    @Test func emptySplit() throws {
        var empty = FixtureFile.images(count: 0)
        empty.datasets[0].shape = [0, 4, 3, 2]
        let (message, path) = try openMessage(empty)
        #expect(message == "\(path):/images: empty (shape [0, 4, 3, 2])")
    }

    @Test func badImageStatistics() throws {
        let (m1, p1) = try openMessage(.images(count: 3, mean: [0.5], std: [0.2]))
        #expect(m1 == "\(p1): mean/std have 1/1 values, the images 2 channels")
        let (m2, p2) = try openMessage(.images(count: 3, mean: [0.5, 0.5], std: [0.2, 0]))
        #expect(m2 == "\(p2): std[1] = 0.0 must be positive")
        let (m3, p3) = try openMessage(.images(count: 3, mean: [0.5, 0.5]))
        #expect(m3 == "\(p3): has only one of the attributes mean and std")
    }

    @Test func shardsWithDifferentLayouts() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let a = directory.appendingPathComponent("s-0.h5").path
        let b = directory.appendingPathComponent("s-1.h5").path
        try FixtureFile.images(count: 3, height: 4, width: 3).write(to: a)
        try FixtureFile.images(first: 3, count: 3, height: 5, width: 3).write(to: b)
        #expect(datasetErrorMessage { _ = try DatasetSplit.open([a, b]) }
                == "\(b): /images row shape [5, 3, 2] differs from [4, 3, 2] in \(a) (shards of a split must have the same layout)")

        try FixtureFile.images(first: 3, count: 3, classes: 12).write(to: b)
        #expect(datasetErrorMessage { _ = try DatasetSplit.open(directory.appendingPathComponent("s-*.h5").path) }
                == "\(b): num_classes 12 differs from 10 in \(a) (shards of a split must have the same layout)")

        try FixtureFile.sequences(count: 3).write(to: b)
        #expect(datasetErrorMessage { _ = try DatasetSplit.open([a, b]) }
                == "\(b): kind sequences differs from images in \(a) (shards of a split must have the same layout)")
    }

    @Test func fewerSamplesThanOneGlobalBatch() throws {
        let directory = try temporaryDirectoryURL("DatasetsTests")
        let path = directory.appendingPathComponent("small.h5").path
        try FixtureFile.images(count: 6).write(to: path)
        let split = try DatasetSplit.open(path)
        #expect(datasetErrorMessage { _ = try TrainingLoader(split: split, globalBatchSize: 8, seed: 0) }
                == "\(path): 6 samples, fewer than one global batch of 8")

        let stream = directory.appendingPathComponent("stream.h5").path
        try FixtureFile.tokens(count: 40).write(to: stream)   // ⌊39 / 8⌋ = 4 windows of 8
        let tokens = try DatasetSplit.open(stream)
        #expect(datasetErrorMessage { _ = try TrainingLoader(split: tokens, globalBatchSize: 5, seed: 0, sequenceLength: 8) }
                == "\(stream): 4 samples, fewer than one global batch of 5")
        #expect(datasetErrorMessage { _ = try TrainingLoader(split: tokens, globalBatchSize: 4, seed: 0) }
                == "\(stream): a token stream needs a positive seq_len to cut windows")
    }
}
