import ArgumentParser
import Benchmarks
import Datasets
import Foundation

/// `flowformer bench reader`: how long opening a split (every value checked) and fingerprinting
/// its shards (the training data record, docs/FORMATS.md) take, side by side; then how fast the
/// data reader serves a rank its slice of each global batch from a packed split — samples/s and
/// MB/s of decoded samples delivered — read in the consumer's thread (no prefetch), so the figure
/// is the reader's own speed, not hidden behind a model step. Compare with what the trainer
/// consumes (its samples/s or tokens/s per rank).
struct BenchReaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reader",
        abstract: "Measure the data reader on a packed split (open and fingerprint time, samples/s, MB/s)."
    )

    @Option(help: "Split to read: a file or a glob of shards (repeatable).")
    var data: [String]

    @Option(help: "Samples per global batch.")
    var globalBatch = 128

    @Option(help: "Ranks sharing each batch (this process reads rank 0's slice).")
    var ranks = 1

    @Option(help: "Tokens per sample, for 'tokens' and 'sequences' splits.")
    var seqLen: Int?

    @Option(help: "Batches to read.")
    var batches = 200

    func validate() throws {
        guard globalBatch >= 1, ranks >= 1, globalBatch % ranks == 0 else {
            throw ValidationError("--global-batch must be a positive multiple of --ranks")
        }
        guard batches >= 1 else { throw ValidationError("--batches must be at least 1") }
    }

    func run() throws {
        let openStart = monotonicSeconds()
        let split = try DatasetSplit.open(data)
        let openSeconds = monotonicSeconds() - openStart
        // The training data record's fingerprints (once per run, at start), beside the open:
        // the first computation after the open, as the trainer does it, then the median of 5 more.
        var fingerprintSeconds: [Double] = []
        for _ in 0 ..< 6 {
            let start = monotonicSeconds()
            _ = try split.shardIdentities()
            fingerprintSeconds.append(monotonicSeconds() - start)
        }
        let median = fingerprintSeconds.dropFirst().sorted()[2]
        print("open \(split.displayName) (every file checked, every value scanned): \(formatFixed(openSeconds * 1000, digits: 1)) ms; "
              + "fingerprints of its \(split.files.count) shard(s): \(formatFixed(fingerprintSeconds[0] * 1000, digits: 1)) ms first, "
              + "\(formatFixed(median * 1000, digits: 1)) ms median of 5 (\(formatFixed(median / openSeconds * 100, digits: 2))% of the open)")
        let loader = try TrainingLoader(split: split, globalBatchSize: globalBatch, worldSize: ranks, rank: 0,
                                        seed: 0, sequenceLength: split.kind == .images ? nil : (seqLen ?? 1024),
                                        prefetch: false)
        _ = try loader.next()   // warm-up: opens datasets, fills the chunk cache's first entries
        let start = monotonicSeconds()
        var samples = 0
        for _ in 0 ..< batches { samples += try loader.next().count }
        let seconds = monotonicSeconds() - start
        let bytesPerSample: Int
        switch split.kind {
        case .images: bytesPerSample = split.imageHeight * split.imageWidth * split.imageChannels   // uint8 pixels
        case .sequences: bytesPerSample = loader.sequenceLength * 4
        case .tokens: bytesPerSample = (loader.sequenceLength + 1) * 2
        }
        let rate = Double(samples) / seconds
        print("reader \(split.displayName): \(samples) samples in \(formatFixed(seconds, digits: 2)) s = "
              + "\(formatFixed(rate, digits: 0)) samples/s, \(formatFixed(rate * Double(bytesPerSample) / 1e6, digits: 1)) MB/s of samples"
              + (split.kind == .images ? "" : ", \(formatFixed(rate * Double(loader.sequenceLength), digits: 0)) tokens/s")
              + " (global batch \(globalBatch), rank 0 of \(ranks), no prefetch)")
    }
}
