import Checkpoints
import Datasets
import FlowModel
import MPIComm

/// A checkpoint's model built on every rank, for the commands that run it on a split across
/// ranks (`eval`, `predict`). Rank 0 alone reads the file; the others receive the configuration
/// and the parameters by broadcast. (`generate` and `export`, which run in one process, read the
/// checkpoint with the command line's `LoadedCheckpoint`.)
struct CheckpointModel {
    let config: RunConfig
    /// Optimizer step the checkpoint was written at.
    let step: Int
    /// Samples per forward: `--batch`, or the run's micro-batch.
    let batchSize: Int
    /// Built for `batchSize` samples, the checkpoint's parameters on every rank.
    let model: FlowformerModel<Float>

    /// Rank 0 opens the checkpoint, then runs `whenOpened` (still inside the same decision, so
    /// a failure there stops every rank before any work); every rank parses the configuration
    /// and builds the model; rank 0 reads the parameters into it and broadcasts them.
    ///
    /// - Parameter batchSize: samples per forward (nil: the run's micro-batch; at least 1).
    static func load(path: String, batchSize: Int?, communicator: Communicator,
                     whenOpened: () throws -> Void = {}) throws -> CheckpointModel {
        var reader: CheckpointReader?
        let header = try communicator.rootDecides {
            let opened = try CheckpointReader(path: path)
            reader = opened
            try whenOpened()
            return "\(opened.trainer.step)\n" + opened.configText
        }
        guard let newline = header.firstIndex(of: "\n"), let step = Int(header[..<newline]) else {
            throw TrainingError("internal: malformed checkpoint header")
        }
        let config = try communicator.allSucceed {
            try RunConfig(yaml: String(header[header.index(after: newline)...]), label: path + ":/config")
        }
        let batch = batchSize ?? config.train.microBatch
        guard batch >= 1 else { throw TrainingError("--batch must be at least 1, got \(batch)") }
        let model = FlowformerModel<Float>(config: config.model, maxBatch: batch)
        _ = try communicator.rootDecides {
            try reader?.readParameters(table: model.table, into: model.parameters.pointer)
            return ""
        }
        reader = nil
        try communicator.broadcast(model.parameters.buffer, root: 0)
        return CheckpointModel(config: config, step: step, batchSize: batch, model: model)
    }

    /// The split of `data` (the `--data` option), opened on every rank and checked against the
    /// model's configuration.
    func openSplit(_ data: [String], communicator: Communicator) throws -> DatasetSplit {
        let split = try communicator.allSucceed { try DatasetSplit.open(data) }
        try communicator.allSucceed { try DataCompatibility.check(model: config.model, split: split, key: "--data") }
        return split
    }
}
