import Testing
import TensorKernels

/// `gelu(_:into:derivative:count:)` against the plain forward and backward kernels.
@Suite struct GELUDerivativeTests {
    private func check<Scalar: TensorScalar>(_: Scalar.Type) {
        for count in oddCounts {
            var generator = TestInputs(seed: 900 &+ UInt64(count))
            let values = generator.array(count, -9, 9) + [0, -0.0, 30, -30, 1e-3].prefix(count == 0 ? 0 : 5)
            let n = values.count
            let x = Tensor<Scalar>(shape: [n], doubles: values), dy = Tensor<Scalar>(shape: [n], doubles: generator.array(n))
            let y = Tensor<Scalar>(shape: [n]), derivative = Tensor<Scalar>(shape: [n])
            gelu(x.pointer, into: y.pointer, derivative: derivative.pointer, count: n)

            let expectedY = Tensor<Scalar>(shape: [n]), expectedDx = Tensor<Scalar>(shape: [n])
            gelu(x.pointer, into: expectedY.pointer, count: n)
            geluBackward(input: x.pointer, outputGradient: dy.pointer, into: expectedDx.pointer, count: n)
            #expect(y.array == expectedY.array, "\(Scalar.self) gelu with derivative: output differs, count \(n)")
            let dx = Tensor<Scalar>(shape: [n])
            multiply(dy.pointer, derivative.pointer, into: dx.pointer, count: n)
            #expect(dx.array == expectedDx.array, "\(Scalar.self) dy ⊙ derivative differs from geluBackward, count \(n)")

            // Derivative written over the input.
            let inPlace = Tensor<Scalar>(shape: [n], doubles: values), y2 = Tensor<Scalar>(shape: [n])
            gelu(inPlace.pointer, into: y2.pointer, derivative: inPlace.pointer, count: n)
            #expect(y2.array == y.array && inPlace.array == derivative.array,
                    "\(Scalar.self) gelu with derivative = x differs, count \(n)")
            keepAlive(x, dy, expectedY, expectedDx)
        }
    }

    @Test func matchesForwardAndBackwardKernels() {
        check(Float.self)
        check(Double.self)
    }
}
