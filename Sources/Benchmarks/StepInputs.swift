import Datasets
import FlowModel
import MPIComm
import TensorKernels

/// The batch of each benchmark step: either a real split read through the trainer's prefetching
/// `TrainingLoader`, or one batch generated once in memory (compute-only runs).
final class StepInputs {
    let loader: TrainingLoader?
    /// The current batch: this rank's `localBatch` samples.
    private(set) var batch: Batch

    init(config: ModelConfig, localBatch: Int, globalBatch: Int, world: Communicator, dataFile: String?,
         seed: UInt64) throws {
        let length = config.tokensPerSample
        let isImage = config.kind == .image
        let kind: DatasetKind = switch config.kind {
        case .lm: .tokens
        case .sequence: .sequences
        case .image: .images
        }
        let pixelCount = config.imageSize * config.imageSize * config.channels
        // Synthetic inputs: tokens [n, L] ids in 0 ..< vocab; targets (lm) [n, L] ids, labels
        // (image, sequence) [n] classes; pixels (image) [n, H·W·C] normal(0, 1), HWC.
        batch = Batch(filling: kind, capacity: localBatch, pixelsPerSample: isImage ? pixelCount : 0,
                      sequenceLength: isImage ? 0 : length)
        let random = CounterRandom(seed: seed, stream: 99, UInt64(world.rank))
        for i in 0 ..< batch.tokens.count {
            batch.tokens.pointer[i] = Int32(random.word(at: UInt64(i)) % UInt32(config.vocabSize))
        }
        let targets = config.kind == .lm ? batch.targets : batch.labels
        let bound = config.kind == .lm ? config.vocabSize : config.numClasses
        for i in 0 ..< targets.count {
            targets.pointer[i] = Int32(random.word(at: UInt64(1 << 40 + i)) % UInt32(bound))
        }
        if isImage {
            random.fillNormal(batch.pixels.pointer, count: batch.pixels.count, standardDeviation: 1, firstIndex: 1 << 50)
        }

        if let dataFile {
            let split = try DatasetSplit.open(dataFile)
            loader = try TrainingLoader(split: split, globalBatchSize: globalBatch, worldSize: world.size,
                                        rank: world.rank, seed: seed, sequenceLength: isImage ? nil : length)
        } else {
            loader = nil
        }
    }

    /// Takes the next batch from the loader (if any); returns the seconds `next()` blocked.
    func advance() throws -> Double {
        guard let loader else { return 0 }
        let before = loader.waitSeconds
        batch = try loader.next()
        return loader.waitSeconds - before
    }
}
