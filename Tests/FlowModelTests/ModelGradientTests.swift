import Testing
import TensorKernels
@testable import FlowModel

/// Whole-model gradients against central differences in Double, for every (kind, attention):
/// each model on tiny shapes with random (far from initial) parameters, n = 2 of maxBatch 3 (so
/// the partial-batch path runs), dropout 0.2 in training mode (masks are a pure function of the
/// context, so the loss is a deterministic function of the parameters), every parameter checked.
@Suite struct ModelGradientTests {
    @Test(arguments: allModelVariants)
    func everyParameterGradientMatchesCentralDifferences(kind: ModelKind, attention: AttentionKind) {
        let config = tinyConfig(kind, attention, dropout: 0.2)
        let model = FlowformerModel<Double>(config: config, maxBatch: 3, attentionChunk: 4)
        model.randomizeParameters(seed: 11)
        let batch = TestBatch(config: config, samples: 2, seed: 12)
        let context = ForwardContext(seed: 5, step: 3, firstSampleIndex: 7, training: true)
        // Fill the unused third row of every workspace with a full forward first: partial
        // batches must not pick up stale rows.
        _ = model.forward(TestBatch(config: config, samples: 3, seed: 13), context: context)

        model.zeroGradients()
        _ = model.forward(batch, context: context)
        model.backward(lossScale: 1)
        let analytic = model.gradients
        expectGradients("\(kind)/\(attention)", values: model.parameters.pointer, gradient: analytic.pointer,
                        indices: 0..<model.table.count) {
            model.forward(batch, context: context).lossSum
        }
    }

    @Test func lossScaleScalesAndBackwardAccumulates() {
        let config = tinyConfig(.sequence, .flow)
        let model = FlowformerModel<Double>(config: config, maxBatch: 2)
        model.randomizeParameters(seed: 1)
        let batch = TestBatch(config: config, samples: 2, seed: 2)
        model.zeroGradients()
        _ = model.forward(batch)
        model.backward(lossScale: 1)
        let once = model.gradients.array
        #expect(once.contains { $0 != 0 })
        _ = model.forward(batch)
        model.backward(lossScale: 0.25)
        for (i, g) in model.gradients.array.enumerated() {
            #expect(abs(g - 1.25 * once[i]) <= 1e-12 * max(1, abs(g)), "gradient \(i)")
        }
        model.zeroGradients()
        #expect(model.gradients.array.allSatisfy { $0 == 0 })
    }
}
