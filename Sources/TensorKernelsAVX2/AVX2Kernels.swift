// The Float hot-loop kernels compiled for x86-64-v3 (CPUs with AVX2, FMA and BMI).
//
// This module is built with `-Xcc -march=x86-64-v3` (Package.swift): the x86-64-v3 instruction set
// (AVX, AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE). Each function below instantiates a generic kernel
// of TensorKernels for Float, so its loop is compiled here, with 8-lane AVX2, from the same
// source as the baseline build. (Swift does not contract a·b + c into a fused multiply-add, so
// the results are bitwise those of the baseline build in every kernel here.)
//
// Two rules keep AVX2 code out of the rest of the binary:
// - every TensorKernels function called here is `@inline(__always)`, down to its helpers, so
//   its body is compiled into the wrapper. A specialisation left as a separate function would be
//   emitted here as a weak (link-once) symbol with the same name as the baseline build's copy,
//   and the linker would keep one of the two for every caller — possibly this one, which an
//   older CPU cannot run. `jobs/check-kernels.sh` (run by jobs/test.sh) fails the
//   build when this object defines any symbol outside this module or another object uses AVX.
// - every wrapper is `@inline(never)`: a caller compiled for the baseline calls into this
//   module, never copies a body out of it.
// Call these only when `KernelVariant.cpuSupportsX86_64_v3` is true (the model's dispatch,
// FlowModel/Kernels/DispatchedKernels.swift, does).
#if arch(x86_64)
import TensorKernels

public enum AVX2Kernels {
    /// `TensorKernels.gelu(_:into:derivative:count:)`: y = GELU(x) and GELU'(x).
    @inline(never)
    public static func gelu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                            derivative: UnsafeMutablePointer<Float>, count: Int) {
        TensorKernels.gelu(x, into: y, derivative: derivative, count: count)
    }

    /// `TensorKernels.gelu(_:intoBFloat16:derivative:count:)`: GELU stored as bf16, and its slope.
    @inline(never)
    public static func gelu(_ x: UnsafePointer<Float>, intoBFloat16 y: UnsafeMutablePointer<UInt16>,
                            derivative: UnsafeMutablePointer<Float>, count: Int) {
        TensorKernels.gelu(x, intoBFloat16: y, derivative: derivative, count: count)
    }

    /// `TensorKernels.sigmoid(_:into:count:)`: y = σ(x).
    @inline(never)
    public static func sigmoid(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        TensorKernels.sigmoid(x, into: y, count: count)
    }

    /// `TensorKernels.add(_:_:into:count:)`: out = a + b.
    @inline(never)
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           into out: UnsafeMutablePointer<Float>, count: Int) {
        TensorKernels.add(a, b, into: out, count: count)
    }

    /// `TensorKernels.multiply(_:_:into:count:)`: out = a ⊙ b.
    @inline(never)
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                into out: UnsafeMutablePointer<Float>, count: Int) {
        TensorKernels.multiply(a, b, into: out, count: count)
    }

    /// `TensorKernels.sumOverRows(_:rows:cols:into:accumulate:)`: out[j] (+)= Σᵢ x[i, j].
    @inline(never)
    public static func sumOverRows(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                   into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        TensorKernels.sumOverRows(x, rows: rows, cols: cols, into: out, accumulate: accumulate)
    }

    /// `TensorKernels.layerNorm(_:weight:bias:into:mean:rstd:rows:cols:epsilon:)`.
    @inline(never)
    public static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                 mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                                 rows: Int, cols: Int, epsilon: Float) {
        TensorKernels.layerNorm(x, weight: weight, bias: bias, into: y, mean: mean, rstd: rstd,
                                rows: rows, cols: cols, epsilon: epsilon)
    }

    /// `TensorKernels.layerNorm(_:weight:bias:intoBFloat16:rowScratch:mean:rstd:rows:cols:epsilon:)`.
    @inline(never)
    public static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, intoBFloat16 y: UnsafeMutablePointer<UInt16>,
                                 rowScratch: UnsafeMutablePointer<Float>,
                                 mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                                 rows: Int, cols: Int, epsilon: Float) {
        TensorKernels.layerNorm(x, weight: weight, bias: bias, intoBFloat16: y, rowScratch: rowScratch, mean: mean,
                                rstd: rstd, rows: rows, cols: cols, epsilon: epsilon)
    }

    /// `TensorKernels.layerNormBackward(outputGradient:input:weight:mean:rstd:inputGradient:…)`.
    @inline(never)
    public static func layerNormBackward(
        outputGradient dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
        weightGradient dweight: UnsafeMutablePointer<Float>, biasGradient dbias: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int
    ) {
        TensorKernels.layerNormBackward(outputGradient: dy, input: x, weight: weight, mean: mean, rstd: rstd,
                                        inputGradient: dx, weightGradient: dweight, biasGradient: dbias,
                                        rows: rows, cols: cols)
    }
}
#endif
