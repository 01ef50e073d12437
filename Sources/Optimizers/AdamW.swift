#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorKernels

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019), with PyTorch's `torch.optim.AdamW`
/// arithmetic (amsgrad off, not maximising).
///
/// For step t = 1, 2, … with learning rate η, gradient g and parameter p:
///
///     p ← p · (1 − η·λ)                      only where the table entry `decays`
///     m ← β₁·m + (1 − β₁)·g                  (`exp_avg`)
///     v ← β₂·v + (1 − β₂)·g²                 (`exp_avg_sq`)
///     p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// The bias corrections, η/(1 − β₁ᵗ) and 1 − η·λ are computed in Double, then rounded to Float
/// once per step; the element loop is Float arithmetic, eight lanes at a time, in the order of
/// PyTorch's kernels (`p·(1−ηλ) − step·(m / denominator)`). The moments start at zero and share the
/// parameter table's layout. No allocation per step.
public final class AdamW: Optimizer {
    public let table: ParameterTable
    /// β₁, the decay of the first moment (PyTorch default 0.9).
    public let beta1: Float
    /// β₂, the decay of the second moment (PyTorch default 0.999).
    public let beta2: Float
    /// ε, added to the bias-corrected √v (PyTorch default 1e-8).
    public let eps: Float
    /// λ, the decoupled weight decay per unit learning rate (PyTorch default 0.01), applied only
    /// to entries whose `decays` is true.
    public let weightDecay: Float
    public var stepCount: Int = 0
    public let shard: Range<Int>

    /// First moment m, `[shard.count]`.
    public let expAvg: Tensor<Float>
    /// Second moment v, `[shard.count]`.
    public let expAvgSq: Tensor<Float>

    private let runs: [DecayRun]

    public var stateBuffers: [(name: String, buffer: Tensor<Float>)] {
        [("exp_avg", expAvg), ("exp_avg_sq", expAvgSq)]
    }

    /// - Parameters:
    ///   - table: the layout of parameters, gradients and moments.
    ///   - betas: (β₁, β₂), each in [0, 1).
    ///   - eps: ε > 0.
    ///   - weightDecay: λ ≥ 0.
    ///   - shard: the elements this optimizer updates (nil: all of them; see `Optimizer.shard`).
    public init(table: ParameterTable, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                weightDecay: Float = 0.01, shard: Range<Int>? = nil) {
        precondition(betas.0 >= 0 && betas.0 < 1, "AdamW beta1 must be in [0, 1), got \(betas.0)")
        precondition(betas.1 >= 0 && betas.1 < 1, "AdamW beta2 must be in [0, 1), got \(betas.1)")
        precondition(eps > 0, "AdamW eps must be > 0, got \(eps)")
        precondition(weightDecay >= 0, "AdamW weightDecay must be >= 0, got \(weightDecay)")
        self.table = table
        self.beta1 = betas.0
        self.beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        let shard = shard ?? 0 ..< table.count
        precondition(shard.lowerBound >= 0 && shard.upperBound <= table.count, "AdamW shard \(shard) outside 0..<\(table.count)")
        self.shard = shard
        self.expAvg = Tensor<Float>(shape: [shard.count])
        self.expAvgSq = Tensor<Float>(shape: [shard.count])
        self.runs = table.decayRuns(in: shard)
    }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
        stepCount += 1
        let t = Double(stepCount)
        let biasCorrection1 = 1 - pow(Double(beta1), t)
        let biasCorrection2Sqrt = (1 - pow(Double(beta2), t)).squareRoot()
        let stepSize = Float(Double(learningRate) / biasCorrection1)
        let correction2Sqrt = Float(biasCorrection2Sqrt)
        let decayFactor = Float(1 - Double(learningRate) * Double(weightDecay))
        let beta1 = self.beta1, beta2 = self.beta2, eps = self.eps
        let oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2

        for run in runs {
            let factor: Float = run.decays ? decayFactor : 1
            let p = parameters + run.offset          // [run.count]
            let g = gradients + run.offset           // [run.count]
            let m = expAvg.pointer + run.offset      // [run.count]
            let v = expAvgSq.pointer + run.offset    // [run.count]
            let n = run.count

            // Eight lanes at a time. `Float.squareRoot()` in a plain loop lowers to a libm call
            // that may set errno, which stops the loop vectoriser; the SIMD form inlines the
            // square root and runs about 2× faster (memory-bound on large buffers). Lane for lane
            // it is the same expression as the scalar tail below, so results are identical.
            typealias Lanes = SIMD8<Float>
            let pr = UnsafeMutableRawPointer(p), gr = UnsafeRawPointer(g)
            let mr = UnsafeMutableRawPointer(m), vr = UnsafeMutableRawPointer(v)
            let blocked = n & ~(Lanes.scalarCount - 1)
            var i = 0
            while i < blocked {
                let byteOffset = i &* MemoryLayout<Float>.stride
                let gi = gr.loadUnaligned(fromByteOffset: byteOffset, as: Lanes.self)
                let mi = beta1 * mr.loadUnaligned(fromByteOffset: byteOffset, as: Lanes.self) + oneMinusBeta1 * gi
                let vi = beta2 * vr.loadUnaligned(fromByteOffset: byteOffset, as: Lanes.self) + oneMinusBeta2 * gi * gi
                mr.storeBytes(of: mi, toByteOffset: byteOffset, as: Lanes.self)
                vr.storeBytes(of: vi, toByteOffset: byteOffset, as: Lanes.self)
                let denominator = vi.squareRoot() / correction2Sqrt + eps
                let pi = pr.loadUnaligned(fromByteOffset: byteOffset, as: Lanes.self) * factor - stepSize * (mi / denominator)
                pr.storeBytes(of: pi, toByteOffset: byteOffset, as: Lanes.self)
                i &+= Lanes.scalarCount
            }
            while i < n {
                let gi = g[i]
                let mi = beta1 * m[i] + oneMinusBeta1 * gi
                let vi = beta2 * v[i] + oneMinusBeta2 * gi * gi
                m[i] = mi
                v[i] = vi
                let denominator = vi.squareRoot() / correction2Sqrt + eps
                p[i] = p[i] * factor - stepSize * (mi / denominator)
                i &+= 1
            }
        }
    }
}
