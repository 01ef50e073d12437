#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shape of the learning-rate curve after warm-up (`train.schedule`).
public enum ScheduleKind: String, Sendable, CaseIterable, Codable {
    /// η stays at its peak.
    case constant
    /// Half a cosine from the peak down to η_min at the last step.
    case cosine
    /// A straight line from the peak down to η_min at the last step.
    case linear
    /// Multiplied by γ every `stepSize` steps, never below η_min.
    case step
    /// η·√(W/s), never below η_min.
    case inverseSqrt = "inverse_sqrt"
}

/// A learning-rate schedule: a pure function from the optimizer step to the learning rate.
///
/// Steps are **0-based optimizer steps**: `learningRate(atStep: s)` is the rate used by the update
/// that is applied after `s` updates have been done (the first update uses s = 0). With peak η,
/// floor η_min, W warm-up steps, S total steps:
///
/// - Warm-up, every kind, s < W:  η·(s + 1)/W  (so the first update uses η/W, update W−1 uses η).
/// - After warm-up (s ≥ W), with progress p = min(1, (s − W)/(S − W)) (p = 1 when S ≤ W):
///   - `constant`:      η
///   - `cosine`:        η_min + (η − η_min)·½·(1 + cos(π·p))
///   - `linear`:        η + (η_min − η)·p
///   - `step`:          max(η_min, η·γ^⌊(min(s, S) − W)/k⌋), k = `stepSize`, or ⌊(S − W)/3⌋
///                      (at least 1) when `stepSize` is 0, i.e. two decays inside the run
///   - `inverseSqrt`:   max(η_min, η·√(max(W, 1)/max(s, 1)))
///
/// Cosine and linear reach η_min at s = S and hold it afterwards; every kind is defined for
/// s ≥ S (a run extended past its planned length keeps the end value). Computed in Double.
public struct LearningRateSchedule: Sendable, Equatable {
    public var kind: ScheduleKind
    /// η, the peak rate (`train.lr`), > 0.
    public var learningRate: Double
    /// η_min, the floor the decaying kinds reach (`train.min_lr`), in [0, η].
    public var minLearningRate: Double
    /// W, linear warm-up steps (`train.warmup_steps`), ≥ 0.
    public var warmupSteps: Int
    /// S, the run's total optimizer steps, ≥ 0.
    public var totalSteps: Int
    /// γ, the factor of each `step` decay (`train.lr_gamma`), in (0, 1].
    public var gamma: Double
    /// k, steps between `step` decays (`train.lr_step_size`); 0 picks ⌊(S − W)/3⌋.
    public var stepSize: Int

    public init(kind: ScheduleKind, learningRate: Double, minLearningRate: Double = 0, warmupSteps: Int = 0,
                totalSteps: Int, gamma: Double = 0.1, stepSize: Int = 0) {
        precondition(learningRate > 0, "learning rate must be > 0, got \(learningRate)")
        precondition(minLearningRate >= 0 && minLearningRate <= learningRate,
                     "min learning rate must be in [0, \(learningRate)], got \(minLearningRate)")
        precondition(warmupSteps >= 0, "warm-up steps must be >= 0, got \(warmupSteps)")
        precondition(totalSteps >= 0, "total steps must be >= 0, got \(totalSteps)")
        precondition(gamma > 0 && gamma <= 1, "step decay gamma must be in (0, 1], got \(gamma)")
        precondition(stepSize >= 0, "step decay step size must be >= 0, got \(stepSize)")
        self.kind = kind
        self.learningRate = learningRate
        self.minLearningRate = minLearningRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.gamma = gamma
        self.stepSize = stepSize
    }

    /// The step-decay interval actually used: `stepSize`, or ⌊(S − W)/3⌋ (≥ 1) when it is 0.
    public var effectiveStepSize: Int {
        stepSize > 0 ? stepSize : max(1, (totalSteps - warmupSteps) / 3)
    }

    /// The learning rate for 0-based optimizer step `step` (see the type's documentation).
    public func learningRate(atStep step: Int) -> Double {
        precondition(step >= 0, "schedule step must be >= 0, got \(step)")
        let peak = learningRate, floor = minLearningRate
        if step < warmupSteps {
            return peak * Double(step + 1) / Double(warmupSteps)
        }
        let decaySteps = totalSteps - warmupSteps
        let progress = decaySteps <= 0 ? 1.0 : min(1.0, Double(step - warmupSteps) / Double(decaySteps))
        switch kind {
        case .constant:
            return peak
        case .cosine:
            return floor + (peak - floor) * 0.5 * (1 + cos(Double.pi * progress))
        case .linear:
            return peak + (floor - peak) * progress
        case .step:
            let decays = (max(min(step, totalSteps), warmupSteps) - warmupSteps) / effectiveStepSize
            return max(floor, peak * pow(gamma, Double(decays)))
        case .inverseSqrt:
            return max(floor, peak * (Double(max(warmupSteps, 1)) / Double(max(step, 1))).squareRoot())
        }
    }
}
