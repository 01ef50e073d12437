#if canImport(Glibc)
import Glibc
#endif

/// A fault that `flowformer train --inject-fault FAULT` (a hidden option) injects, so that the
/// end-to-end tests can drive the trainer's failure paths deterministically.
///
/// `FAULT` is one of (N: an optimizer step, 1-based as the progress line counts them, i.e. the step
/// that completes when `state.step` becomes N; R: a rank; K: how many attempts, default 1):
///
/// | spec | fault |
/// |---|---|
/// | `kill-writer-at-step-N` | SIGKILL rank 0 while it writes step N's checkpoint (temporary file complete, before the rename) |
/// | `stop-writer-at-step-N` | SIGSTOP rank 0 at the same place: the other ranks must time out and abort the job |
/// | `stop-before-checkpoint-at-step-N-rank-R` | SIGSTOP rank R as step N's checkpoint begins (before its part of the sharded state's gathers): the others must time out and abort the job |
/// | `nan-grad-at-step-N-rank-R[-times-K]` | one gradient value of rank R becomes NaN before it is all-reduced |
/// | `huge-grad-at-step-N-rank-R[-times-K]` | one gradient value of rank R becomes 1e30: finite, but its square overflows Float |
/// | `nan-loss-at-step-N-rank-R[-times-K]` | rank R's loss is NaN, and so is its loss gradient (the backward's loss scale) |
/// | `desync-params-at-step-N-rank-R` | after step N's update, rank R's first parameter moves by 1.0 (one ulp could be rounded away by the next update): the next cross-rank checksum must catch it |
///
/// A skipped step does not advance `state.step`, so the poisons with `-times-K` hit the next K
/// attempts at step N in a row: K consecutive non-finite steps.
public enum InjectedFault: Equatable, Sendable {
    case killWriter(step: Int)
    case stopWriter(step: Int)
    case stopBeforeCheckpoint(step: Int, rank: Int)
    case poisonGradient(step: Int, rank: Int, times: Int, value: Float)
    case poisonLoss(step: Int, rank: Int, times: Int)
    case desyncParameters(step: Int, rank: Int)

    /// The value `huge-grad` writes: finite, but (1e30)² overflows Float, so an AdamW second
    /// moment fed with it becomes +∞ unless the gradient is clipped.
    public static let hugeGradient: Float = 1e30

    /// Parses a `--inject-fault` value; throws a one-line error naming the accepted forms.
    public init(parsing spec: String) throws {
        let tokens = spec.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard let at = tokens.firstIndex(of: "at") else { throw Self.unknown(spec) }
        let kind = tokens[..<at].joined(separator: "-")
        var fields: [String: Int] = [:]
        var index = at + 1
        while index + 1 < tokens.count, let value = Int(tokens[index + 1]), value >= 0, fields[tokens[index]] == nil {
            fields[tokens[index]] = value
            index += 2
        }
        guard index == tokens.count, let step = fields["step"], step >= 1 else { throw Self.unknown(spec) }
        let rank = fields["rank"], times = fields["times"] ?? 1
        switch kind {
        case "kill-writer" where fields.count == 1:
            self = .killWriter(step: step)
        case "stop-writer" where fields.count == 1:
            self = .stopWriter(step: step)
        case "stop-before-checkpoint":
            guard let rank, Set(fields.keys) == ["step", "rank"] else { throw Self.unknown(spec) }
            self = .stopBeforeCheckpoint(step: step, rank: rank)
        case "nan-grad", "huge-grad":
            guard let rank, times >= 1, Set(fields.keys).isSubset(of: ["step", "rank", "times"]) else { throw Self.unknown(spec) }
            self = .poisonGradient(step: step, rank: rank, times: times, value: kind == "nan-grad" ? .nan : Self.hugeGradient)
        case "desync-params":
            guard let rank, Set(fields.keys) == ["step", "rank"] else { throw Self.unknown(spec) }
            self = .desyncParameters(step: step, rank: rank)
        case "nan-loss":
            guard let rank, times >= 1, Set(fields.keys).isSubset(of: ["step", "rank", "times"]) else { throw Self.unknown(spec) }
            self = .poisonLoss(step: step, rank: rank, times: times)
        default:
            throw Self.unknown(spec)
        }
    }

    private static func unknown(_ spec: String) -> TrainingError {
        TrainingError("unknown fault '\(spec)' (expected kill-writer-at-step-N, stop-writer-at-step-N, "
                      + "stop-before-checkpoint-at-step-N-rank-R, "
                      + "nan-grad-at-step-N-rank-R[-times-K], huge-grad-at-step-N-rank-R[-times-K] "
                      + "nan-loss-at-step-N-rank-R[-times-K] or desync-params-at-step-N-rank-R)")
    }

}

extension TrainingHooks {
    /// The hooks of the hidden fault flags of `flowformer train` on rank `rank`: stop as if
    /// signalled at the boundary before step `stopAtStep` (every rank alike), sleep
    /// `stepDelaySeconds` at every step boundary (so a test can signal a run mid-way), and
    /// inject `fault`.
    public static func injecting(fault: InjectedFault?, stopAtStep: Int?, stepDelaySeconds: Double,
                                 rank: Int) -> TrainingHooks {
        var hooks = TrainingHooks.none
        if stopAtStep != nil || stepDelaySeconds > 0 {
            hooks.atStepBoundary = { stepsDone in
                if stopAtStep == stepsDone { return SIGTERM }
                if stepDelaySeconds > 0 { sleepThroughSignals(seconds: stepDelaySeconds) }
                return nil
            }
        }
        switch fault {
        case let .killWriter(step)?, let .stopWriter(step)?:
            let signal = fault == .killWriter(step: step) ? SIGKILL : SIGSTOP
            hooks.beforeCheckpointRename = { if $0 == step { _ = raise(signal) } }
        case let .stopBeforeCheckpoint(step, stoppedRank)? where stoppedRank == rank:
            hooks.beforeCheckpoint = { if $0 == step { _ = raise(SIGSTOP) } }
        case let .poisonGradient(step, poisonedRank, times, value)? where poisonedRank == rank:
            let attempts = AttemptsLeft(times)
            hooks.spoil = { $0 == step && attempts.take() ? .gradient(value) : nil }
        case let .poisonLoss(step, poisonedRank, times)? where poisonedRank == rank:
            let attempts = AttemptsLeft(times)
            hooks.spoil = { $0 == step && attempts.take() ? .loss : nil }
        case let .desyncParameters(step, desyncedRank)? where desyncedRank == rank:
            hooks.afterUpdate = { completed, parameters in
                if completed == step { parameters[0] += 1 }
            }
        default:
            break
        }
        return hooks
    }
}

/// How many more attempts a poison spoils (the trainer's thread alone calls it).
private final class AttemptsLeft: @unchecked Sendable {
    private var count: Int
    init(_ count: Int) { self.count = count }

    /// Whether an attempt is left; uses it up if so.
    func take() -> Bool {
        guard count > 0 else { return false }
        count -= 1
        return true
    }
}

/// Sleeps `seconds` in full: a signal handled meanwhile (which ends `nanosleep` early with EINTR)
/// does not shorten the delay, so a test's second signal still finds the step under way.
private func sleepThroughSignals(seconds: Double) {
    var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var left = timespec()
    while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
}

