import Testing
import TensorKernels
@testable import FlowModel

@Suite struct ModelDropoutTests {
    /// The mask SampleDropout applies to `samples` samples of ones.
    func mask(_ site: SampleDropout, samples: Int, width: Int, context: ForwardContext) -> [Double] {
        let x = Tensor<Double>(samples, width)
        x.fill(1)
        site.apply(x.pointer, samples: samples, elementsPerSample: width, context: context)
        return x.array
    }

    @Test func masksArePureFunctionsOfSeedStepSampleAndSite() {
        let width = 4000, p = 0.25
        let site = SampleDropout(layer: 1, site: 0, probability: p)
        let context = ForwardContext(seed: 9, step: 4, firstSampleIndex: 10, training: true)
        // The documented key: (seed, .dropout, step, global sample index, layer, site).
        #expect(site.random(for: context, sampleIndex: 12) == CounterRandom(seed: 9, domain: .dropout, stream: 4, 12, 1, 0))
        let together = mask(site, samples: 4, width: width, context: context)
        #expect(together == mask(site, samples: 4, width: width, context: context))
        // Sample 12 is the same whether it is the third of a call starting at 10 or the first of
        // a call starting at 12.
        var later = context
        later.firstSampleIndex = 12
        let split = mask(site, samples: 2, width: width, context: later)
        #expect(Array(together[2 * width ..< 4 * width]) == split)
        // Kept elements are scaled by 1/(1 − p); about p of them are dropped.
        #expect(together.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - p)) < 1e-15 })
        let dropped = Double(together.filter { $0 == 0 }.count) / Double(together.count)
        #expect(abs(dropped - p) < 0.02, "dropped fraction \(dropped)")
        // Every key word matters.
        let sampleZero = Array(together[0 ..< width])
        var other = context; other.step = 5
        #expect(mask(site, samples: 1, width: width, context: other) != sampleZero)
        other = context; other.seed = 10
        #expect(mask(site, samples: 1, width: width, context: other) != sampleZero)
        #expect(mask(SampleDropout(layer: 2, site: 0, probability: p), samples: 1, width: width, context: context) != sampleZero)
        #expect(mask(SampleDropout(layer: 1, site: 1, probability: p), samples: 1, width: width, context: context) != sampleZero)
        #expect(Array(together[width ..< 2 * width]) != sampleZero)
        // Off outside training, and for p = 0.
        other = context; other.training = false
        #expect(mask(site, samples: 2, width: width, context: other).allSatisfy { $0 == 1 })
        #expect(mask(SampleDropout(layer: 1, site: 0, probability: 0), samples: 2, width: width, context: context)
            .allSatisfy { $0 == 1 })
    }

    /// Forward on 4 samples at once equals 2 + 2 with firstSampleIndex set: per-sample outputs,
    /// loss sums and accumulated gradients agree (to rounding), so the masks were the same.
    @Test(arguments: ModelKind.allCases)
    func splittingTheBatchDoesNotChangeTheMasks(kind: ModelKind) {
        let config = tinyConfig(kind, .flow, dropout: 0.3)
        let whole = FlowformerModel<Double>(config: config, maxBatch: 4)
        let halves = FlowformerModel<Double>(config: config, maxBatch: 2)
        whole.randomizeParameters(seed: 51)
        halves.parameters.copy(from: whole.parameters)
        let batch = TestBatch(config: config, samples: 4, seed: 52)
        let context = ForwardContext(seed: 3, step: 8, firstSampleIndex: 0, training: true)

        whole.zeroGradients()
        let all = whole.forward(batch, context: context)
        let output = whole.residualStream[config.layers].array
        whole.backward(lossScale: 1)

        halves.zeroGradients()
        var sums = LossSums()
        let perSample = config.tokensPerSample * config.dModel
        for first in [0, 2] {
            var part = context
            part.firstSampleIndex = first
            sums += halves.forward(batch.slice(first, 2, config: config), context: part)
            let partOutput = halves.residualStream[config.layers].array
            for i in 0 ..< 2 * perSample {
                #expect(abs(partOutput[i] - output[first * perSample + i]) <= 1e-12,
                        "sample \(first + i / perSample) element \(i % perSample)")
            }
            halves.backward(lossScale: 1)
        }
        #expect(sums.count == all.count)
        #expect(abs(sums.lossSum - all.lossSum) <= 1e-12 * abs(all.lossSum))
        #expect(sums.correct == all.correct)
        for (i, (a, b)) in zip(whole.gradients.array, halves.gradients.array).enumerated() {
            #expect(abs(a - b) <= 1e-11 * max(1, abs(a)), "gradient \(i): \(a) vs \(b)")
        }

        // Dropout is really on: the same model without it gives another output.
        var noDropout = context
        noDropout.training = false
        _ = whole.forward(batch, context: noDropout)
        #expect(whole.residualStream[config.layers].array != output)
    }
}
