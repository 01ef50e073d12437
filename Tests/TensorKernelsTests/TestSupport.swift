import Foundation
import Testing
import TensorKernels
import TestSupport

// Shared helpers: deterministic test inputs (independent of the generator under test), tensors
// from Double arrays, tolerance checks that report the worst element, and central finite
// differences.

/// A SplitMix64 stream for test inputs (kept separate from `CounterRandom`, see `SplitMix64`).
struct TestInputs {
    private var source: SplitMix64
    init(seed: UInt64) { source = SplitMix64(state: seed) }
    mutating func next() -> UInt64 { source.next() }
    /// Uniform on [low, high).
    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) * 0x1p-53
    }
    mutating func array(_ count: Int, _ low: Double = -2, _ high: Double = 2) -> [Double] {
        (0..<count).map { _ in uniform(low, high) }
    }
}

/// Shapes the kernels must handle: single elements, primes, and widths that are not multiples of
/// any SIMD width (4, 8, 16).
let oddShapes: [(rows: Int, cols: Int)] = [(1, 1), (3, 17), (3, 33), (3, 1), (7, 13), (13, 31), (2, 64), (5, 8)]
let oddCounts: [Int] = [0, 1, 7, 8, 9, 13, 17, 31, 33, 1000]

extension Tensor {
    /// A tensor holding `values` rounded to `Scalar`.
    convenience init(shape: [Int], doubles values: [Double]) {
        self.init(shape: shape, values: values.map { Scalar($0) })
    }
    var doubles: [Double] { array.map { Double($0) } }
}

/// Tolerances for comparing a kernel's `Scalar` result with a Double reference.
struct Tolerance {
    var absolute: Double
    var relative: Double
    static func forScalar<Scalar: TensorScalar>(_: Scalar.Type, float: Tolerance, double: Tolerance) -> Tolerance {
        Scalar.self == Float.self ? float : double
    }
}

/// Expects |actual − expected| ≤ absolute + relative·|expected| element by element, and names the
/// worst element when it fails.
func expectClose(
    _ actual: [Double], _ expected: [Double], _ tolerance: Tolerance, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst = -1, worstExcess = 0.0
    for i in 0..<min(actual.count, expected.count) {
        let allowed = tolerance.absolute + tolerance.relative * abs(expected[i])
        let error = abs(actual[i] - expected[i])
        let excess = error.isNaN ? .infinity : error / allowed
        if excess > 1 && excess > worstExcess { worst = i; worstExcess = excess }
    }
    #expect(worst < 0, "\(what): element \(worst) is \(worst >= 0 ? actual[worst] : 0), expected \(worst >= 0 ? expected[worst] : 0) (error \(worstExcess)× the tolerance)",
            sourceLocation: sourceLocation)
}

/// Central differences ∂L/∂xᵢ ≈ (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h.
func numericalGradient(at x: [Double], step h: Double = 1e-5, _ loss: ([Double]) -> Double) -> [Double] {
    var probe = x
    return (0..<x.count).map { i in
        probe[i] = x[i] + h
        let plus = loss(probe)
        probe[i] = x[i] - h
        let minus = loss(probe)
        probe[i] = x[i]
        return (plus - minus) / (2 * h)
    }
}

/// Expects an analytic gradient to match finite differences to a relative error below `limit`:
/// |aᵢ − nᵢ| / max(|nᵢ|, 0.01·maxⱼ|nⱼ|) — relative per element, with a floor so that entries that
/// are zero up to rounding do not divide by zero.
func expectGradientMatches(
    _ analytic: [Double], _ numeric: [Double], limit: Double = 1e-6, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(analytic.count == numeric.count, sourceLocation: sourceLocation)
    let scale = max(numeric.map(abs).max() ?? 0, 1e-300)
    var worst = 0.0, worstIndex = 0
    for i in 0..<min(analytic.count, numeric.count) {
        let error = abs(analytic[i] - numeric[i]) / max(abs(numeric[i]), 0.01 * scale)
        if !(error <= worst) && !worst.isNaN { worst = error; worstIndex = i }   // a NaN stays the worst
    }
    #expect(worst < limit, "\(what): relative error \(worst) at element \(worstIndex) (analytic \(analytic[worstIndex]), numeric \(numeric[worstIndex]))",
            sourceLocation: sourceLocation)
}

/// Σᵢ wᵢ·yᵢ — a scalar loss whose gradient with respect to y is w.
func weightedSum(_ y: [Double], _ w: [Double]) -> Double {
    zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Keeps tensors alive up to this point. A kernel sees only `tensor.pointer`; without a later use
/// of the tensor itself an optimised build may release it (and its memory) before the kernel runs.
func keepAlive(_ objects: AnyObject...) {
    withExtendedLifetime(objects) {}
}
