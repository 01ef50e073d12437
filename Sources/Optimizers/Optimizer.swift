import TensorKernels

/// A first-order optimizer updating the model's single flat parameter buffer in place.
///
/// Every buffer it touches — parameters, gradients and each state buffer — has the layout of the
/// `ParameterTable` it was built for: `table.count` Floats, entry `e` at `e.range`. Gradients
/// must already be averaged over ranks (and clipped) when `step` is called; every rank then runs
/// the same arithmetic on the same numbers and the replicas stay bit-identical.
public protocol Optimizer: AnyObject {
    /// The layout of the parameter, gradient and state buffers.
    var table: ParameterTable { get }

    /// The elements of the flat buffer this optimizer updates and keeps state for: all of
    /// `0 ..< table.count`, or one rank's shard of a sharded optimizer state (ZeRO stage 1,
    /// `ShardLayout`). State buffers, and the buffers `step` takes, hold exactly these elements:
    /// element i of them is element `shard.lowerBound + i` of the flat buffer.
    var shard: Range<Int> { get }

    /// Optimizer steps taken so far (0 before the first). `step` increments it first, so the
    /// n-th call runs with t = n, as PyTorch's `state["step"]`. Settable for checkpoint restore.
    var stepCount: Int { get set }

    /// The per-parameter state, named as in checkpoints (docs/FORMATS.md, "Checkpoint files"): `exp_avg`, `exp_avg_sq` for
    /// AdamW, `momentum` for SGD. Each buffer is `[shard.count]`; unsharded (`shard` = the whole
    /// table) the state of parameter `e` is `buffer.pointer + e.offset` for `e.count` values
    /// (`/optimizer/<e.name>/<name>`). A restore writes into these buffers directly.
    var stateBuffers: [(name: String, buffer: Tensor<Float>)] { get }

    /// Applies one update with learning rate `learningRate` (already scheduled for this step).
    ///
    /// - Parameters:
    ///   - parameters: `[shard.count]`, the shard's parameters, updated in place.
    ///   - gradients: `[shard.count]`, the shard's gradients, read only.
    ///   - learningRate: the step size for this step, in parameter units per gradient unit.
    func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float)
}

/// Which optimizer a run uses (`train.optimizer`).
public enum OptimizerKind: String, Sendable, CaseIterable, Codable {
    /// Adam with decoupled weight decay (`AdamW`).
    case adamw
    /// Stochastic gradient descent with (optionally Nesterov) momentum (`SGD`).
    case sgd
}

/// A maximal run of consecutive table entries that share the same `decays` flag:
/// the optimizers loop over these, so weight decay costs no per-element branch.
struct DecayRun: Sendable, Equatable {
    let offset: Int
    let count: Int
    let decays: Bool
}

extension ParameterTable {
    /// The table cut into maximal runs of entries with equal `decays`, in buffer order.
    /// The runs cover `0 ..< count` exactly.
    var decayRuns: [DecayRun] { decayRuns(in: 0 ..< count) }

    /// The runs of `decayRuns` clipped to `shard`, with offsets counted from `shard.lowerBound`;
    /// they cover `0 ..< shard.count` exactly.
    func decayRuns(in shard: Range<Int>) -> [DecayRun] {
        var runs: [DecayRun] = []
        for entry in entries {
            let lower = max(entry.offset, shard.lowerBound), upper = min(entry.offset + entry.count, shard.upperBound)
            guard lower < upper else { continue }
            let offset = lower - shard.lowerBound, count = upper - lower
            if let last = runs.last, last.decays == entry.decays, last.offset + last.count == offset {
                runs[runs.count - 1] = DecayRun(offset: last.offset, count: last.count + count, decays: last.decays)
            } else {
                runs.append(DecayRun(offset: offset, count: count, decays: entry.decays))
            }
        }
        return runs
    }
}
