import Foundation
import HDF5IO
import TestSupport
import Testing
@testable import Datasets

/// The content fingerprint of a shard (`ShardFingerprint`, docs/FORMATS.md "Training data
/// record"), on real HDF5 files: equal content gives equal fingerprints whatever the chunking;
/// one changed byte inside a sampled block, or another row count, gives another; the reads are
/// bounded.
@Suite struct FingerprintTests {
    /// A `tokens` stream longer than 32 blocks of 64 KiB, so the fingerprint samples it.
    static let streamLength = 3_000_017

    static func stream(_ length: Int = streamLength) -> [UInt8] {
        (0 ..< length).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
    }

    /// Writes a `tokens` file of `tokens` (uint8 [T]) chunked in `chunkRows`.
    static func writeTokens(_ tokens: [UInt8], to path: String, chunkRows: Int = 65_536) throws {
        let file = try HDF5File(path: path, mode: .truncate)
        try file.root.setAttribute("kind", string: "tokens")
        try file.root.setAttribute("format_version", Int64(1))
        try file.root.setAttribute("vocab_size", Int64(256))
        try file.root.createDataset("tokens", of: UInt8.self, shape: [tokens.count], chunkRows: chunkRows).write(tokens)
        try file.close()
    }

    static func fingerprint(_ path: String) throws -> UInt64 {
        let identities = try DatasetSplit.open(path).shardIdentities()
        try #require(identities.count == 1)
        return identities[0].fingerprint
    }

    @Test func blocksCoverFirstAndLastRowsAndAreBounded() {
        let m = 65_536
        let starts = ShardFingerprint.blockStarts(rows: Self.streamLength, rowsPerBlock: m)
        #expect(starts.count == ShardFingerprint.blockCount)
        #expect(starts.first == 0 && starts.last == Self.streamLength - m)
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $0 + m <= $1 }, "blocks overlap: \(starts)")
        // A dataset of at most 32 blocks is read whole, as one block.
        #expect(ShardFingerprint.blockStarts(rows: 32 * m, rowsPerBlock: m) == [0])
        // The same 32 blocks for a file a million times larger: reads do not grow with the file.
        #expect(ShardFingerprint.blockStarts(rows: 1 << 40, rowsPerBlock: m).count == ShardFingerprint.blockCount)
    }

    @Test func sameContentSameFingerprintChangedByteOrRowCountAnother() throws {
        let directory = try temporaryDirectory("datasets")
        let tokens = Self.stream()
        let original = directory + "/original.h5", rechunked = directory + "/rechunked.h5"
        try Self.writeTokens(tokens, to: original)
        try Self.writeTokens(tokens, to: rechunked, chunkRows: 10_000)
        let reference = try Self.fingerprint(original)
        #expect(try Self.fingerprint(rechunked) == reference, "the same values in another chunking")
        #expect(try Self.fingerprint(original) == reference, "computed twice")

        // One byte changed inside a sampled block: block 5's first row, and the last token.
        let starts = ShardFingerprint.blockStarts(rows: tokens.count, rowsPerBlock: ShardFingerprint.blockBytes)
        for row in [starts[5] + 17, tokens.count - 1] {
            var changed = tokens
            changed[row] ^= 0x40
            let path = directory + "/changed-\(row).h5"
            try Self.writeTokens(changed, to: path)
            #expect(try Self.fingerprint(path) != reference, "byte \(row) changed inside a sampled block")
        }
        // A byte between two blocks is not read: the fingerprint is bounded, not a full hash.
        var outside = tokens
        outside[starts[5] + ShardFingerprint.blockBytes + 3] ^= 0x40
        try Self.writeTokens(outside, to: directory + "/outside.h5")
        #expect(try Self.fingerprint(directory + "/outside.h5") == reference)

        // Another row count: one token more, one token less.
        for length in [tokens.count + 1, tokens.count - 1] {
            let path = directory + "/length-\(length).h5"
            try Self.writeTokens(length > tokens.count ? tokens + [7] : Array(tokens.dropLast()), to: path)
            #expect(try Self.fingerprint(path) != reference, "\(length) tokens instead of \(tokens.count)")
        }
    }

    /// A small file is hashed whole: any pixel or label counts; the identity names the layout
    /// and the kind's attributes.
    @Test func smallImageSplitIsHashedWholeAndDescribed() throws {
        let directory = try temporaryDirectory("datasets")
        let images = FixtureFile.images(count: 20, mean: [0.5, 0.25], std: [0.2, 0.3])
        try images.write(to: directory + "/a.h5")
        var pixel = images
        pixel.datasets[0].values[13 * 24 + 5] ^= 1
        try pixel.write(to: directory + "/pixel.h5")
        var label = images
        label.datasets[1].values[19] = (label.datasets[1].values[19] + 1) % 10
        try label.write(to: directory + "/label.h5")

        let identities = try DatasetSplit.open([directory + "/a.h5", directory + "/pixel.h5", directory + "/label.h5"])
            .shardIdentities()
        #expect(identities.map(\.fileName) == ["a.h5", "pixel.h5", "label.h5"])
        #expect(identities.allSatisfy { $0.rows == 20 && $0.kind == .images })
        #expect(identities[0].layout == "images uint8 [20, 4, 3, 2]; labels uint8 [20]", "\(identities[0].layout)")
        #expect(identities[0].attributes == "format_version=1 num_classes=10 mean=[0.5, 0.25] std=[0.2, 0.3]",
                "\(identities[0].attributes)")
        #expect(Set(identities.map(\.fingerprint)).count == 3, "\(identities.map(\.fingerprint))")
    }
}
