import Testing
import TensorKernels
@testable import FlowModel

/// Smallest distance from an unclamped-or-clamped conserved source Ô to the clamp bounds ±1,
/// over all batch elements, heads and positions (causal position 1 reported separately: there
/// Ô = 1 + O(ε) by construction), and the share of entries the clamp changes.
struct ClampReport {
    var margin = Double.infinity
    var firstPositionMargin = Double.infinity
    var clampedFraction = 0.0
}

func clampReport(_ core: any AttentionCore<Double>) -> ClampReport {
    let raw: Tensor<Double>
    let causal: Bool
    if let flow = core as? FlowAttention<Double> {
        raw = flow.conservedSource; causal = false
    } else if let flow = core as? CausalFlowAttention<Double> {
        raw = flow.conservedSource; causal = true
    } else {
        return ClampReport()
    }
    var report = ClampReport()
    let positions = core.shape.keyLength
    var clamped = 0
    for e in 0..<raw.count {
        let distance = abs(abs(raw[e]) - 1)
        if abs(raw[e]) > 1 { clamped += 1 }
        if causal && e % positions == 0 {
            report.firstPositionMargin = min(report.firstPositionMargin, distance)
        } else {
            report.margin = min(report.margin, distance)
        }
    }
    report.clampedFraction = Double(clamped) / Double(raw.count)
    return report
}

/// A harness whose inputs keep every conserved source Ô at least 1e-4 (causal position 1:
/// 1e-9) from the clamp bounds, so finite-difference steps never cross a bound.
func flowHarness(_ makeCore: () -> any AttentionCore<Double>, seed: UInt64) throws -> CoreHarness {
    for attempt in 0..<100 {
        let harness = CoreHarness(core: makeCore(), seed: seed &+ UInt64(attempt) &* 7919, inputScale: 1.5)
        _ = harness.loss()
        let report = clampReport(harness.core)
        if report.margin > 1e-4 && report.firstPositionMargin > 1e-9 { return harness }
    }
    throw ClampMarginNotFound()
}

struct ClampMarginNotFound: Error, CustomStringConvertible {
    var description: String { "no input draw kept the conserved source 1e-4 away from the clamp bounds" }
}

@Suite struct CoreGradientTests {
    @Test(arguments: [(7, 7, 2), (5, 9, 2), (9, 6, 4)])
    func nonCausalFlow(queryLength: Int, keyLength: Int, heads: Int) throws {
        let shape = AttentionShape(batch: 2, queryLength: queryLength, keyLength: keyLength,
                                   modelWidth: 8, heads: heads, causal: false)
        let harness = try flowHarness({ FlowAttention<Double>(shape: shape) }, seed: 11)
        if queryLength == keyLength {
            // Self-attention sizes: both sides of the clamp must be exercised.
            let fraction = clampReport(harness.core).clampedFraction
            #expect(fraction > 0 && fraction < 1, "clamped fraction \(fraction) leaves a clamp branch untested")
        }
        harness.expectGradientsMatchFiniteDifferences()
    }

    @Test(arguments: [(7, 2, 3), (9, 2, 4), (6, 4, 64)])
    func causalFlow(length: Int, heads: Int, chunk: Int) throws {
        let shape = AttentionShape(batch: 2, length: length, modelWidth: 8, heads: heads, causal: true)
        let harness = try flowHarness({ CausalFlowAttention<Double>(shape: shape, chunk: chunk) }, seed: 23)
        let fraction = clampReport(harness.core).clampedFraction
        #expect(fraction > 0 && fraction < 1, "clamped fraction \(fraction) leaves a clamp branch untested")
        harness.expectGradientsMatchFiniteDifferences()
    }

    @Test(arguments: [(false, 7, 7), (false, 5, 9), (true, 8, 8)])
    func softmax(causal: Bool, queryLength: Int, keyLength: Int) {
        let shape = AttentionShape(batch: 2, queryLength: queryLength, keyLength: keyLength,
                                   modelWidth: 8, heads: 2, causal: causal)
        CoreHarness(core: SoftmaxAttention<Double>(shape: shape), seed: 5).expectGradientsMatchFiniteDifferences()
    }

    @Test(arguments: [(false, 7, 7, 64), (false, 5, 9, 64), (true, 9, 9, 4), (true, 6, 6, 64)])
    func linear(causal: Bool, queryLength: Int, keyLength: Int, chunk: Int) {
        let shape = AttentionShape(batch: 2, queryLength: queryLength, keyLength: keyLength,
                                   modelWidth: 8, heads: 2, causal: causal)
        CoreHarness(core: LinearAttention<Double>(shape: shape, chunk: chunk), seed: 9)
            .expectGradientsMatchFiniteDifferences()
    }
}
