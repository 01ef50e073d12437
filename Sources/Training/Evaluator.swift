import Checkpoints
import Datasets
import FlowModel
import MPIComm

/// `flowformer eval`: a checkpoint's model on one split, every sample once across ranks.
public enum Evaluator {
    /// Rank 0 reads the checkpoint and broadcasts its configuration and parameters; every rank
    /// evaluates its share of `data`; sums are reduced.
    ///
    /// - Parameter batchSize: samples per forward (nil: the run's micro-batch).
    public static func evaluate(checkpoint path: String, data: [String], batchSize: Int?,
                                communicator: Communicator) throws -> (result: EvaluationResult, config: RunConfig, step: Int) {
        var reader: CheckpointReader?
        let header = try communicator.rootDecides {
            let opened = try CheckpointReader(path: path)
            reader = opened
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

        let split = try communicator.allSucceed { try DatasetSplit.open(data) }
        try communicator.allSucceed { try DataCompatibility.check(model: config.model, split: split, key: "--data") }
        let loader = try communicator.allSucceed {
            try EvaluationLoader(split: split, batchSize: batch, worldSize: communicator.size, rank: communicator.rank,
                                 sequenceLength: config.model.kind == .image ? nil : config.model.seqLen,
                                 alignedToBatches: config.train.deterministic)
        }
        let context = ForwardContext(seed: UInt64(config.train.seed), step: step, firstSampleIndex: 0, training: false)
        let sums = try Trainer.evaluationPass(model: model, loader: loader, context: context, batchLimit: 0,
                                              deterministic: config.train.deterministic) {
            try communicator.allReduce($0, op: .sum)
        }
        return (EvaluationResult(sums), config, step)
    }
}
