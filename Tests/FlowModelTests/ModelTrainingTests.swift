import Testing
import TensorKernels
@testable import FlowModel

@Suite struct ModelTrainingTests {
    /// Each (kind, attention) model in Float memorises one tiny batch with plain SGD written
    /// here: θ ← θ − lr · ∂(mean loss)/∂θ, from the initialisation of docs/FORMATS.md, "Model".
    @Test(arguments: allModelVariants)
    func overfitsOneTinyBatchWithPlainSGD(kind: ModelKind, attention: AttentionKind) {
        let config = tinyConfig(kind, attention)
        let model = FlowformerModel<Float>(config: config, maxBatch: 4, attentionChunk: 4)
        model.initializeParameters(seed: 3)
        let batch = TestBatch(config: config, samples: 4, seed: 4)
        let learningRate: Float = 0.5, steps = 400
        var first = 0.0, last = 0.0
        for step in 0..<steps {
            model.zeroGradients()
            let sums = model.forward(batch, context: ForwardContext(step: step, training: true))
            last = sums.lossSum / Double(sums.count)
            if step == 0 { first = last }
            if last < 0.01 { break }
            model.backward(lossScale: 1 / Float(sums.count))
            let p = model.parameters.pointer, g = model.gradients.pointer
            for i in 0..<model.table.count { p[i] -= learningRate * g[i] }
        }
        #expect(first > 0.5, "\(kind)/\(attention): the initial loss \(first) should be near log(classes)")
        #expect(last < 0.05, "\(kind)/\(attention): loss \(first) → \(last) after at most \(steps) steps")
    }
}
