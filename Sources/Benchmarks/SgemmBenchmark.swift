import TensorKernels
import FlowModel
#if arch(x86_64)
import TensorKernelsAVX512
#endif

/// Which single-precision GEMM a measurement ran.
public enum GemmImplementation: String, Codable, Sendable, CaseIterable {
    /// OpenBLAS `cblas_sgemm` (through `matmul`), at any thread count.
    case openBLAS = "OpenBLAS"
    /// The project's AVX-512 GEMM (`AVX512Gemm`, one thread): what the Linear layers run under
    /// the x86-64-v4 kernel variant.
    case avx512 = "AVX-512"
    /// The bf16 GEMM (`BFloat16Gemm`, VDPBF16PS, one thread): operands rounded to bfloat16, fp32
    /// sums — what the Linear layers run with `train.precision: bf16` on an AVX512_BF16 CPU. Not
    /// an fp32 GEMM: never counted in the fp32 peak that MFU divides by.
    case bf16 = "bf16 (VDPBF16PS)"

    /// The implementations measured at `threads` BLAS threads under the active kernel variant
    /// (`KernelVariant.active`): the AVX-512 GEMM at one thread on x86-64-v4 (the model splits
    /// it over its threads; the per-thread speed is the one-thread figure).
    public static func used(threads: Int) -> [GemmImplementation] {
        guard threads == 1 else { return [.openBLAS] }
        return [.openBLAS] + (KernelVariant.active.usesAVX512Gemm ? [.avx512] : [])
            + (KernelVariant.active.usesBFloat16Gemm ? [.bf16] : [])
    }
}

/// One matrix product shape: C[m, n] = op(A)[m, k] · op(B)[k, n], FLOPs = 2·m·n·k.
public struct GemmShape: Codable, Sendable, Equatable {
    /// What the shape is (e.g. `square 2048`, `lm fc1 forward`).
    public var name: String
    public var m: Int
    public var n: Int
    public var k: Int
    public var transposeA: Bool
    public var transposeB: Bool

    public init(name: String, m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) {
        precondition(m > 0 && n > 0 && k > 0, "GemmShape \(name): sizes must be positive, got \(m)×\(n)×\(k)")
        self.name = name
        self.m = m
        self.n = n
        self.k = k
        self.transposeA = transposeA
        self.transposeB = transposeB
    }

    /// 2·m·n·k: one multiply and one add per term.
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// Square n×n×n products, the usual peak probe.
    public static func square(_ n: Int) -> GemmShape { GemmShape(name: "square \(n)", m: n, n: n, k: n) }

    /// The products of one Linear layer y = x·Wᵀ (x [rows, inputs], W [outputs, inputs]) in
    /// training: forward x·Wᵀ, input gradient dy·W, weight gradient dyᵀ·x — the shapes that make
    /// up most of a Transformer step.
    public static func linearLayer(_ name: String, rows: Int, inputs: Int, outputs: Int) -> [GemmShape] {
        [
            GemmShape(name: "\(name) forward", m: rows, n: outputs, k: inputs, transposeB: true),
            GemmShape(name: "\(name) input grad", m: rows, n: inputs, k: outputs),
            GemmShape(name: "\(name) weight grad", m: outputs, n: inputs, k: rows, transposeA: true),
        ]
    }
}

/// The measured speed of one `GemmShape` at one BLAS thread count.
public struct GemmResult: Codable, Sendable, Equatable {
    public var shape: GemmShape
    public var implementation: GemmImplementation
    public var threads: Int
    /// Wall time per product, seconds.
    public var seconds: TimingSummary
    /// FLOPs / median time, in GFLOP/s (10⁹ FLOP per second).
    public var medianGflops: Double
    /// FLOPs / fastest time, in GFLOP/s.
    public var bestGflops: Double
}

/// Single-precision GEMM speed through the project's `matmul` (OpenBLAS `cblas_sgemm`) or the
/// project's AVX-512 GEMM.
///
/// The peak at a thread count is the best GFLOP/s over the square shapes and the implementations
/// measured, from each shape's fastest run: noise on a shared machine only ever slows a run down,
/// so the fastest run is the closest estimate of what the hardware can do. Model FLOP
/// utilisation (MFU) divides by it.
public enum SgemmBenchmark {
    /// Times `shapes` with every implementation in `GemmImplementation.used(threads:)`.
    public static func runUsed(shapes: [GemmShape], threads: Int, policy: RepeatPolicy) -> [GemmResult] {
        GemmImplementation.used(threads: threads).flatMap {
            run(shapes: shapes, threads: threads, policy: policy, implementation: $0)
        }
    }

    /// Square sizes probed for the peak.
    public static let squareSizes = [512, 1024, 2048]

    /// Times every shape at `threads` BLAS threads (restoring the previous count afterwards) with
    /// `implementation` (the AVX-512 GEMM is single-threaded: `threads` must be 1 for it, and the
    /// CPU must run x86-64-v4 code).
    public static func run(shapes: [GemmShape], threads: Int, policy: RepeatPolicy,
                           implementation: GemmImplementation = .openBLAS) -> [GemmResult] {
        precondition(implementation == .openBLAS || (threads == 1 && KernelVariant.cpuSupportsX86_64_v4),
                     "the AVX-512 GEMM runs on one thread of an x86-64-v4 CPU")
        precondition(implementation != .bf16 || KernelVariant.cpuSupportsAVX512BF16,
                     "the bf16 GEMM runs on an AVX512_BF16 CPU")
        let previous = BLASThreads.current
        BLASThreads.set(threads)
        defer { BLASThreads.set(previous) }
        return shapes.map { shape in
            let a = Tensor<Float>(shape.m * shape.k)  // [m, k] or [k, m]
            let b = Tensor<Float>(shape.k * shape.n)  // [k, n] or [n, k]
            let c = Tensor<Float>(shape.m * shape.n)  // [m, n]
            CounterRandom(seed: 1, stream: 1).fillUniform(a.pointer, count: a.count)
            CounterRandom(seed: 1, stream: 2).fillUniform(b.pointer, count: b.count)
            let timing = measure(policy) {
                switch implementation {
                case .openBLAS:
                    matmul(a.pointer, transposeA: shape.transposeA, b.pointer, transposeB: shape.transposeB,
                           into: c.pointer, m: shape.m, n: shape.n, k: shape.k)
                case .avx512:
                    #if arch(x86_64)
                    AVX512Gemm.sgemm(transposeA: shape.transposeA, transposeB: shape.transposeB,
                                     m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                                     a: a.pointer, lda: shape.transposeA ? shape.m : shape.k,
                                     b: b.pointer, ldb: shape.transposeB ? shape.k : shape.n,
                                     beta: 0, c: c.pointer, ldc: shape.n)
                    #endif
                case .bf16:
                    BFloat16Gemm.multiply(transposeA: shape.transposeA, transposeB: shape.transposeB,
                                          m: shape.m, n: shape.n, k: shape.k,
                                          a: a.pointer, lda: shape.transposeA ? shape.m : shape.k,
                                          b: b.pointer, ldb: shape.transposeB ? shape.k : shape.n,
                                          beta: 0, c: c.pointer, ldc: shape.n, path: .vdpbf16ps)
                }
            }
            return GemmResult(shape: shape, implementation: implementation, threads: threads, seconds: timing,
                              medianGflops: shape.flops / timing.median / 1e9,
                              bestGflops: shape.flops / timing.min / 1e9)
        }
    }

    /// The peak GFLOP/s among `results` at `threads` threads: the best `bestGflops` of the square
    /// shapes over every fp32 implementation measured (nil if none was measured).
    public static func peakGflops(_ results: [GemmResult], threads: Int) -> Double? {
        results.filter { $0.threads == threads && $0.shape.m == $0.shape.n && $0.shape.n == $0.shape.k
                         && $0.implementation != .bf16 }
            .map(\.bestGflops).max()
    }
}
