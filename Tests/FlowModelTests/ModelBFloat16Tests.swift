import Testing
import TensorKernels
@testable import FlowModel

/// Every model kind × attention kind with `precision = .bf16` against the same Float model in
/// fp32: the last block's output, the loss and every gradient agree within a bf16 tolerance.
///
/// The tolerance: each Linear operand is rounded to 8 significant bits (relative error ≤ 2⁻⁹ ≈
/// 0.2 %), and the errors of a few layers add up; we allow a relative L2 error of 3 % on the
/// block output and 5 % on the whole gradient vector, and 1 % on the loss. The bf16 run must
/// also differ from fp32 (the products really are rounded), while fp32 twice is bitwise equal.
@Suite("bf16 model against fp32")
struct ModelBFloat16Tests {
    static let combinations: [(ModelKind, AttentionKind)] =
        ModelKind.allCases.flatMap { kind in AttentionKind.allCases.map { (kind, $0) } }

    /// A tiny model of `kind` × `attention`, wide enough (d_model 32, 4 heads) for bf16 to matter.
    static func config(_ kind: ModelKind, _ attention: AttentionKind) -> ModelConfig {
        var config = tinyConfig(kind, attention)
        config.dModel = 32
        config.heads = 4
        config.ff = 64
        if kind != .image { config.seqLen = 16 }
        return config
    }

    @Test(arguments: combinations)
    func bf16FollowsFp32(kind: ModelKind, attention: AttentionKind) {
        let config = Self.config(kind, attention)
        let batch = TestBatch(config: config, samples: 3, seed: 71)

        func run(_ precision: MatmulPrecision) -> (loss: Double, output: [Float], gradients: [Float]) {
            let model = FlowformerModel<Float>(config: config, maxBatch: 3, precision: precision)
            model.randomizeParameters(seed: 72, scale: 0.3)
            model.zeroGradients()
            let sums = model.forward(batch)
            let output = model.residualStream[config.layers].array   // last block's output [n, T, D]
            model.backward(lossScale: 1 / Float(sums.count))
            return (Double(sums.lossSum) / Double(sums.count), output, model.gradients.array)
        }
        let fp32 = run(.fp32), again = run(.fp32), bf16 = run(.bf16)
        #expect(fp32.gradients.map(\.bitPattern) == again.gradients.map(\.bitPattern))

        func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
            var difference = 0.0, norm = 0.0
            for i in a.indices {
                difference += (Double(a[i]) - Double(b[i])) * (Double(a[i]) - Double(b[i]))
                norm += Double(b[i]) * Double(b[i])
            }
            return (difference / norm).squareRoot()
        }
        let lossError = abs(bf16.loss - fp32.loss) / abs(fp32.loss)
        let outputError = relativeL2(bf16.output, fp32.output)
        let gradientError = relativeL2(bf16.gradients, fp32.gradients)
        #expect(lossError <= 1e-2, "loss: relative error \(lossError)")
        #expect(outputError <= 3e-2, "last block output: relative L2 error \(outputError)")
        #expect(gradientError <= 5e-2, "gradients: relative L2 error \(gradientError)")
        #expect(gradientError > 1e-6, "bf16 gradients equal fp32's: are the products rounded at all?")
    }

    @Test("a Double model ignores the precision (gradient checks stay exact)")
    func doubleModelsStayExact() {
        let config = tinyConfig(.lm, .flow)
        let batch = TestBatch(config: config, samples: 2, seed: 5)
        var results: [[Double]] = []
        for precision in MatmulPrecision.allCases {
            let model = FlowformerModel<Double>(config: config, maxBatch: 2, precision: precision)
            model.randomizeParameters(seed: 6)
            model.zeroGradients()
            _ = model.forward(batch)
            model.backward(lossScale: 1)
            results.append(model.gradients.array)
        }
        #expect(results[0] == results[1])
    }

    /// The activations that only feed products are stored as bf16 in a bf16 model; the products
    /// would round them to the same bits, so loss, logits and every gradient are bitwise those of
    /// a bf16 model that keeps them in Float — on every model kind × attention kind, with a
    /// partial batch (rows past n zeroed in bf16 storage too).
    @Test(arguments: combinations)
    func bf16StorageChangesNoBit(kind: ModelKind, attention: AttentionKind) {
        let config = Self.config(kind, attention)
        let batch = TestBatch(config: config, samples: 2, seed: 81)

        func run(storesBFloat16: Bool) -> (loss: Double, logits: [UInt32], gradients: [UInt32], bf16Blocks: Int) {
            let model = FlowformerModel<Float>(config: config, maxBatch: 3, precision: .bf16,
                                               productInputsInBFloat16: storesBFloat16)
            model.randomizeParameters(seed: 82, scale: 0.3)
            model.zeroGradients()
            let sums = model.forward(batch)
            let logits = model.logits.array.map(\.bitPattern)
            model.backward(lossScale: 1 / Float(sums.count))
            let bf16Blocks = model.blocks.filter { $0.activated.bits != nil && $0.norm1Output.bits != nil
                && $0.norm2Output.bits != nil }.count
            return (sums.lossSum, logits, model.gradients.array.map(\.bitPattern), bf16Blocks)
        }
        let stored = run(storesBFloat16: true), kept = run(storesBFloat16: false)
        #expect(stored.bf16Blocks == config.layers && kept.bf16Blocks == 0)
        #expect(stored.loss.bitPattern == kept.loss.bitPattern, "\(stored.loss) vs \(kept.loss)")
        #expect(stored.logits == kept.logits)
        #expect(stored.gradients == kept.gradients)
    }

    @Test("a bf16 model's saved product inputs take half the bytes (memory census)")
    func bf16StorageHalvesTheSavedInputs() {
        let config = tinyConfig(.lm, .flow)
        func activations(_ precision: MatmulPrecision) -> Int {
            TensorCensus.measure { FlowformerModel<Float>(config: config, maxBatch: 4, precision: precision) }
                .values.reduce(0, +)
        }
        let rows = 4 * config.tokensPerSample
        let halved = config.layers * rows * (2 * config.dModel + config.ff) * 2   // bytes no longer kept
        #expect(activations(.fp32) - activations(.bf16) >= halved - 64 * 3 * config.layers)
        #expect(activations(.fp32) - activations(.bf16) <= halved + 64 * 3 * config.layers)
    }

    @Test("the precision applies only inside the model's forward and backward")
    func precisionIsScopedToTheModel() {
        #expect(MatmulPrecision.current == .fp32)
        MatmulPrecision.with(.bf16) { #expect(MatmulPrecision.current == .bf16) }
        #expect(MatmulPrecision.current == .fp32)
    }
}
