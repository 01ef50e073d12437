import TensorKernels

/// Stochastic gradient descent with momentum, with PyTorch's `torch.optim.SGD` arithmetic
/// (dampening 0, not maximising).
///
/// For learning rate η, momentum μ, weight decay λ, gradient g, parameter p and buffer b
/// (starting at zero, so the first step stores b = d exactly as PyTorch's `clone(d)`):
///
///     d ← g + λ·p                   L2 penalty, only where the table entry `decays`
///     b ← μ·b + d                   (`momentum`)
///     d ← d + μ·b   if Nesterov,  else  d ← b
///     p ← p − η·d
///
/// Weight decay here is the classic L2 term added to the gradient (what PyTorch's SGD does), not
/// AdamW's decoupled shrink; for plain SGD without momentum the two coincide. It is applied only
/// to entries with `decays` so that biases, LayerNorm parameters and embeddings are not pulled to
/// zero, matching AdamW's treatment. With μ = 0 the buffer still holds the last d; it is saved
/// like any other state so that checkpoints of one optimizer always have the same datasets.
public final class SGD: Optimizer {
    public let table: ParameterTable
    /// μ, in [0, 1).
    public let momentum: Float
    /// Whether to use Nesterov momentum (requires μ > 0).
    public let nesterov: Bool
    /// λ, the L2 coefficient, applied only to entries whose `decays` is true.
    public let weightDecay: Float
    public var stepCount: Int = 0
    public let shard: Range<Int>

    /// Momentum buffer b, `[shard.count]`.
    public let momentumBuffer: Tensor<Float>

    private let runs: [DecayRun]

    public var stateBuffers: [(name: String, buffer: Tensor<Float>)] { [("momentum", momentumBuffer)] }

    /// - Parameters:
    ///   - table: the layout of parameters, gradients and the momentum buffer.
    ///   - momentum: μ in [0, 1).
    ///   - nesterov: Nesterov momentum; needs μ > 0.
    ///   - weightDecay: λ ≥ 0.
    ///   - shard: the elements this optimizer updates (nil: all of them; see `Optimizer.shard`).
    public init(table: ParameterTable, momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0,
                shard: Range<Int>? = nil) {
        precondition(momentum >= 0 && momentum < 1, "SGD momentum must be in [0, 1), got \(momentum)")
        precondition(!nesterov || momentum > 0, "SGD Nesterov momentum needs momentum > 0")
        precondition(weightDecay >= 0, "SGD weightDecay must be >= 0, got \(weightDecay)")
        self.table = table
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        let shard = shard ?? 0 ..< table.count
        precondition(shard.lowerBound >= 0 && shard.upperBound <= table.count, "SGD shard \(shard) outside 0..<\(table.count)")
        self.shard = shard
        self.momentumBuffer = Tensor<Float>(shape: [shard.count])
        self.runs = table.decayRuns(in: shard)
    }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
        stepCount += 1
        let mu = momentum, lr = learningRate
        for run in runs {
            let p = parameters + run.offset                 // [run.count]
            let g = gradients + run.offset                  // [run.count]
            let b = momentumBuffer.pointer + run.offset     // [run.count]
            let lambda: Float = run.decays ? weightDecay : 0
            let n = run.count
            var i = 0
            if nesterov {
                while i < n {
                    let d = g[i] + lambda * p[i]
                    let bi = mu * b[i] + d
                    b[i] = bi
                    p[i] = p[i] - lr * (d + mu * bi)
                    i &+= 1
                }
            } else {
                while i < n {
                    let d = g[i] + lambda * p[i]
                    let bi = mu * b[i] + d
                    b[i] = bi
                    p[i] = p[i] - lr * bi
                    i &+= 1
                }
            }
        }
    }
}
