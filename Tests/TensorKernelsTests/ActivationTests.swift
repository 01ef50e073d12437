import Foundation
import Testing
import TensorKernels

/// Naive references, in Double, straight from the definitions.
private enum Reference {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    static func eluPlusOne(_ x: Double) -> Double { x > 0 ? x + 1 : Foundation.exp(x) }
    static func eluPlusOneDerivative(_ x: Double) -> Double { x > 0 ? 1 : Foundation.exp(x) }
    static func gelu(_ x: Double) -> Double { x * 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot())) }
    static func geluDerivative(_ x: Double) -> Double {
        0.5 * (1 + Foundation.erf(x / 2.0.squareRoot())) + x * Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot()
    }
}

/// A pointwise kernel under test: forward(x → y) and backward((x, y, dy) → dx).
private struct Activation {
    var name: String
    var reference: (Double) -> Double
    var derivative: (Double) -> Double
    var forwardFloat: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    var forwardDouble: (UnsafePointer<Double>, UnsafeMutablePointer<Double>, Int) -> Void
    /// (x, y, dy, dx, count)
    var backwardFloat: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    var backwardDouble: (UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>, Int) -> Void
    var floatTolerance: Tolerance
}

private let activations: [Activation] = [
    Activation(
        name: "sigmoid", reference: Reference.sigmoid,
        derivative: { let s = Reference.sigmoid($0); return s * (1 - s) },
        forwardFloat: { sigmoid($0, into: $1, count: $2) }, forwardDouble: { sigmoid($0, into: $1, count: $2) },
        backwardFloat: { _, y, dy, dx, n in sigmoidBackward(output: y, outputGradient: dy, into: dx, count: n) },
        backwardDouble: { _, y, dy, dx, n in sigmoidBackward(output: y, outputGradient: dy, into: dx, count: n) },
        floatTolerance: Tolerance(absolute: 1e-7, relative: 1e-6)),
    Activation(
        name: "eluPlusOne", reference: Reference.eluPlusOne, derivative: Reference.eluPlusOneDerivative,
        forwardFloat: { eluPlusOne($0, into: $1, count: $2) }, forwardDouble: { eluPlusOne($0, into: $1, count: $2) },
        backwardFloat: { x, _, dy, dx, n in eluPlusOneBackward(input: x, outputGradient: dy, into: dx, count: n) },
        backwardDouble: { x, _, dy, dx, n in eluPlusOneBackward(input: x, outputGradient: dy, into: dx, count: n) },
        floatTolerance: Tolerance(absolute: 1e-7, relative: 1e-6)),
    Activation(
        name: "gelu", reference: Reference.gelu, derivative: Reference.geluDerivative,
        forwardFloat: { gelu($0, into: $1, count: $2) }, forwardDouble: { gelu($0, into: $1, count: $2) },
        backwardFloat: { x, _, dy, dx, n in geluBackward(input: x, outputGradient: dy, into: dx, count: n) },
        backwardDouble: { x, _, dy, dx, n in geluBackward(input: x, outputGradient: dy, into: dx, count: n) },
        // erf is approximated to 1.5e−7 absolute for Float; GELU scales it by |x|/2 ≤ 3.
        floatTolerance: Tolerance(absolute: 5e-7, relative: 1e-6)),
]

@Suite struct ActivationTests {
    /// Inputs over [−6, 6] plus points near the kinks and the erf branch switch (|x|/√2 = 0.9).
    private func inputs(_ count: Int, seed: UInt64) -> [Double] {
        var generator = TestInputs(seed: seed)
        let special: [Double] = [0, 1e-3, -1e-3, 0.9 * 2.0.squareRoot(), -0.9 * 2.0.squareRoot(), 5.9, -5.9, 30, -30]
        return Array((special + generator.array(count, -6, 6)).prefix(count))
    }

    @Test(arguments: activations.indices)
    func forwardMatchesReference(index: Int) {
        let activation = activations[index]
        for count in oddCounts {
            let x = inputs(count, seed: UInt64(count))
            let expected = x.map(activation.reference)
            let xf = Tensor<Float>(shape: [count], doubles: x), yf = Tensor<Float>(shape: [count])
            activation.forwardFloat(xf.pointer, yf.pointer, count)
            // Reference evaluated at the Float-rounded input, so only the kernel's error remains.
            expectClose(yf.doubles, xf.doubles.map(activation.reference), activation.floatTolerance,
                        "\(activation.name) Float, count \(count)")
            let xd = Tensor<Double>(shape: [count], doubles: x), yd = Tensor<Double>(shape: [count])
            activation.forwardDouble(xd.pointer, yd.pointer, count)
            keepAlive(xd)
            expectClose(yd.doubles, expected, Tolerance(absolute: 1e-15, relative: 1e-14),
                        "\(activation.name) Double, count \(count)")
        }
    }

    @Test(arguments: activations.indices)
    func backwardMatchesReference(index: Int) {
        let activation = activations[index]
        for count in oddCounts {
            let x = inputs(count, seed: 50 &+ UInt64(count))
            var generator = TestInputs(seed: 99)
            let dy = generator.array(count)
            do {
                let tx = Tensor<Float>(shape: [count], doubles: x), ty = Tensor<Float>(shape: [count])
                let tdy = Tensor<Float>(shape: [count], doubles: dy), tdx = Tensor<Float>(shape: [count])
                activation.forwardFloat(tx.pointer, ty.pointer, count)
                activation.backwardFloat(tx.pointer, ty.pointer, tdy.pointer, tdx.pointer, count)
                let expected = zip(tx.doubles, tdy.doubles).map { activation.derivative($0) * $1 }
                expectClose(tdx.doubles, expected, Tolerance(absolute: 1e-6, relative: 1e-5),
                            "\(activation.name) backward Float, count \(count)")
            }
            do {
                let tx = Tensor<Double>(shape: [count], doubles: x), ty = Tensor<Double>(shape: [count])
                let tdy = Tensor<Double>(shape: [count], doubles: dy), tdx = Tensor<Double>(shape: [count])
                activation.forwardDouble(tx.pointer, ty.pointer, count)
                activation.backwardDouble(tx.pointer, ty.pointer, tdy.pointer, tdx.pointer, count)
                keepAlive(tx, ty, tdy)
                let expected = zip(x, dy).map { activation.derivative($0) * $1 }
                expectClose(tdx.doubles, expected, Tolerance(absolute: 1e-15, relative: 1e-13),
                            "\(activation.name) backward Double, count \(count)")
            }
        }
    }

    /// dx from the backward kernel against central differences of L(x) = Σ dy ⊙ f(x), in Double.
    @Test(arguments: activations.indices)
    func backwardMatchesFiniteDifferences(index: Int) {
        let activation = activations[index]
        let count = 31
        var generator = TestInputs(seed: 7)
        // Keep away from x = 0, where elu+1's second derivative jumps.
        let x = generator.array(count, -4, 4).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }
        let dy = generator.array(count)
        let loss: ([Double]) -> Double = { input in
            let tx = Tensor<Double>(shape: [count], doubles: input), ty = Tensor<Double>(shape: [count])
            activation.forwardDouble(tx.pointer, ty.pointer, count)
            keepAlive(tx)
            return weightedSum(ty.doubles, dy)
        }
        let tx = Tensor<Double>(shape: [count], doubles: x), ty = Tensor<Double>(shape: [count])
        let tdy = Tensor<Double>(shape: [count], doubles: dy), tdx = Tensor<Double>(shape: [count])
        activation.forwardDouble(tx.pointer, ty.pointer, count)
        activation.backwardDouble(tx.pointer, ty.pointer, tdy.pointer, tdx.pointer, count)
        keepAlive(tx, ty, tdy)
        expectGradientMatches(tdx.doubles, numericalGradient(at: x, loss), "\(activation.name) backward")
    }
}
