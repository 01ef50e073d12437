import Testing
import TensorKernels
@testable import FlowModel

@Suite struct ModelStructureTests {
    /// In `lm`, the final hidden state of position i (which alone, with head.weight, gives the
    /// logits and the loss term of position i) must not change when tokens after i change.
    @Test(arguments: AttentionKind.allCases)
    func languageModelIsCausal(attention: AttentionKind) {
        let config = tinyConfig(.lm, attention)
        let (l, d) = (config.seqLen, config.dModel)
        let model = FlowformerModel<Double>(config: config, maxBatch: 2, attentionChunk: 4)
        model.randomizeParameters(seed: 21)
        let original = TestBatch(config: config, samples: 2, seed: 22)
        _ = model.forward(original)
        let reference = model.normOutput.array
        let referenceGradient = model.logits.array  // ∂loss/∂logits: a function of logits row and target
        for i in 0..<(l - 1) {
            var changed = original
            for b in 0..<2 {
                for j in (i + 1)..<l {
                    changed.tokens[b * l + j] = (changed.tokens[b * l + j] + 1 + Int32(j % 3)) % Int32(config.vocabSize)
                }
            }
            _ = model.forward(changed)
            let hidden = model.normOutput.array, gradient = model.logits.array
            let v = config.vocabSize
            for b in 0..<2 {
                for t in 0...i {
                    let row = (b * l + t) * d
                    let same = (0..<d).allSatisfy { abs(hidden[row + $0] - reference[row + $0]) <= 1e-12 }
                    #expect(same, "\(attention): position \(t) changed when tokens after \(i) changed")
                    let logitRow = (b * l + t) * v
                    let sameLoss = (0..<v).allSatisfy {
                        abs(gradient[logitRow + $0] - referenceGradient[logitRow + $0]) <= 1e-12
                    }
                    #expect(sameLoss, "\(attention): loss term of position \(t) changed (tokens after \(i))")
                }
                // And the change is visible from position i + 1 on: the test can fail.
                let next = (b * l + i + 1) * d
                #expect((0..<d).contains { abs(hidden[next + $0] - reference[next + $0]) > 1e-9 })
            }
        }
    }

    /// The hook reports the final norm + head, each block from last to first in five parts (fc2,
    /// fc1, norm2, the attention projections, norm1: as backward finishes them), then the
    /// embeddings: together every index exactly once, and no range changes after its report.
    @Test(arguments: ModelKind.allCases)
    func gradientReadyRangesTileTheBufferInReverseOrder(kind: ModelKind) {
        let config = tinyConfig(kind, .flow, dropout: 0.1)
        let model = FlowformerModel<Double>(config: config, maxBatch: 2)
        model.randomizeParameters(seed: 31)
        let batch = TestBatch(config: config, samples: 2, seed: 32)
        model.zeroGradients()
        _ = model.forward(batch, context: ForwardContext(seed: 1, step: 0, firstSampleIndex: 0, training: true))
        var reports: [(range: Range<Int>, values: [Double])] = []
        model.backward(lossScale: 1) { range in
            reports.append((range, Array(model.gradients.buffer[range])))
        }
        // Each block's parts, from the parameter names: where norm1, the attention projections,
        // norm2, fc1 and fc2 begin, and where the block ends.
        let blockParts = model.layout.blockRanges.enumerated().reversed().flatMap { i, block -> [Range<Int>] in
            let starts = ["norm1.weight", "attn.query.weight", "norm2.weight", "ffn.fc1.weight", "ffn.fc2.weight"]
                .map { model.table["blocks.\(i).\($0)"]?.offset ?? -1 } + [block.upperBound]
            return (0..<5).reversed().map { starts[$0] ..< starts[$0 + 1] }
        }
        let expected = [model.layout.final] + blockParts + [model.layout.embeddings]
        #expect(reports.map(\.range) == expected)
        #expect(reports.first?.range.upperBound == model.table.count)
        #expect(reports.last?.range.lowerBound == 0)
        for (earlier, later) in zip(reports, reports.dropFirst()) {
            #expect(later.range.upperBound == earlier.range.lowerBound, "ranges must be adjacent and descending")
        }
        var covered = [Int](repeating: 0, count: model.table.count)
        for report in reports { for i in report.range { covered[i] += 1 } }
        #expect(covered.allSatisfy { $0 == 1 })
        for report in reports {
            #expect(Array(model.gradients.buffer[report.range]) == report.values,
                    "gradients in \(report.range) changed after they were reported ready")
            #expect(report.values.contains { $0 != 0 }, "range \(report.range) reported with no gradient in it")
        }
    }

    /// patch_embed.weight [d_model, C·p·p] reshaped to [d_model, C, p, p] is the weight of a
    /// Conv2d with kernel p and stride p: the embedding (before pos_embed) equals the naive
    /// convolution of the HWC image.
    @Test func patchEmbeddingIsAStridedConvolution() throws {
        let config = tinyConfig(.image, .softmax)
        let model = FlowformerModel<Double>(config: config, maxBatch: 2)
        model.randomizeParameters(seed: 41)
        let batch = TestBatch(config: config, samples: 2, seed: 42)
        _ = model.forward(batch)
        let (size, c, p, d) = (config.imageSize, config.channels, config.patch, config.dModel)
        let grid = size / p
        let weight = try #require(model.table["patch_embed.weight"])
        let bias = try #require(model.table["patch_embed.bias"])
        let position = try #require(model.table["pos_embed"])
        let embedded = model.residualStream[0]
        for b in 0..<2 {
            for gy in 0..<grid {
                for gx in 0..<grid {
                    for o in 0..<d {
                        var conv = model.parameters[bias.offset + o]
                        for channel in 0..<c {
                            for r in 0..<p {
                                for s in 0..<p {
                                    let w = model.parameters[weight.offset + ((o * c + channel) * p + r) * p + s]
                                    let pixel = batch.pixels[b * size * size * c + ((gy * p + r) * size + gx * p + s) * c + channel]
                                    conv += w * pixel
                                }
                            }
                        }
                        let token = gy * grid + gx
                        let value = embedded[(b * grid * grid + token) * d + o] - model.parameters[position.offset + token * d + o]
                        #expect(abs(value - conv) <= 1e-12, "sample \(b) patch (\(gy), \(gx)) feature \(o)")
                    }
                }
            }
        }
    }

    @Test func initializationFollowsTheSpecAndTheSeed() {
        let config = tinyConfig(.sequence, .flow)
        let a = FlowformerModel<Double>(config: config, maxBatch: 1)
        let b = FlowformerModel<Double>(config: config, maxBatch: 1)
        let c = FlowformerModel<Float>(config: config, maxBatch: 1)
        a.initializeParameters(seed: 7)
        b.initializeParameters(seed: 7)
        c.initializeParameters(seed: 7)
        #expect(a.parameters.array == b.parameters.array)
        #expect(zip(a.parameters.array, c.parameters.array).allSatisfy { Float($0) == $1 })
        b.initializeParameters(seed: 8)
        #expect(a.parameters.array != b.parameters.array)

        let layerNormWeights = Set(a.layout.layerNormWeights.map(\.name))
        var drawn: [Double] = []
        for entry in a.table.entries {
            let values = Array(a.parameters.buffer[entry.range])
            if layerNormWeights.contains(entry.name) {
                #expect(values.allSatisfy { $0 == 1 }, "\(entry.name) must start at 1")
            } else if entry.name.hasSuffix(".bias") {
                #expect(values.allSatisfy { $0 == 0 }, "\(entry.name) must start at 0")
            } else {
                drawn += values
            }
        }
        // Every weight, embedding and pos_embed ~ normal(0, 0.02).
        let mean = drawn.reduce(0, +) / Double(drawn.count)
        let std = (drawn.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(drawn.count)).squareRoot()
        #expect(drawn.count > 1000)
        #expect(abs(mean) < 0.002 && abs(std - 0.02) < 0.002, "mean \(mean), std \(std)")
    }
}
