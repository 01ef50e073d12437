import Testing
import TensorKernels
@testable import FlowModel

/// The tiny shapes of the model tests: d_model 8, 2 heads, 2 layers, ff 16, seq 6, vocab 11,
/// 8×8×2 images in 4×4 patches, 3 classes.
func tinyConfig(_ kind: ModelKind, _ attention: AttentionKind, dropout: Double = 0) -> ModelConfig {
    var config = ModelConfig()
    config.kind = kind
    config.attention = attention
    config.dModel = 8
    config.heads = 2
    config.layers = 2
    config.ff = 16
    config.dropout = dropout
    config.seqLen = 6
    config.vocabSize = 11
    config.numClasses = 3
    config.imageSize = 8
    config.channels = 2
    config.patch = 4
    return config
}

/// Every (kind, attention) pair.
let allModelVariants: [(ModelKind, AttentionKind)] =
    ModelKind.allCases.flatMap { kind in AttentionKind.allCases.map { (kind, $0) } }

/// Inputs and targets for `samples` samples of a model with `config`.
struct TestBatch {
    var samples: Int
    var tokens: [Int32] = []    // lm, sequence: [n, L]
    var pixels: [Double] = []   // image: [n, H·W·C]
    var targets: [Int32]        // lm: [n, L]; classifiers: [n]

    init(config: ModelConfig, samples: Int, seed: UInt64) {
        var random = TestRandom(seed: seed)
        self.samples = samples
        switch config.kind {
        case .lm, .sequence:
            tokens = random.tokens(samples * config.seqLen, below: config.vocabSize)
        case .image:
            pixels = random.values(samples * config.imageSize * config.imageSize * config.channels)
        }
        targets = config.kind == .lm
            ? random.tokens(samples * config.seqLen, below: config.vocabSize)
            : random.tokens(samples, below: config.numClasses)
    }

    /// Samples first ..< first + count.
    func slice(_ first: Int, _ count: Int, config: ModelConfig) -> TestBatch {
        var copy = self
        copy.samples = count
        let l = config.seqLen, pixelsPerSample = config.imageSize * config.imageSize * config.channels
        if !tokens.isEmpty { copy.tokens = Array(tokens[first * l ..< (first + count) * l]) }
        if !pixels.isEmpty { copy.pixels = Array(pixels[first * pixelsPerSample ..< (first + count) * pixelsPerSample]) }
        let targetsPerSample = targets.count / samples
        copy.targets = Array(targets[first * targetsPerSample ..< (first + count) * targetsPerSample])
        return copy
    }
}

extension FlowformerModel {
    /// forward on `batch`, converting pixels to Scalar.
    func forward(_ batch: TestBatch, context: ForwardContext = ForwardContext()) -> LossSums {
        batch.targets.withUnsafeBufferPointer { targets in
            if batch.pixels.isEmpty {
                return batch.tokens.withUnsafeBufferPointer {
                    forward(.tokens($0.baseAddress!), targets: targets.baseAddress!, count: batch.samples, context: context)
                }
            }
            let pixels = batch.pixels.map { Scalar($0) }
            return pixels.withUnsafeBufferPointer {
                forward(.pixels($0.baseAddress!), targets: targets.baseAddress!, count: batch.samples, context: context)
            }
        }
    }

    /// Parameters drawn far from the 0.02 initialisation so that every nonlinearity matters:
    /// weights and biases uniform in ±scale, LayerNorm weights 1 ± 0.3.
    func randomizeParameters(seed: UInt64, scale: Double = 0.5) {
        var random = TestRandom(seed: seed)
        for i in 0..<parameters.count { parameters[i] = Scalar(random.uniform(scale)) }
        for entry in layout.layerNormWeights {
            for i in entry.range { parameters[i] = Scalar(1 + random.uniform(0.3)) }
        }
    }
}
