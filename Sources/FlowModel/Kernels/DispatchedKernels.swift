// The model's calls to the kernels that have a faster build: Float elementwise kernels through
// TensorKernelsAVX2 on a CPU that runs x86-64-v3 code, Linear products through the AVX-512 GEMM
// (ParallelGemm) under x86-64-v4; everything else (Double, older CPUs, FLOWFORMER_KERNELS=generic)
// the baseline build. The choice is `KernelVariant.active`; see
// TensorKernels/KernelVariant.swift for why both exist and what differs between them.
import TensorKernels
#if arch(x86_64)
import TensorKernelsAVX2
import TensorKernelsAVX512
#endif

enum DispatchedKernels {
    /// True when a Float call should take the AVX2 build.
    @inline(__always)
    static func useAVX2<Scalar>(_: Scalar.Type) -> Bool {
        #if arch(x86_64)
        return Scalar.self == Float.self && KernelVariant.active.usesAVX2Kernels
        #else
        return false
        #endif
    }

    /// C = op(A) · op(B) + beta · C, row-major (`TensorKernels.matmul`), for the Linear layers:
    /// the bf16 GEMM when the calling model runs in bf16 (`MatmulPrecision.current`), else the AVX-512 GEMM for Float under `x86-64-v4` (split over `BLASThreads.requested` threads
    /// by `ParallelGemm`), else BLAS.
    @inline(__always)
    static func matmul<Scalar: TensorScalar>(
        _ a: UnsafePointer<Scalar>, transposeA: Bool = false,
        _ b: UnsafePointer<Scalar>, transposeB: Bool = false,
        into c: UnsafeMutablePointer<Scalar>, m: Int, n: Int, k: Int, beta: Scalar = 0
    ) {
        if Scalar.self == Float.self && MatmulPrecision.current == .bf16 {
            BFloat16Gemm.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                  a: a.asFloat, lda: transposeA ? m : k, b: b.asFloat, ldb: transposeB ? k : n,
                                  beta: Float(beta), c: c.asFloat, ldc: n, threads: BLASThreads.requested)
            return
        }
        #if arch(x86_64)
        if Scalar.self == Float.self && KernelVariant.active.usesAVX512Gemm {
            ParallelGemm.shared.run(threads: BLASThreads.requested, transposeA: transposeA, transposeB: transposeB,
                                    m: m, n: n, k: k, a: a.asFloat, lda: transposeA ? m : k,
                                    b: b.asFloat, ldb: transposeB ? k : n, beta: Float(beta), c: c.asFloat, ldc: n)
            return
        }
        #endif
        TensorKernels.matmul(a, transposeA: transposeA, b, transposeB: transposeB, into: c, m: m, n: n, k: k,
                             beta: beta)
    }

    /// A Linear layer's forward product y[rows, out] = x[rows, in] · Wᵀ + b (W [out, in], b [out]
    /// or nil). The AVX-512 GEMM adds b as it stores its first k block; BLAS gets y = b in every
    /// row first and accumulates onto it (beta 1). Both add b to the same partial sum, so the
    /// bias changes nothing in how the product itself is rounded.
    /// x may be stored as bf16 (`ProductOperand.bfloat16`) only in a bf16 product.
    @inline(__always)
    static func linearForward<Scalar: TensorScalar>(
        _ input: ProductOperand<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>?,
        rows: Int, inFeatures: Int, outFeatures: Int, into y: UnsafeMutablePointer<Scalar>
    ) {
        if Scalar.self == Float.self && MatmulPrecision.current == .bf16 {
            BFloat16Gemm.multiply(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                                  a: input.asFloat, lda: inFeatures, b: .values(weight.asFloat), ldb: inFeatures,
                                  beta: 0, c: y.asFloat, ldc: outFeatures, bias: bias?.asFloat,
                                  threads: BLASThreads.requested)
            return
        }
        let x = input.values(for: "Linear forward")
        #if arch(x86_64)
        if Scalar.self == Float.self && KernelVariant.active.usesAVX512Gemm {
            ParallelGemm.shared.run(threads: BLASThreads.requested, transposeA: false, transposeB: true, m: rows,
                                    n: outFeatures, k: inFeatures, a: x.asFloat, lda: inFeatures,
                                    b: weight.asFloat, ldb: inFeatures, beta: 0, c: y.asFloat,
                                    ldc: outFeatures, bias: bias?.asFloat)
            return
        }
        #endif
        var beta: Scalar = 0
        if let bias {
            for r in 0..<rows { (y + r &* outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        TensorKernels.matmul(x, weight, transposeB: true, into: y, m: rows, n: outFeatures, k: inFeatures, beta: beta)
    }

    /// A Linear layer's weight gradient dW[out, in] += dyᵀ · x (dy [rows, out], x [rows, in]);
    /// x may be stored as bf16 only in a bf16 product.
    @inline(__always)
    static func linearWeightGradient<Scalar: TensorScalar>(
        outputGradient dy: UnsafePointer<Scalar>, input: ProductOperand<Scalar>, rows: Int, inFeatures: Int,
        outFeatures: Int, into weightGradient: UnsafeMutablePointer<Scalar>
    ) {
        if Scalar.self == Float.self && MatmulPrecision.current == .bf16 {
            BFloat16Gemm.multiply(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                                  a: .values(dy.asFloat), lda: outFeatures, b: input.asFloat, ldb: inFeatures,
                                  beta: 1, c: weightGradient.asFloat, ldc: inFeatures, threads: BLASThreads.requested)
            return
        }
        matmul(dy, transposeA: true, input.values(for: "Linear weight gradient"), into: weightGradient,
               m: outFeatures, n: inFeatures, k: rows, beta: 1)
    }

    /// GELU and its slope in one pass: `TensorKernels.gelu(_:into:derivative:count:)`.
    @inline(__always)
    static func gelu<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>,
                                           derivative: UnsafeMutablePointer<Scalar>, count: Int) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.gelu(x.asFloat, into: y.asFloat, derivative: derivative.asFloat, count: count)
            return
        }
        #endif
        TensorKernels.gelu(x, into: y, derivative: derivative, count: count)
    }

    /// GELU stored as bf16 bit patterns, and its slope (`TensorKernels.gelu(_:intoBFloat16:derivative:count:)`).
    @inline(__always)
    static func gelu(_ x: UnsafePointer<Float>, intoBFloat16 y: UnsafeMutablePointer<UInt16>,
                     derivative: UnsafeMutablePointer<Float>, count: Int) {
        #if arch(x86_64)
        if useAVX2(Float.self) {
            AVX2Kernels.gelu(x, intoBFloat16: y, derivative: derivative, count: count)
            return
        }
        #endif
        TensorKernels.gelu(x, intoBFloat16: y, derivative: derivative, count: count)
    }

    /// σ(x): `TensorKernels.sigmoid(_:into:count:)`.
    @inline(__always)
    static func sigmoid<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>,
                                              count: Int) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.sigmoid(x.asFloat, into: y.asFloat, count: count)
            return
        }
        #endif
        TensorKernels.sigmoid(x, into: y, count: count)
    }

    /// out = a + b: `TensorKernels.add(_:_:into:count:)`.
    @inline(__always)
    static func add<Scalar: TensorScalar>(_ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
                                          into out: UnsafeMutablePointer<Scalar>, count: Int) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.add(a.asFloat, b.asFloat, into: out.asFloat, count: count)
            return
        }
        #endif
        TensorKernels.add(a, b, into: out, count: count)
    }

    /// out = a ⊙ b: `TensorKernels.multiply(_:_:into:count:)`.
    @inline(__always)
    static func multiply<Scalar: TensorScalar>(_ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
                                               into out: UnsafeMutablePointer<Scalar>, count: Int) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.multiply(a.asFloat, b.asFloat, into: out.asFloat, count: count)
            return
        }
        #endif
        TensorKernels.multiply(a, b, into: out, count: count)
    }

    /// out[j] (+)= Σᵢ x[i, j]: `TensorKernels.sumOverRows(_:rows:cols:into:accumulate:)`.
    @inline(__always)
    static func sumOverRows<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, rows: Int, cols: Int,
                                                  into out: UnsafeMutablePointer<Scalar>, accumulate: Bool) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.sumOverRows(x.asFloat, rows: rows, cols: cols, into: out.asFloat, accumulate: accumulate)
            return
        }
        #endif
        TensorKernels.sumOverRows(x, rows: rows, cols: cols, into: out, accumulate: accumulate)
    }

    /// LayerNorm forward: `TensorKernels.layerNorm(_:weight:bias:into:mean:rstd:rows:cols:epsilon:)`.
    @inline(__always)
    static func layerNorm<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
        into y: UnsafeMutablePointer<Scalar>, mean: UnsafeMutablePointer<Scalar>?,
        rstd: UnsafeMutablePointer<Scalar>?, rows: Int, cols: Int, epsilon: Scalar
    ) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.layerNorm(x.asFloat, weight: weight.asFloat, bias: bias.asFloat, into: y.asFloat,
                                  mean: mean?.asFloat, rstd: rstd?.asFloat, rows: rows, cols: cols,
                                  epsilon: Float(epsilon))
            return
        }
        #endif
        TensorKernels.layerNorm(x, weight: weight, bias: bias, into: y, mean: mean, rstd: rstd,
                                rows: rows, cols: cols, epsilon: epsilon)
    }

    /// LayerNorm forward stored as bf16 bit patterns, row by row through `rowScratch` [cols]
    /// (`TensorKernels.layerNorm(_:weight:bias:intoBFloat16:rowScratch:…)`).
    @inline(__always)
    static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        intoBFloat16 y: UnsafeMutablePointer<UInt16>, rowScratch: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?, rows: Int, cols: Int, epsilon: Float
    ) {
        #if arch(x86_64)
        if useAVX2(Float.self) {
            AVX2Kernels.layerNorm(x, weight: weight, bias: bias, intoBFloat16: y, rowScratch: rowScratch, mean: mean,
                                  rstd: rstd, rows: rows, cols: cols, epsilon: epsilon)
            return
        }
        #endif
        TensorKernels.layerNorm(x, weight: weight, bias: bias, intoBFloat16: y, rowScratch: rowScratch, mean: mean,
                                rstd: rstd, rows: rows, cols: cols, epsilon: epsilon)
    }

    /// LayerNorm backward: `TensorKernels.layerNormBackward(outputGradient:input:weight:…)`.
    @inline(__always)
    static func layerNormBackward<Scalar: TensorScalar>(
        outputGradient dy: UnsafePointer<Scalar>, input x: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>,
        mean: UnsafePointer<Scalar>, rstd: UnsafePointer<Scalar>, inputGradient dx: UnsafeMutablePointer<Scalar>,
        weightGradient dweight: UnsafeMutablePointer<Scalar>, biasGradient dbias: UnsafeMutablePointer<Scalar>,
        rows: Int, cols: Int
    ) {
        #if arch(x86_64)
        if useAVX2(Scalar.self) {
            AVX2Kernels.layerNormBackward(outputGradient: dy.asFloat, input: x.asFloat, weight: weight.asFloat,
                                          mean: mean.asFloat, rstd: rstd.asFloat, inputGradient: dx.asFloat,
                                          weightGradient: dweight.asFloat, biasGradient: dbias.asFloat,
                                          rows: rows, cols: cols)
            return
        }
        #endif
        TensorKernels.layerNormBackward(outputGradient: dy, input: x, weight: weight, mean: mean, rstd: rstd,
                                        inputGradient: dx, weightGradient: dweight, biasGradient: dbias,
                                        rows: rows, cols: cols)
    }
}

extension UnsafePointer {
    /// The same address as a Float pointer, for a call that has checked `Pointee == Float`.
    @inline(__always) var asFloat: UnsafePointer<Float> { UnsafeRawPointer(self).assumingMemoryBound(to: Float.self) }
}

extension UnsafeMutablePointer {
    /// The same address as a Float pointer, for a call that has checked `Pointee == Float`.
    @inline(__always) var asFloat: UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self)
    }
}
