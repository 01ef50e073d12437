/// Where the hidden fault flags of `flowformer train` (`--stop-at-step`, `--inject-step-delay`,
/// `--inject-fault`) reach into a run, so the end-to-end tests can drive its failure paths.
/// Real runs use `.none`, whose hooks do nothing; `TrainingHooks.injecting` (FaultInjection.swift)
/// builds the others. The loop calls each hook at one place:
///
/// | hook | called | by |
/// |---|---|---|
/// | `atStepBoundary` | before the stop-signal agreement of each step | `Trainer.run` |
/// | `spoil` | before this rank's forward of each attempt at a step | `TrainingStep.run` |
/// | `afterUpdate` | after the optimizer step | `Trainer.run` |
/// | `beforeCheckpoint` | on every rank, as a checkpoint begins | `Trainer.saveCheckpoint` |
/// | `beforeCheckpointRename` | on rank 0, checkpoint complete under its temporary name | `Trainer.saveCheckpoint` |
public struct TrainingHooks: Sendable {
    /// At the boundary before the step that will complete step `stepsDone + 1`: a signal to act
    /// on as if every rank had received it (each rank must answer alike), or nil. May sleep.
    var atStepBoundary: @Sendable (_ stepsDone: Int) -> Int32?
    /// What spoils this rank's attempt at optimizer step `step` (1-based, as the progress line
    /// counts), or nil. Counts the attempt.
    var spoil: @Sendable (_ step: Int) -> StepSpoil?
    /// After the update that completed step `step` on this rank; `parameters` is the model's
    /// parameter buffer [P].
    var afterUpdate: @Sendable (_ step: Int, _ parameters: UnsafeMutablePointer<Float>) -> Void
    /// On every rank, as step `step`'s checkpoint begins (before the sharded state's gathers).
    var beforeCheckpoint: @Sendable (_ step: Int) -> Void
    /// On rank 0, once step `step`'s checkpoint is complete and synced under its temporary name.
    var beforeCheckpointRename: @Sendable (_ step: Int) -> Void

    /// No faults: what every real run uses.
    public static let none = TrainingHooks(atStepBoundary: { _ in nil }, spoil: { _ in nil },
                                           afterUpdate: { _, _ in }, beforeCheckpoint: { _ in },
                                           beforeCheckpointRename: { _ in })
}

/// How a hook spoils one rank's attempt at a step (the reductions must carry it to every rank).
enum StepSpoil: Equatable {
    /// The loss and the loss gradient (backward's loss scale) are NaN.
    case loss
    /// The first gradient value of the first range backward announces becomes `value`, before
    /// that range is handed to the all-reduce.
    case gradient(Float)
}
