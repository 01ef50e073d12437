import Foundation
import Testing
import TestSupport
import TensorKernels
@testable import FlowModel

/// Deterministic normal and uniform numbers for test inputs (SplitMix64 + Box–Muller).
struct SeededRandom {
    private var source: SplitMix64

    init(seed: UInt64) { source = SplitMix64(state: seed &+ 0x9E37_79B9_7F4A_7C15) }

    mutating func nextUInt64() -> UInt64 { source.next() }

    /// Uniform in (0, 1).
    mutating func uniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / Double(1 << 53) }

    mutating func normal() -> Double {
        (-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
    }

    mutating func normals(_ count: Int, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in scale * normal() }
    }
}

/// max|a − b| / max|b| (0 when both are zero): the per-tensor error measure of the tests; NaN
/// when a value is NaN, so that `error < bound` fails.
func relativeError<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Double {
    precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) elements")
    var difference = 0.0, reference = 0.0
    for (x, y) in zip(a, b) {
        difference = largerError(difference, abs(Double(x) - Double(y)))
        reference = largerError(reference, abs(Double(y)))
    }
    return reference == 0 ? difference : difference / reference
}

/// Σ_e a_e b_e in Double.
func innerProduct(_ a: UnsafePointer<Double>, _ b: [Double]) -> Double {
    var s = 0.0
    for e in 0..<b.count { s += a[e] * b[e] }
    return s
}

/// Central differences of `loss` with respect to every element of `x`:
/// (loss(x + h e) − loss(x − h e)) / 2h, restoring x afterwards.
func finiteDifferences(of x: UnsafeMutablePointer<Double>, count: Int, step: Double = 1e-6,
                       loss: () -> Double) -> [Double] {
    (0..<count).map { e in
        let saved = x[e]
        x[e] = saved + step
        let plus = loss()
        x[e] = saved - step
        let minus = loss()
        x[e] = saved
        return (plus - minus) / (2 * step)
    }
}

/// Runs one attention core in Double on given inputs, for gradient checks.
final class CoreHarness {
    let core: any AttentionCore<Double>
    let q: Tensor<Double>, k: Tensor<Double>, v: Tensor<Double>
    let output: Tensor<Double>
    let upstream: [Double]   // R: the loss is Σ out ⊙ R

    init(core: any AttentionCore<Double>, seed: UInt64, inputScale: Double = 1) {
        let shape = core.shape
        var random = SeededRandom(seed: seed)
        self.core = core
        q = Tensor(shape: [shape.queryElements], values: random.normals(shape.queryElements, scale: inputScale))
        k = Tensor(shape: [shape.keyElements], values: random.normals(shape.keyElements, scale: inputScale))
        v = Tensor(shape: [shape.keyElements], values: random.normals(shape.keyElements))
        output = Tensor(shape.queryElements)
        upstream = random.normals(shape.queryElements)
    }

    func loss() -> Double {
        core.forward(queries: q.pointer, keys: k.pointer, values: v.pointer, output: output.pointer)
        return innerProduct(output.pointer, upstream)
    }

    /// Analytic gradients (dq, dk, dv) of `loss` from the core's backward.
    func analyticGradients() -> (dq: [Double], dk: [Double], dv: [Double]) {
        _ = loss()
        let shape = core.shape
        let dq = Tensor<Double>(shape.queryElements), dk = Tensor<Double>(shape.keyElements)
        let dv = Tensor<Double>(shape.keyElements)
        dq.fill(.nan); dk.fill(.nan); dv.fill(.nan)   // backward must write every element
        upstream.withUnsafeBufferPointer { r in
            core.backward(outputGradient: r.baseAddress!, queryGradient: dq.pointer,
                          keyGradient: dk.pointer, valueGradient: dv.pointer)
        }
        return (dq.array, dk.array, dv.array)
    }

    /// Checks backward against central differences for q, k and v.
    func expectGradientsMatchFiniteDifferences(tolerance: Double = 1e-7, sourceLocation: SourceLocation = #_sourceLocation) {
        let analytic = analyticGradients()
        let checks: [(String, Tensor<Double>, [Double])] = [("dq", q, analytic.dq), ("dk", k, analytic.dk),
                                                           ("dv", v, analytic.dv)]
        for (name, input, gradient) in checks {
            let numeric = finiteDifferences(of: input.pointer, count: input.count, loss: loss)
            let error = relativeError(gradient, numeric)
            #expect(error < tolerance, "\(name) of \(core.shape): backward vs finite differences, relative error \(error)",
                    sourceLocation: sourceLocation)
        }
    }
}
