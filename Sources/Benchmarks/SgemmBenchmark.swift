import TensorKernels

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
    public var threads: Int
    /// Wall time per product, seconds.
    public var seconds: TimingSummary
    /// FLOPs / median time, in GFLOP/s (10⁹ FLOP per second).
    public var medianGflops: Double
    /// FLOPs / fastest time, in GFLOP/s.
    public var bestGflops: Double
}

/// Single-precision GEMM speed through the project's `matmul` (OpenBLAS `cblas_sgemm`).
///
/// The peak at a thread count is the best GFLOP/s over the square shapes, from each shape's
/// fastest run: noise on a shared machine only ever slows a run down, so the fastest run is the
/// closest estimate of what the hardware and BLAS can do. Model FLOP utilisation (MFU) divides by it.
public enum SgemmBenchmark {
    /// Square sizes probed for the peak.
    public static let squareSizes = [512, 1024, 2048]

    /// Times every shape at `threads` BLAS threads (restoring the previous count afterwards).
    public static func run(shapes: [GemmShape], threads: Int, policy: RepeatPolicy) -> [GemmResult] {
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
                matmul(a.pointer, transposeA: shape.transposeA, b.pointer, transposeB: shape.transposeB,
                       into: c.pointer, m: shape.m, n: shape.n, k: shape.k)
            }
            return GemmResult(shape: shape, threads: threads, seconds: timing,
                              medianGflops: shape.flops / timing.median / 1e9,
                              bestGflops: shape.flops / timing.min / 1e9)
        }
    }

    /// The peak GFLOP/s among `results` at `threads` threads: the best `bestGflops` of the square
    /// shapes (nil if none was measured).
    public static func peakGflops(_ results: [GemmResult], threads: Int) -> Double? {
        results.filter { $0.threads == threads && $0.shape.m == $0.shape.n && $0.shape.n == $0.shape.k }
            .map(\.bestGflops).max()
    }
}
