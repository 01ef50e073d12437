import FlowModel
import Testing
@testable import Benchmarks

/// The FLOP formula against a count made another way: listing every product of the forward pass
/// as a GEMM shape and summing 2·m·n·k.
@Suite struct ModelFlopsTests {
    /// Every forward matrix product of one sample, from the architecture (docs/FORMATS.md, "Model").
    static func forwardProducts(_ c: ModelConfig) -> [GemmShape] {
        let t = c.tokensPerSample, d = c.dModel, dh = c.headDim
        var products: [GemmShape] = []
        for _ in 0..<c.layers {
            for name in ["query", "key", "value", "out"] {
                products.append(GemmShape(name: name, m: t, n: d, k: d, transposeB: true))
            }
            products.append(GemmShape(name: "fc1", m: t, n: c.ff, k: d, transposeB: true))
            products.append(GemmShape(name: "fc2", m: t, n: d, k: c.ff, transposeB: true))
            for _ in 0..<c.heads {
                switch c.attention {
                case .flow, .linear:
                    products.append(GemmShape(name: "K^T V", m: dh, n: dh, k: t, transposeA: true))
                    products.append(GemmShape(name: "Q state", m: t, n: dh, k: dh))
                case .softmax:
                    if c.causal {
                        // Row i of Q·Kᵀ and of P·V covers i + 1 keys.
                        for i in 0..<t {
                            products.append(GemmShape(name: "q k", m: 1, n: i + 1, k: dh))
                            products.append(GemmShape(name: "p v", m: 1, n: dh, k: i + 1))
                        }
                    } else {
                        products.append(GemmShape(name: "Q K^T", m: t, n: t, k: dh, transposeB: true))
                        products.append(GemmShape(name: "P V", m: t, n: dh, k: t))
                    }
                }
            }
        }
        switch c.kind {
        case .lm:
            products.append(GemmShape(name: "head", m: t, n: c.vocabSize, k: d, transposeB: true))
        case .image:
            products.append(GemmShape(name: "patch_embed", m: t, n: d, k: c.channels * c.patch * c.patch,
                                      transposeB: true))
            products.append(GemmShape(name: "head", m: 1, n: c.numClasses, k: d, transposeB: true))
        case .sequence:
            products.append(GemmShape(name: "head", m: 1, n: c.numClasses, k: d, transposeB: true))
        }
        return products
    }

    static func config(_ kind: ModelKind, _ attention: AttentionKind) -> ModelConfig {
        var c = ModelConfig()
        c.kind = kind
        c.attention = attention
        c.dModel = 48
        c.heads = 3
        c.layers = 2
        c.ff = 96
        c.seqLen = 20
        c.vocabSize = 37
        c.numClasses = 7
        c.imageSize = 12
        c.channels = 3
        c.patch = 4
        return c
    }

    @Test(arguments: [ModelKind.lm, .image, .sequence], AttentionKind.allCases)
    func formulaMatchesTheListOfProducts(kind: ModelKind, attention: AttentionKind) {
        let c = Self.config(kind, attention)
        let listed = Self.forwardProducts(c).reduce(0) { $0 + $1.flops }
        #expect(ModelFlops.forwardPerSample(c) == listed)
        #expect(ModelFlops.trainingStep(c, samples: 5) == 15 * listed)
    }

    @Test func issueLanguageModelIsAbout19MegaflopsPerTokenPerStep() {
        var c = ModelConfig()  // defaults: lm, flow, 256, 8 heads, 4 layers, ff 1024, seq 1024, vocab 256
        c.kind = .lm
        let perToken = ModelFlops.trainingStep(c, samples: 1) / Double(c.seqLen)
        // 3 · (4 · (8·256² + 4·256·1024 + 4·256·32) + 2·256·256)
        let perLayer: Double = 8 * 65536 + 4 * 262_144 + 32768
        let head: Double = 131_072
        #expect(perToken == 3 * (4 * perLayer + head))
    }
}
