import Testing
import TensorKernels
import TestSupport
@testable import FlowModel

/// SplitMix64: a small deterministic generator for test data.
struct TestRandom: RandomNumberGenerator {
    private var source: SplitMix64
    init(seed: UInt64) { source = SplitMix64(state: seed) }
    mutating func next() -> UInt64 { source.next() }
    /// Uniform in [-scale, scale).
    mutating func uniform(_ scale: Double = 1) -> Double { Double.random(in: -scale ..< scale, using: &self) }
    mutating func values(_ count: Int, scale: Double = 1) -> [Double] { (0..<count).map { _ in uniform(scale) } }
    mutating func tokens(_ count: Int, below bound: Int) -> [Int32] {
        (0..<count).map { _ in Int32(Int.random(in: 0 ..< bound, using: &self)) }
    }
}

func makeTensor(_ values: [Double]) -> Tensor<Double> { Tensor(shape: [values.count], values: values) }

/// Σ_i a_i·b_i over `count` elements.
func dotProduct(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) -> Double {
    var s = 0.0
    for i in 0..<count { s += a[i] * b[i] }
    return s
}

/// (f(x + h) − f(x − h)) / 2h for the element `value`, restoring it afterwards.
func centralDifference(_ value: UnsafeMutablePointer<Double>, step h: Double = 1e-6, _ f: () -> Double) -> Double {
    let saved = value.pointee
    value.pointee = saved + h
    let plus = f()
    value.pointee = saved - h
    let minus = f()
    value.pointee = saved
    return (plus - minus) / (2 * h)
}

/// Whether an analytic and a numerical derivative agree: |a − n| ≤ tolerance·max(|a|, |n|) + floor.
/// The absolute floor covers derivatives that are zero up to finite-difference noise.
func gradientsAgree(_ analytic: Double, _ numeric: Double, tolerance: Double = 1e-5, floor: Double = 1e-8) -> Bool {
    abs(analytic - numeric) <= tolerance * max(abs(analytic), abs(numeric)) + floor
}

/// Checks `gradient[i]` against central differences of `loss` in `values[i]` for each `indices`.
/// Records one expectation failure per mismatch, naming `what` and the index.
func expectGradients(_ what: String, values: UnsafeMutablePointer<Double>, gradient: UnsafePointer<Double>,
                     indices: some Sequence<Int>, step: Double = 1e-6, tolerance: Double = 1e-5,
                     loss: () -> Double, sourceLocation: SourceLocation = #_sourceLocation) {
    var checked = 0, failed = 0
    for i in indices {
        let numeric = centralDifference(values + i, step: step, loss)
        checked += 1
        if !gradientsAgree(gradient[i], numeric, tolerance: tolerance) {
            failed += 1
            if failed <= 5 {
                Issue.record("\(what)[\(i)]: analytic \(gradient[i]) vs numeric \(numeric)", sourceLocation: sourceLocation)
            }
        }
    }
    #expect(failed == 0, "\(what): \(failed) of \(checked) gradient entries disagree", sourceLocation: sourceLocation)
    #expect(checked > 0, "\(what): no entries checked", sourceLocation: sourceLocation)
}
