import Testing
import TensorKernels
@testable import FlowModel

@Suite struct LayerEmbeddingTests {
    @Test func tokenEmbeddingGathersRowsAndScatterAddsGradients() {
        var random = TestRandom(seed: 1)
        let (rows, vocab, d) = (7, 5, 3)
        var tokens = random.tokens(rows, below: vocab)
        tokens[3] = tokens[0]  // a repeated token must accumulate twice
        let table = makeTensor(random.values(vocab * d))
        let out = Tensor<Double>(rows, d)
        let projection = makeTensor(random.values(rows * d))  // loss = Σ out ⊙ projection
        TokenEmbedding.forward(tokens: tokens, table: table.pointer, into: out.pointer, rows: rows, vocab: vocab, dModel: d)
        for r in 0..<rows {
            for c in 0..<d { #expect(out[r * d + c] == table[Int(tokens[r]) * d + c]) }
        }
        let grad = makeTensor(random.values(vocab * d))  // pre-existing gradient: backward must add
        let before = grad.array
        TokenEmbedding.backward(tokens: tokens, dOut: projection.pointer, dTable: grad.pointer, rows: rows, dModel: d)
        let increment = Tensor<Double>(vocab * d)
        for i in 0..<(vocab * d) { increment[i] = grad[i] - before[i] }
        expectGradients("embed.weight", values: table.pointer, gradient: increment.pointer, indices: 0..<(vocab * d)) {
            TokenEmbedding.forward(tokens: tokens, table: table.pointer, into: out.pointer, rows: rows, vocab: vocab, dModel: d)
            return dotProduct(out.pointer, projection.pointer, count: rows * d)
        }
    }

    @Test func positionEmbeddingAddsPerPositionAndSumsOverSamples() {
        var random = TestRandom(seed: 2)
        let (samples, positions, d) = (3, 4, 2)
        let input = random.values(samples * positions * d)
        let table = makeTensor(random.values(positions * d))
        let x = makeTensor(input)
        PositionEmbedding.forward(adding: table.pointer, to: x.pointer, samples: samples, positions: positions, dModel: d)
        for b in 0..<samples {
            for t in 0..<positions {
                for c in 0..<d {
                    let i = (b * positions + t) * d + c
                    #expect(x[i] == input[i] + table[t * d + c])
                }
            }
        }
        let projection = makeTensor(random.values(samples * positions * d))
        let grad = Tensor<Double>(positions * d)
        grad.fill(0.5)
        PositionEmbedding.backward(dX: projection.pointer, dTable: grad.pointer, samples: samples, positions: positions, dModel: d)
        for i in 0..<(positions * d) { grad[i] -= 0.5 }
        expectGradients("pos_embed", values: table.pointer, gradient: grad.pointer, indices: 0..<(positions * d)) {
            let y = makeTensor(input)
            PositionEmbedding.forward(adding: table.pointer, to: y.pointer, samples: samples, positions: positions, dModel: d)
            return dotProduct(y.pointer, projection.pointer, count: samples * positions * d)
        }
    }

    @Test func meanPoolAveragesTokensAndSpreadsGradient() {
        var random = TestRandom(seed: 3)
        let (samples, tokens, d) = (2, 5, 3)
        let x = makeTensor(random.values(samples * tokens * d))
        let pooled = Tensor<Double>(samples, d)
        MeanPool.forward(x.pointer, into: pooled.pointer, samples: samples, tokens: tokens, dModel: d)
        for b in 0..<samples {
            for c in 0..<d {
                let mean = (0..<tokens).map { x[(b * tokens + $0) * d + c] }.reduce(0, +) / Double(tokens)
                #expect(abs(pooled[b * d + c] - mean) < 1e-14)
            }
        }
        let projection = makeTensor(random.values(samples * d))
        let dX = Tensor<Double>(samples, tokens, d)
        MeanPool.backward(dPooled: projection.pointer, dX: dX.pointer, samples: samples, tokens: tokens, dModel: d)
        expectGradients("mean pool input", values: x.pointer, gradient: dX.pointer, indices: 0..<x.count) {
            MeanPool.forward(x.pointer, into: pooled.pointer, samples: samples, tokens: tokens, dModel: d)
            return dotProduct(pooled.pointer, projection.pointer, count: samples * d)
        }
    }

    @Test func patchExtractionUsesChannelRowColumnOrder() {
        let (samples, height, width, channels, p) = (2, 4, 6, 3, 2)
        // Pixel value encodes its coordinates: b·1000 + y·100 + x·10 + c.
        var pixels = [Double](repeating: 0, count: samples * height * width * channels)
        for b in 0..<samples {
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<channels {
                        pixels[b * height * width * channels + (y * width + x) * channels + c] =
                            Double(b * 1000 + y * 100 + x * 10 + c)
                    }
                }
            }
        }
        let grid = (height / p) * (width / p), features = channels * p * p
        let patches = Tensor<Double>(samples, grid, features)
        PatchExtraction.forward(pixels: pixels, into: patches.pointer, samples: samples,
                                height: height, width: width, channels: channels, patch: p)
        for b in 0..<samples {
            for gy in 0..<(height / p) {
                for gx in 0..<(width / p) {
                    for c in 0..<channels {
                        for r in 0..<p {
                            for s in 0..<p {
                                let token = gy * (width / p) + gx
                                let f = (c * p + r) * p + s
                                let expected = Double(b * 1000 + (gy * p + r) * 100 + (gx * p + s) * 10 + c)
                                #expect(patches[(b * grid + token) * features + f] == expected)
                            }
                        }
                    }
                }
            }
        }
    }
}

@Suite struct LayerParameterLayoutTests {
    @Test(arguments: ModelKind.allCases)
    func layoutIsContiguousNamedAndCoversTheBuffer(kind: ModelKind) {
        var config = ModelConfig()
        config.kind = kind
        config.dModel = 8; config.heads = 2; config.layers = 2; config.ff = 16
        config.seqLen = 6; config.vocabSize = 11; config.numClasses = 3
        config.imageSize = 8; config.channels = 2; config.patch = 4
        let layout = ParameterLayout(config)
        let table = layout.table
        var next = 0
        for entry in table.entries {
            #expect(entry.offset == next, "\(entry.name) starts at \(entry.offset), expected \(next)")
            next += entry.count
        }
        #expect(next == table.count)
        // The hook ranges tile the buffer in layer order.
        var ranges = [layout.embeddings] + layout.blockRanges + [layout.final]
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == table.count)
        while ranges.count > 1 { let r = ranges.removeFirst(); #expect(r.upperBound == ranges[0].lowerBound) }

        let d = 8
        #expect(table["pos_embed"]?.shape == [config.tokensPerSample, d])
        #expect(table["blocks.1.attn.value.weight"]?.shape == [d, d])
        #expect(table["blocks.1.ffn.fc1.weight"]?.shape == [16, d])
        #expect(table["blocks.1.ffn.fc2.weight"]?.shape == [d, 16])
        #expect(table["norm.bias"]?.shape == [d])
        #expect(table["head.weight"]?.shape == [config.outputs, d])
        #expect((table["head.bias"] != nil) == (kind != .lm))
        #expect((table["embed.weight"] != nil) == (kind != .image))
        #expect(table["patch_embed.weight"]?.shape == (kind == .image ? [d, 2 * 4 * 4] : nil))
        for entry in table.entries {
            let isLinearWeight = entry.name.hasSuffix(".weight") && entry.shape.count == 2 && entry.name != "embed.weight"
            #expect(entry.decays == isLinearWeight, "\(entry.name) decays = \(entry.decays)")
        }
        #expect(table.entries.count == (kind == .image ? 3 : 2) + 2 * 16 + (kind == .lm ? 3 : 4))
    }
}
