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
        let loaded = try CheckpointModel.load(path: path, batchSize: batchSize, communicator: communicator)
        let config = loaded.config, step = loaded.step, batch = loaded.batchSize, model = loaded.model
        let split = try loaded.openSplit(data, communicator: communicator)
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
