import TensorKernels
import Foundation
import Testing
@testable import Optimizers

/// A small table with decaying and non-decaying entries interleaved:
/// w1 [3, 4] decays, b1 [4] no, w2 [2, 3] decays, ln [5] no.
private func makeTable() -> ParameterTable {
    var table = ParameterTable()
    table.append("w1", shape: [3, 4], decays: true)
    table.append("b1", shape: [4], decays: false)
    table.append("w2", shape: [2, 3], decays: true)
    table.append("ln", shape: [5], decays: false)
    return table
}

/// Deterministic values in roughly [-scale, scale] (a linear congruential generator).
func pseudoRandom(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) / Double(1 << 53) * 2 - 1) * scale
    }
}

/// Per-entry decay flags expanded to the buffer.
private func decayMask(_ table: ParameterTable) -> [Bool] {
    table.entries.flatMap { entry in Array(repeating: entry.decays, count: entry.count) }
}

private func expectClose(_ actual: [Float], _ expected: [Double], relative: Double = 1e-6, absolute: Double = 1e-7,
                         _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = -1
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - e) / (absolute + relative * abs(e))
        if !(error <= worst) && !worst.isNaN { worst = error; worstIndex = i }   // a NaN stays the worst
    }
    #expect(worst <= 1, "\(what): element \(worstIndex) is \(worstIndex >= 0 ? Double(actual[worstIndex]) : 0), expected \(worstIndex >= 0 ? expected[worstIndex] : 0) (error \(worst)× tolerance)", sourceLocation: sourceLocation)
}

@Suite struct OptimizerTests {
    let table = makeTable()

    @Test func decayRunsMergeNeighboursAndCoverTheBuffer() {
        var t = ParameterTable()
        t.append("a", shape: [2], decays: true)
        t.append("b", shape: [3], decays: true)
        t.append("c", shape: [1], decays: false)
        t.append("d", shape: [0], decays: true)
        t.append("e", shape: [4], decays: false)
        #expect(t.decayRuns == [DecayRun(offset: 0, count: 5, decays: true), DecayRun(offset: 5, count: 5, decays: false)])
        #expect(table.decayRuns.map(\.count).reduce(0, +) == table.count)
    }

    @Test func adamWMatchesDoubleReferenceOverThreeSteps() {
        let n = table.count
        let beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.1
        let rates: [Float] = [1e-2, 5e-3, 2e-2]
        let decays = decayMask(table)
        let start = pseudoRandom(n, seed: 1).map { Double(Float($0)) }
        let grads = (0..<3).map { pseudoRandom(n, seed: 10 + UInt64($0), scale: 0.5).map { Double(Float($0)) } }

        // Reference: straightforward scalar AdamW in Double.
        var p = start, m = [Double](repeating: 0, count: n), v = m
        for t in 1...3 {
            let lr = Double(rates[t - 1]), g = grads[t - 1]
            for i in 0..<n {
                if decays[i] { p[i] *= 1 - lr * wd }
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                let mHat = m[i] / (1 - pow(beta1, Double(t)))
                let vHat = v[i] / (1 - pow(beta2, Double(t)))
                // PyTorch form: η/(1−β₁ᵗ)·m / (√v/√(1−β₂ᵗ) + ε), identical to m̂/(√v̂ + ε).
                p[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }

        let optimizer = AdamW(table: table, betas: (Float(beta1), Float(beta2)), eps: Float(eps), weightDecay: Float(wd))
        var params = start.map { Float($0) }
        for t in 0..<3 {
            let g = grads[t].map { Float($0) }
            params.withUnsafeMutableBufferPointer { pp in
                g.withUnsafeBufferPointer { gp in
                    optimizer.step(parameters: pp.baseAddress!, gradients: gp.baseAddress!, learningRate: rates[t])
                }
            }
        }
        #expect(optimizer.stepCount == 3)
        expectClose(params, p, "AdamW parameters")
        expectClose(optimizer.expAvg.array, m, "exp_avg")
        expectClose(optimizer.expAvgSq.array, v, "exp_avg_sq")
        #expect(optimizer.stateBuffers.map(\.name) == ["exp_avg", "exp_avg_sq"])
        #expect(optimizer.stateBuffers[0].buffer === optimizer.expAvg)
        #expect(optimizer.stateBuffers.allSatisfy { $0.buffer.count == table.count })
    }

    @Test(arguments: [false, true])
    func sgdMatchesDoubleReferenceOverThreeSteps(nesterov: Bool) {
        let n = table.count
        let mu = 0.9, wd = 0.05
        let rates: [Float] = [0.1, 0.05, 0.2]
        let decays = decayMask(table)
        let start = pseudoRandom(n, seed: 3).map { Double(Float($0)) }
        let grads = (0..<3).map { pseudoRandom(n, seed: 20 + UInt64($0)).map { Double(Float($0)) } }

        var p = start, buf = [Double](repeating: 0, count: n)
        for t in 0..<3 {
            let lr = Double(rates[t])
            for i in 0..<n {
                var d = grads[t][i] + (decays[i] ? wd * p[i] : 0)
                buf[i] = t == 0 ? d : mu * buf[i] + d      // PyTorch: the first step clones d
                d = nesterov ? d + mu * buf[i] : buf[i]
                p[i] -= lr * d
            }
        }

        let optimizer = SGD(table: table, momentum: Float(mu), nesterov: nesterov, weightDecay: Float(wd))
        var params = start.map { Float($0) }
        for t in 0..<3 {
            let g = grads[t].map { Float($0) }
            params.withUnsafeMutableBufferPointer { pp in
                g.withUnsafeBufferPointer { gp in
                    optimizer.step(parameters: pp.baseAddress!, gradients: gp.baseAddress!, learningRate: rates[t])
                }
            }
        }
        #expect(optimizer.stepCount == 3)
        expectClose(params, p, "SGD parameters (nesterov \(nesterov))")
        expectClose(optimizer.momentumBuffer.array, buf, "momentum")
        #expect(optimizer.stateBuffers.map(\.name) == ["momentum"])
    }

    @Test func weightDecaySkipsNonDecayingEntries() {
        // Zero gradients: AdamW's adaptive update is 0/(0+ε) = 0 and SGD's momentum stays 0 on
        // non-decaying entries, so only the decay can move a parameter.
        let n = table.count
        let start = pseudoRandom(n, seed: 7).map { Float($0) }
        let zero = [Float](repeating: 0, count: n)
        let lr: Float = 0.1, wd: Float = 0.5
        let decays = decayMask(table)
        let optimizers: [any Optimizer] = [AdamW(table: table, weightDecay: wd), SGD(table: table, momentum: 0.9, weightDecay: wd)]
        for optimizer in optimizers {
            var params = start
            params.withUnsafeMutableBufferPointer { pp in
                zero.withUnsafeBufferPointer { gp in
                    optimizer.step(parameters: pp.baseAddress!, gradients: gp.baseAddress!, learningRate: lr)
                }
            }
            for i in 0..<n {
                if decays[i] {
                    #expect(abs(params[i] - start[i] * (1 - lr * wd)) <= 1e-6 * abs(start[i]), "\(type(of: optimizer)) entry \(i)")
                } else {
                    #expect(params[i] == start[i], "\(type(of: optimizer)) changed non-decaying entry \(i)")
                }
            }
        }
    }

    @Test func restoredStateContinuesIdentically() throws {
        // A run of 3 steps equals 2 steps, a copy of state and stepCount into a fresh optimizer, 1 step.
        let n = table.count
        let grads = (0..<3).map { pseudoRandom(n, seed: 40 + UInt64($0)).map { Float($0) } }
        func run(_ optimizer: AdamW, _ params: inout [Float], _ steps: Range<Int>) {
            for t in steps {
                params.withUnsafeMutableBufferPointer { pp in
                    grads[t].withUnsafeBufferPointer { gp in
                        optimizer.step(parameters: pp.baseAddress!, gradients: gp.baseAddress!, learningRate: 0.01)
                    }
                }
            }
        }
        var straight = pseudoRandom(n, seed: 5).map { Float($0) }
        var resumed = straight
        run(AdamW(table: table, weightDecay: 0.1), &straight, 0..<3)
        let first = AdamW(table: table, weightDecay: 0.1)
        run(first, &resumed, 0..<2)
        let second = AdamW(table: table, weightDecay: 0.1)
        second.stepCount = first.stepCount
        for (to, from) in zip(second.stateBuffers, first.stateBuffers) {
            #expect(to.name == from.name)
            to.buffer.copy(from: from.buffer)
        }
        run(second, &resumed, 2..<3)
        #expect(resumed == straight)
    }
}

@Suite struct ClippingTests {
    @Test func normMatchesDoubleReference() {
        for count in [0, 1, 3, 4, 7, 1001] {
            let g = pseudoRandom(count, seed: UInt64(count), scale: 3).map { Float($0) }
            let reference = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let norm = g.withUnsafeBufferPointer { gradientNorm($0.baseAddress!, count: count) }
            #expect(abs(norm - reference) <= 1e-12 * max(1, reference), "count \(count)")
        }
    }

    @Test func clipsAboveMaxNormWithPyTorchScale() {
        var g: [Float] = [3, 4, 0, 0]                      // norm 5
        let (norm, scale) = g.withUnsafeMutableBufferPointer { clipGradients($0.baseAddress!, count: 4, maxNorm: 1) }
        #expect(norm == 5)
        #expect(scale == Float(1 / (5 + 1e-6)))
        #expect(g == [3 * scale, 4 * scale, 0, 0])
        let after = g.withUnsafeBufferPointer { gradientNorm($0.baseAddress!, count: 4) }
        #expect(abs(after - 1) < 1e-6)
    }

    @Test func leavesSmallGradientsAndDisabledClippingAlone() {
        var g: [Float] = [0.375, -0.5]                     // norm exactly 0.625
        let original = g
        let below = g.withUnsafeMutableBufferPointer { clipGradients($0.baseAddress!, count: 2, maxNorm: 1) }
        #expect(below.norm == 0.625 && below.scale == 1 && g == original)
        let equal = g.withUnsafeMutableBufferPointer { clipGradients($0.baseAddress!, count: 2, maxNorm: 0.625) }
        #expect(equal.scale == 1 && g == original)
        let disabled = g.withUnsafeMutableBufferPointer { clipGradients($0.baseAddress!, count: 2, maxNorm: 0) }
        #expect(disabled.norm == 0.625 && disabled.scale == 1 && g == original)
    }

    @Test func nonFiniteNormLeavesGradientsUntouched() {
        for bad in [Float.nan, Float.infinity] {
            var g: [Float] = [1, bad, 2]
            let result = g.withUnsafeMutableBufferPointer { clipGradients($0.baseAddress!, count: 3, maxNorm: 1) }
            #expect(!result.norm.isFinite && result.scale == 1)
            #expect(g[0] == 1 && g[2] == 2)
        }
    }
}
