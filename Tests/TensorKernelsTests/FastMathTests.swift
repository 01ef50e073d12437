import Foundation
import Testing
import TestSupport
import TensorKernels

/// Error of a Float result in units in the last place of the correctly rounded value.
private func ulpError(_ approximate: Float, _ exact: Double) -> Double {
    let rounded = Float(exact)
    return abs(Double(approximate) - exact) / Double(rounded.ulp)
}

@Suite struct FastMathTests {
    @Test func polynomialExpIsWithinTwoUlpOnItsRange() {
        // Every 2⁻¹²-th point of [−87, 88] plus random points: about 720k arguments.
        var inputs = TestInputs(seed: 1)
        var arguments = stride(from: -87.0, through: 88.0, by: 1.0 / 4096).map { Float($0) }
        arguments += (0..<20_000).map { _ in Float(inputs.uniform(-87, 88)) }
        var worstUlp = 0.0, worstRelative = 0.0, worstAt: Float = 0
        for x in arguments {
            let exact = Foundation.exp(Double(x))
            let approximate = Float.polynomialExp(x)
            let u = ulpError(approximate, exact)
            if u.isNaN || u > worstUlp { worstUlp = largerError(worstUlp, u); worstAt = x }
            worstRelative = largerError(worstRelative, abs(Double(approximate) - exact) / exact)
        }
        #expect(worstUlp <= 2, "polynomialExp: \(worstUlp) ulp at x = \(worstAt)")
        #expect(worstRelative < 2.4e-7, "polynomialExp: relative error \(worstRelative)")
    }

    @Test func polynomialExpSpecialValues() {
        #expect(Float.polynomialExp(0) == 1)
        #expect(Float.polynomialExp(-200) == 0)
        #expect(Float.polynomialExp(-Float.infinity) == 0)
        #expect(Float.polynomialExp(100) == .infinity)
        #expect(Float.polynomialExp(.infinity) == .infinity)
        #expect(Float.polynomialExp(.nan).isNaN)
        // Into the subnormals: e^(−100) ≈ 3.72e−44, within one subnormal step.
        let tiny = Float.polynomialExp(-100)
        #expect(abs(Double(tiny) - Foundation.exp(-100.0)) <= Double(Float.leastNonzeroMagnitude))
        // Largest finite results just below overflow.
        #expect(abs(Double(Float.polynomialExp(88.7)) / Foundation.exp(Double(Float(88.7))) - 1) < 3e-7)
    }

    @Test func exponentialKernelMatchesScalarFunction() {
        for count in oddCounts {
            var inputs = TestInputs(seed: UInt64(count))
            let values = inputs.array(count, -90, 90)
            let xf = Tensor<Float>(shape: [count], doubles: values), yf = Tensor<Float>(shape: [count])
            exponential(xf.pointer, into: yf.pointer, count: count)
            #expect(yf.array == xf.array.map(Float.polynomialExp), "exponential(count: \(count))")
            let xd = Tensor<Double>(shape: [count], doubles: values), yd = Tensor<Double>(shape: [count])
            exponential(xd.pointer, into: yd.pointer, count: count)
            keepAlive(xd)
            expectClose(yd.doubles, values.map { Foundation.exp($0) }, Tolerance(absolute: 0, relative: 1e-15), "exp Double")
        }
    }

    @Test func polynomialErfAbsoluteErrorBound() {
        var worst = 0.0, worstAt: Float = 0
        for x in stride(from: -6.0, through: 6.0, by: 1.0 / 32768).map({ Float($0) }) {
            let error = abs(Double(Float.polynomialErf(x)) - Foundation.erf(Double(x)))
            if !(error <= worst) && !worst.isNaN { worst = error; worstAt = x }   // a NaN stays the worst
        }
        #expect(worst <= 1.5e-7, "polynomialErf: absolute error \(worst) at x = \(worstAt)")
        #expect(Float.polynomialErf(0) == 0)
        #expect(Float.polynomialErf(.infinity) == 1)
        #expect(Float.polynomialErf(-.infinity) == -1)
        #expect(Float.polynomialErf(1e30) == 1)
        #expect(Float.polynomialErf(.nan).isNaN)
        for x: Float in [0.1, 0.89, 0.9, 1.7, 3.3] {
            #expect(Float.polynomialErf(-x) == -Float.polynomialErf(x), "erf is odd at \(x)")
        }
    }

    @Test func sigmoidSaturatesWithoutNaNOrInfinity() {
        func check<Scalar: TensorScalar>(_: Scalar.Type) {
            let inputs: [Double] = [-1e30, -100, -88.8, -50, 0, 50, 88.8, 100, 1e30]
            let x = Tensor<Scalar>(shape: [inputs.count], doubles: inputs)
            let y = Tensor<Scalar>(shape: [inputs.count])
            sigmoid(x.pointer, into: y.pointer, count: inputs.count)
            keepAlive(x)
            for (input, output) in zip(inputs, y.array) {
                #expect(output.isFinite && output >= 0 && output <= 1, "σ(\(input)) = \(output) for \(Scalar.self)")
            }
            #expect(y[0] == 0 && y[1] < 1e-40, "σ(−100) = \(y[1])")
            #expect(y[4] == 0.5)
            #expect(y[7] == 1 && y[8] == 1, "σ(100) = \(y[7])")
        }
        check(Float.self)
        check(Double.self)
    }
}
