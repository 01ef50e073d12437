import ArgumentParser
import FlowModel
import Foundation
import MPIComm
import Training

/// `flowformer predict`: a checkpoint's outputs for every sample of a split, written to HDF5.
struct PredictCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a checkpoint on every sample of a split and write the outputs to an HDF5 file (classifiers: logits, predictions, accuracy, confusion matrix; language models: per-token loss).",
        discussion: "Runs on any number of ranks like eval (mpirun -np N flowformer predict …); rank 0 writes the file and prints the summary."
    )

    @Option(name: .long, help: "Checkpoint file (checkpoint-*.h5).")
    var checkpoint: String

    @Option(name: .long, help: "Split to predict: a file or a glob of shards (repeatable).")
    var data: [String]

    @Option(name: .long, help: "Output HDF5 file (overwritten).")
    var out: String

    @Option(name: .long, help: "Samples per forward pass (default: the run's micro-batch).")
    var batch: Int?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        let world = try Communicator.world()
        try world.checkLauncherConsistency()
        let (p, _, step) = try Predictor.predict(checkpoint: checkpoint, data: data, output: out, batchSize: batch,
                                                 communicator: world)
        guard world.isRoot else { return ExitStatus.success }
        if p.kind == .lm {
            let loss = p.meanLoss
            if json {
                print("{\"kind\": \"lm\", \"samples\": \(p.samples), \"step\": \(step), \"loss\": \(loss), \"perplexity\": \(Double.exp(loss)), \"out\": \"\(out)\"}")
            } else {
                print("\(checkpoint) (step \(step)): \(p.samples) samples, mean token loss \(String(format: "%.4f", loss)), perplexity \(String(format: "%.3f", Double.exp(loss))); per-token loss in \(out):/token_loss")
            }
            return ExitStatus.success
        }
        let confusion = p.confusion, c = p.width
        if json {
            let rows = (0..<c).map { t in "[" + (0..<c).map { String(confusion[t * c + $0]) }.joined(separator: ", ") + "]" }
            let perClass = p.perClassAccuracy.map { $0.isNaN ? "null" : String($0) }.joined(separator: ", ")
            print("{\"kind\": \"\(p.kind.rawValue)\", \"samples\": \(p.samples), \"step\": \(step), \"accuracy\": \(p.accuracy), \"per_class_accuracy\": [\(perClass)], \"confusion\": [\(rows.joined(separator: ", "))], \"out\": \"\(out)\"}")
            return ExitStatus.success
        }
        print("\(checkpoint) (step \(step)): \(p.samples) samples, accuracy \(String(format: "%.2f", p.accuracy * 100))%; logits and predictions in \(out)")
        print("confusion matrix (rows: label, columns: predicted) and per-class accuracy:")
        let cell = max(5, String(confusion.max() ?? 0).count + 1)
        let pad = { (s: String) in String(repeating: " ", count: max(0, cell - s.count)) + s }
        print(pad("") + (0..<c).map { pad(String($0)) }.joined() + "  accuracy")
        let perClass = p.perClassAccuracy
        for t in 0..<c {
            let accuracy = perClass[t].isNaN ? "-" : String(format: "%.2f%%", perClass[t] * 100)
            print(pad(String(t)) + (0..<c).map { pad(String(confusion[t * c + $0])) }.joined() + "  " + accuracy)
        }
        return ExitStatus.success
    }
}
