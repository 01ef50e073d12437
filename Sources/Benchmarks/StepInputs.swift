import Datasets
import FlowModel
import MPIComm
import TensorKernels

/// The inputs of each benchmark step: either a real split read through the trainer's prefetching
/// `TrainingLoader`, or buffers generated once in memory (compute-only runs).
final class StepInputs {
    let config: ModelConfig
    let localBatch: Int
    let loader: TrainingLoader?
    private var batch: Batch?

    // Synthetic inputs (used when there is no loader).
    let tokens: Int32Buffer    // lm, sequence: [n, L] ids in 0 ..< vocab
    let targets: Int32Buffer   // lm: [n, L] ids; image, sequence: [n] classes
    let pixels: Tensor<Float>  // image: [n, H·W·C] normal(0, 1), HWC

    init(config: ModelConfig, localBatch: Int, globalBatch: Int, world: Communicator, dataFile: String?,
         seed: UInt64) throws {
        self.config = config
        self.localBatch = localBatch
        let length = config.tokensPerSample
        let random = CounterRandom(seed: seed, stream: 99, UInt64(world.rank))
        let isImage = config.kind == .image
        tokens = Int32Buffer(shape: isImage ? [0] : [localBatch, length])
        targets = Int32Buffer(shape: config.kind == .lm ? [localBatch, length] : [localBatch])
        let pixelCount = config.imageSize * config.imageSize * config.channels
        pixels = Tensor<Float>(isImage ? localBatch * pixelCount : 0)
        for i in 0 ..< tokens.count {
            tokens.pointer[i] = Int32(random.word(at: UInt64(i)) % UInt32(config.vocabSize))
        }
        for i in 0 ..< targets.count {
            let bound = config.kind == .lm ? config.vocabSize : config.numClasses
            targets.pointer[i] = Int32(random.word(at: UInt64(1 << 40 + i)) % UInt32(bound))
        }
        if isImage {
            random.fillNormal(pixels.pointer, count: pixels.count, standardDeviation: 1, firstIndex: 1 << 50)
        }

        if let dataFile {
            let split = try DatasetSplit.open(dataFile)
            loader = try TrainingLoader(split: split, globalBatchSize: globalBatch, worldSize: world.size,
                                        rank: world.rank, seed: seed,
                                        sequenceLength: config.kind == .image ? nil : length)
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

    /// Runs the model's forward on the current inputs.
    func forward(_ model: FlowformerModel<Float>, context: ForwardContext) -> LossSums {
        if let batch {
            switch config.kind {
            case .lm:
                return model.forward(.tokens(batch.tokens.pointer), targets: batch.targets.pointer,
                                     count: batch.count, context: context)
            case .image:
                return model.forward(.pixels(batch.pixels.pointer), targets: batch.labels.pointer,
                                     count: batch.count, context: context)
            case .sequence:
                return model.forward(.tokens(batch.tokens.pointer), targets: batch.labels.pointer,
                                     count: batch.count, context: context)
            }
        }
        let input: ModelInput<Float> = config.kind == .image ? .pixels(pixels.pointer) : .tokens(tokens.pointer)
        return model.forward(input, targets: targets.pointer, count: localBatch, context: context)
    }
}
