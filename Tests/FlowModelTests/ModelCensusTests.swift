import Foundation
import Testing
import TensorKernels
@testable import FlowModel

/// The census the trainer's memory plan builds the model under (`TensorCensus`): it sees every
/// tensor of the model, by category, and uses no memory for them. (That its totals match a real
/// run's peak resident memory is the end-to-end test `RunPlanChecks`.)
@Suite struct ModelCensusTests {
    static func config(_ kind: ModelKind, _ attention: AttentionKind, d: Int, layers: Int, ff: Int,
                       length: Int = 64, heads: Int = 4) -> ModelConfig {
        var config = ModelConfig()
        config.kind = kind
        config.attention = attention
        config.dModel = d
        config.heads = heads
        config.layers = layers
        config.ff = ff
        config.seqLen = length
        config.vocabSize = 100
        config.numClasses = 10
        return config
    }

    @Test(arguments: [
        config(.lm, .flow, d: 64, layers: 3, ff: 256, length: 128),
        config(.image, .flow, d: 48, layers: 2, ff: 96),
        config(.sequence, .linear, d: 32, layers: 2, ff: 64, length: 200),
        config(.lm, .softmax, d: 32, layers: 2, ff: 64),
    ])
    func censusCountsEveryTensorByCategory(config: ModelConfig) throws {
        let census = TensorCensus.measure { FlowformerModel<Float>(config: config, maxBatch: 4) }
        let table = ParameterLayout(config).table
        #expect(census[.parameters] == table.count * 4 && census[.gradients] == table.count * 4)
        // Every block keeps at least its residual input, LayerNorm outputs and FFN activations.
        let tokens = config.tokensPerSample
        let perBlockFloor = 4 * tokens * (3 * config.dModel + 2 * config.ff) * 4
        #expect((census[.activations] ?? 0) >= config.layers * perBlockFloor, "\(census)")
        // At least the model's residual gradient and the blocks' shared scratch.
        #expect((census[.workspaces] ?? 0) >= 4 * tokens * (3 * config.dModel + config.ff) * 4, "\(census)")
        #expect(!TensorCensus.isActive)
    }

    /// A 39 G-parameter model (d_model 8192, 48 layers) is counted in full without using its memory.
    @Test func censusOfAModelLargerThanTheMachineUsesNoMemory() throws {
        let before = residentBytes()
        let census = TensorCensus.measure {
            FlowformerModel<Float>(config: Self.config(.lm, .flow, d: 8192, layers: 48, ff: 32768, length: 1024, heads: 64),
                                   maxBatch: 1)
        }
        let grown = residentBytes() - before
        let total = census.values.reduce(0, +)
        #expect(total > 300 << 30, "\(census)")
        #expect(grown < 256 << 20, "the census of \(total) bytes grew the resident memory by \(grown) bytes")
    }

    private func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.filter(\.isNumber)) ?? 0) * 1024
    }
}
