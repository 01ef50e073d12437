import TensorKernels

/// One dropout site of the model (block `layer`, `site` 0 after attention, 1 after the FFN),
/// applied to a [samples, tokens, dModel] buffer with masks keyed per sample:
///
///     y[b] = dropout(x[b]) with CounterRandom(seed, .dropout, step, firstSampleIndex + b, layer, site)
///
/// element e of sample b kept with probability 1 − p and scaled by 1/(1 − p) (TensorKernels'
/// `dropout`). Because the key holds the *global* sample index, the mask of a sample does not
/// depend on how many ranks or micro-batches share the batch. No mask is stored: backward is
/// the same call on the output gradient, which regenerates the mask.
///
/// The stream words live in an array allocated once and rewritten per sample, so building a
/// generator creates no array in optimised builds (`CounterRandom(seed:domain:stream:…)`
/// would build two).
final class SampleDropout {
    /// Block index.
    public let layer: Int
    /// Position inside the block: 0 after attention, 1 after the feed-forward network.
    public let site: Int
    /// Drop probability p in [0, 1).
    public let probability: Double
    /// (dropout domain, step, sample, layer, site): the stream words of the current sample.
    private var streamWords: [UInt64]

    public init(layer: Int, site: Int, probability: Double) {
        precondition(probability >= 0 && probability < 1, "dropout probability \(probability) is outside [0, 1)")
        self.layer = layer
        self.site = site
        self.probability = probability
        streamWords = [RandomDomain.dropout.rawValue, 0, 0, UInt64(truncatingIfNeeded: layer),
                       UInt64(truncatingIfNeeded: site)]
    }

    /// Whether `apply` changes anything in this context (training and p > 0).
    public func isActive(in context: ForwardContext) -> Bool { context.training && probability > 0 }

    /// The generator of sample `sampleIndex` (global) in `context`: the same as
    /// `CounterRandom(seed: seed, domain: .dropout, stream: step, sampleIndex, layer, site)`.
    public func random(for context: ForwardContext, sampleIndex: Int) -> CounterRandom {
        streamWords[1] = UInt64(truncatingIfNeeded: context.step)
        streamWords[2] = UInt64(truncatingIfNeeded: sampleIndex)
        return CounterRandom(seed: context.seed, streamWords: streamWords)
    }

    /// In place on x [samples, elementsPerSample]: forward on activations, backward on their
    /// gradients (the same mask and scale). Does nothing unless `isActive(in: context)`.
    public func apply<Scalar: TensorScalar>(
        _ x: UnsafeMutablePointer<Scalar>, samples: Int, elementsPerSample: Int, context: ForwardContext
    ) {
        guard isActive(in: context) else { return }
        for b in 0..<samples {
            let sample = x + b &* elementsPerSample
            dropout(sample, into: sample, count: elementsPerSample, probability: probability,
                    random: random(for: context, sampleIndex: context.firstSampleIndex &+ b))
        }
    }
}
