import ArgumentParser
import Foundation
import MPIComm
import Training

/// `flowformer eval`: loss (and accuracy for classifiers) of a checkpoint on a split.
struct EvalCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a dataset split (loss; accuracy for classifiers; perplexity for language models)."
    )

    @Option(name: .long, help: "Checkpoint file (checkpoint-*.h5).")
    var checkpoint: String

    @Option(name: .long, help: "Split to evaluate: a file or a glob of shards (repeatable).")
    var data: [String]

    @Option(name: .long, help: "Samples per forward pass (default: the run's micro-batch).")
    var batch: Int?

    @Flag(name: .long, help: "Print one JSON object instead of a line of text.")
    var json = false

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        let world = try Communicator.world()
        try world.checkLauncherConsistency()
        let (result, config, step) = try Evaluator.evaluate(checkpoint: checkpoint, data: data, batchSize: batch,
                                                            communicator: world)
        guard world.isRoot else { return ExitStatus.success }
        let classifier = config.model.kind != .lm
        if json {
            var fields = ["\"loss\": \(result.loss)", "\"samples\": \(result.samples)", "\"step\": \(step)",
                          "\"kind\": \"\(config.model.kind.rawValue)\""]
            if classifier { fields.append("\"accuracy\": \(result.accuracy)") } else {
                fields.append("\"perplexity\": \(result.perplexity)")
                fields.append("\"token_accuracy\": \(result.accuracy)")
            }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            var line = "\(checkpoint) (step \(step)) on \(data.joined(separator: " ")): loss \(String(format: "%.4f", result.loss))"
            line += classifier ? ", accuracy \(String(format: "%.2f", result.accuracy * 100))%"
                               : ", perplexity \(String(format: "%.3f", result.perplexity))"
            line += ", \(result.samples) samples"
            print(line)
        }
        return ExitStatus.success
    }
}
