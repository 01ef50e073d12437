#if canImport(Glibc)
import Glibc
#endif
import Testing
import TensorKernels
@testable import FlowModel

@Suite struct LayerBlockTests {
    /// One pre-LN block (of a tiny model, random parameters, dropout on) against central
    /// differences: ∂/∂x and every parameter of the block, for loss = Σ y ⊙ R.
    @Test(arguments: [(ModelKind.lm, AttentionKind.flow), (.lm, .softmax), (.lm, .linear),
                      (.sequence, .flow), (.sequence, .softmax), (.sequence, .linear)])
    func blockGradientsMatchCentralDifferences(kind: ModelKind, attention: AttentionKind) {
        let config = tinyConfig(kind, attention, dropout: 0.25)
        let model = FlowformerModel<Double>(config: config, maxBatch: 3, attentionChunk: 4)
        model.randomizeParameters(seed: 61)
        let block = model.blocks[1]
        let n = 2, width = config.tokensPerSample * config.dModel
        var random = TestRandom(seed: 62)
        let x = makeTensor(random.values(3 * width))
        let projection = makeTensor(random.values(n * width))
        let y = Tensor<Double>(3 * width)
        let context = ForwardContext(seed: 4, step: 1, firstSampleIndex: 5, training: true)
        func loss() -> Double {
            block.forward(input: x.pointer, output: y.pointer, samples: n, parameters: model.parameters.pointer,
                          context: context, scratch: model.scratch)
            return dotProduct(y.pointer, projection.pointer, count: n * width)
        }
        _ = loss()
        model.zeroGradients()
        let dX = Tensor<Double>(3 * width)  // maxBatch rows; ∂loss/∂y of the n used samples
        dX.pointer.update(from: projection.pointer, count: n * width)
        block.backward(input: x.pointer, residualGradient: dX.pointer, samples: n, parameters: model.parameters.pointer,
                       gradients: model.gradients.pointer, context: context, scratch: model.scratch)
        expectGradients("block input", values: x.pointer, gradient: dX.pointer, indices: 0..<(n * width), loss: loss)
        let range = model.layout.blocks[1].range
        // Parameters outside the block get nothing.
        #expect(model.gradients.array.enumerated().allSatisfy { range.contains($0.offset) || $0.element == 0 })
        expectGradients("block parameters", values: model.parameters.pointer, gradient: model.gradients.pointer,
                        indices: range, loss: loss)
    }

    @Test func sampleCrossEntropyMatchesNaiveLossAndItsGradient() {
        let (samples, rows, classes) = (3, 4, 5)
        var random = TestRandom(seed: 71)
        let logits = random.values(samples * rows * classes, scale: 3)
        var targets = random.tokens(samples * rows, below: classes)
        // Make row 0 of sample 0 correct for sure, so that `correct` is not trivially 0.
        let row0 = Array(logits[0 ..< classes])
        targets[0] = Int32(row0.firstIndex(of: row0.max()!)!)
        let predictions = UnsafeMutablePointer<Int32>.allocate(capacity: samples * rows)
        defer { predictions.deallocate() }
        func run(_ values: [Double]) -> (LossSums, [Double]) {
            let z = makeTensor(values)
            let sums = SampleCrossEntropy.forwardAndGradient(logits: z.pointer, targets: targets, predictions: predictions,
                                                             samples: samples, rowsPerSample: rows, classes: classes)
            return (sums, z.array)
        }
        let (sums, gradient) = run(logits)
        var naiveLoss = 0.0, naiveCorrect = 0.0
        for b in 0..<samples {
            for r in 0..<rows {
                let z = Array(logits[(b * rows + r) * classes ..< (b * rows + r + 1) * classes])
                let t = Int(targets[b * rows + r])
                naiveLoss += (log(z.map { exp($0) }.reduce(0, +)) - z[t]) / Double(rows)
                if z.firstIndex(of: z.max()!)! == t { naiveCorrect += 1 / Double(rows) }
            }
        }
        #expect(sums.count == samples)
        #expect(abs(sums.lossSum - naiveLoss) < 1e-12)
        #expect(abs(sums.correct - naiveCorrect) < 1e-12 && naiveCorrect > 0)
        let values = makeTensor(logits), analytic = makeTensor(gradient)
        expectGradients("logits", values: values.pointer, gradient: analytic.pointer, indices: 0..<values.count) {
            run(values.array).0.lossSum
        }
    }

    /// Dropout is linear in x with a fixed mask, and its backward is the same call.
    @Test func dropoutBackwardIsTheSameMaskOnTheGradient() {
        let site = SampleDropout(layer: 0, site: 1, probability: 0.4)
        let context = ForwardContext(seed: 2, step: 7, firstSampleIndex: 3, training: true)
        let (samples, width) = (2, 30)
        var random = TestRandom(seed: 81)
        let x = makeTensor(random.values(samples * width))
        let projection = makeTensor(random.values(samples * width))
        let gradient = Tensor<Double>(samples * width)
        gradient.copy(from: projection)
        site.apply(gradient.pointer, samples: samples, elementsPerSample: width, context: context)
        #expect(gradient.array.contains(0) && gradient.array != projection.array)
        expectGradients("dropout input", values: x.pointer, gradient: gradient.pointer, indices: 0..<x.count) {
            let y = makeTensor(x.array)
            site.apply(y.pointer, samples: samples, elementsPerSample: width, context: context)
            return dotProduct(y.pointer, projection.pointer, count: samples * width)
        }
    }
}
