import Checkpoints
import Foundation

/// How `flowformer train` treats checkpoints already in its run directory.
public enum ResumeMode: Sendable, Equatable {
    /// Resume from the newest complete checkpoint if there is one (damaged ones are reported and
    /// skipped), else start fresh.
    case automatic
    /// Resume from this file; if it fails its checks, that is an error.
    case checkpoint(String)
    /// Start fresh; a run directory that already holds checkpoints is an error.
    case refuse
}

/// What rank 0 decided about the start of a run: the resolved configuration (architecture from
/// the checkpoint when resuming) and the checkpoint to resume from, if any.
struct ResumePlan {
    var config: RunConfig
    var checkpoint: CheckpointReader?

    /// Rank 0 only: reads the run directory and decides.
    static func decide(requested: RunConfig, overrides: [String], mode: ResumeMode,
                       warn: (String) -> Void) throws -> ResumePlan {
        let directory = CheckpointDirectory(path: requested.checkpoint.dir)
        directory.removeStaleTemporaries()   // left by a writer that was killed mid-write
        let reader: CheckpointReader?
        switch mode {
        case .refuse:
            if let newest = try directory.checkpoints().last {
                throw TrainingError("run directory \(directory.path) already holds checkpoints (newest: \(newest.path)); --no-resume refuses to reuse it: choose another checkpoint.dir or remove them")
            }
            reader = nil
        case .checkpoint(let path):
            reader = try CheckpointReader(path: path)
        case .automatic:
            reader = try directory.newestLoadable(warn: warn)
        }
        guard let reader else { return ResumePlan(config: requested, checkpoint: nil) }

        // Architecture keys come from the checkpoint; an explicit override that disagrees is an error.
        let saved = try RunConfig(yaml: reader.configText, label: reader.path + ":/config")
        var config = requested
        config.model = saved.model
        for override in overrides {
            let parsed = try ConfigOverride(parsing: override)
            guard RunConfig.isArchitectureKey(parsed.keyPath) else { continue }
            let attempted = try saved.applying(overrides: [override])
            if attempted.model != saved.model {
                throw TrainingError("--set \(override) conflicts with the architecture of checkpoint \(reader.path); architecture keys come from the checkpoint when resuming (start a new run directory to change them)")
            }
        }
        if requested.model != saved.model {
            let changed = requested.changedKeys(comparedTo: saved).filter(RunConfig.isArchitectureKey)
            warn("resuming \(reader.path): using the checkpoint's architecture (the configuration differs in \(changed.joined(separator: ", ")))")
        }
        if saved.train.seed != requested.train.seed {
            warn("resuming \(reader.path): train.seed is \(requested.train.seed) in the configuration but \(saved.train.seed) in the checkpoint; continuing with the checkpoint's seed")
            config.train.seed = saved.train.seed
        }
        if saved.train.globalBatch != requested.train.globalBatch {
            let position = reader.trainer
            warn("resuming \(reader.path): train.global_batch is \(requested.train.globalBatch) in the configuration but "
                 + "\(saved.train.globalBatch) in the checkpoint; the saved position (epoch \(position.epoch), batch "
                 + "\(position.batchInEpoch)) now names other samples (sample \(position.batchInEpoch * requested.train.globalBatch) "
                 + "of the epoch instead of \(position.batchInEpoch * saved.train.globalBatch))")
        }
        return ResumePlan(config: config, checkpoint: reader)
    }
}
