import Foundation
import Testing
import TensorKernels

/// The range-limited exp and the erf + Gaussian pair that GELU's kernels use.
@Suite struct FastMathRangeTests {
    @Test func normalRangeExpIsBitIdenticalToPolynomialExpOnItsRange() {
        var mismatches = 0, firstMismatch: Float = 0
        for x in stride(from: -87.0, through: 88.0, by: 1.0 / 1024).map({ Float($0) }) {
            if Float.polynomialExpNormalRange(x).bitPattern != Float.polynomialExp(x).bitPattern {
                if mismatches == 0 { firstMismatch = x }
                mismatches += 1
            }
        }
        #expect(mismatches == 0, "polynomialExpNormalRange differs from polynomialExp at \(mismatches) points, first x = \(firstMismatch)")
    }

    /// The Gaussian's relative error is 2·10⁻⁷ (the exp) plus x²·2⁻²⁴ (x² is rounded to Float
    /// first, and e^(−z) turns z's relative rounding into an absolute one).
    @Test func erfAndGaussianPair() {
        var worstExcess = 0.0, worstAt: Float = 0
        for x in stride(from: -8.0, through: 8.0, by: 1.0 / 8192).map({ Float($0) }) {
            let (erf, gaussian) = Float.polynomialErfAndGaussian(x)
            #expect(erf.bitPattern == Float.polynomialErf(x).bitPattern, "erf of the pair at \(x)")
            if abs(x) > 6 {
                #expect(gaussian == 0, "gaussian(\(x)) = \(gaussian), expected 0 beyond |x| = 6")
            } else {
                let exact = Foundation.exp(-Double(x) * Double(x))
                let relative = abs(Double(gaussian) - exact) / exact
                let excess = relative / (2e-7 + Double(x) * Double(x) * 0x1p-24)
                if !(excess <= worstExcess) && !worstExcess.isNaN { worstExcess = excess; worstAt = x }   // a NaN stays the worst
            }
        }
        #expect(worstExcess <= 1, "gaussian: error \(worstExcess)× its bound at x = \(worstAt)")
        for x: Float in [.infinity, -.infinity, 1e30, -1e30] {
            let pair = Float.polynomialErfAndGaussian(x)
            #expect(pair.erf == (x > 0 ? 1 : -1) && pair.gaussian == 0, "erf/gaussian at \(x): \(pair)")
        }
        let nan = Float.polynomialErfAndGaussian(.nan)
        #expect(nan.erf.isNaN && nan.gaussian.isNaN)
    }

    /// GELU's kernels at the far ends: exactly x for large x, exactly 0 (signed) for very
    /// negative x, derivative exactly 1 and 0 there, never NaN for finite input.
    @Test func geluSaturatesExactly() {
        let inputs: [Float] = [-1e30, -1e4, -20, -9, 9, 20, 1e4, 1e30]
        let x = Tensor<Float>(shape: [inputs.count], values: inputs)
        let y = Tensor<Float>(shape: [inputs.count]), dx = Tensor<Float>(shape: [inputs.count])
        let ones = Tensor<Float>(shape: [inputs.count], values: inputs.map { _ in 1 })
        gelu(x.pointer, into: y.pointer, count: inputs.count)
        geluBackward(input: x.pointer, outputGradient: ones.pointer, into: dx.pointer, count: inputs.count)
        for (i, v) in inputs.enumerated() {
            #expect(y[i] == (v > 0 ? v : 0), "gelu(\(v)) = \(y[i])")
            #expect(dx[i] == (v > 0 ? 1 : 0), "gelu'(\(v)) = \(dx[i])")
        }
        keepAlive(x, ones)
    }
}
