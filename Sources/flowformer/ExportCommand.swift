import ArgumentParser
import Checkpoints
import FlowModel
import Foundation
import Training

/// `flowformer export`: a checkpoint's parameters as a safetensors file for PyTorch
/// (`jobs/torch/flowformer_torch.py` builds the model from it).
struct ExportCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's parameters to a safetensors file (fp32, the project's parameter names, the model configuration in the metadata).",
        discussion: "Load it in PyTorch with jobs/torch/flowformer_torch.py: FlowformerTorch.from_safetensors(path)."
    )

    @Option(name: .long, help: "Checkpoint file (checkpoint-*.h5).")
    var checkpoint: String

    @Option(name: .long, help: "Output file (model.safetensors); replaced if it exists.")
    var out: String

    func execute() throws -> Int32 {
        let loaded = try LoadedCheckpoint(path: checkpoint)
        let metadata = [
            "format": "pt",
            "flowformer.config": Self.configJSON(loaded.config.model),
            "flowformer.step": String(loaded.step),
            "flowformer.checkpoint": checkpoint,
        ]
        try SafetensorsWriter.write(table: loaded.table, values: UnsafeBufferPointer(loaded.parameters.buffer),
                                    metadata: metadata, to: out)
        print("wrote \(out): \(loaded.table.entries.count) tensors, \(loaded.table.count) parameters (F32) of the \(loaded.config.model.kind.rawValue) model at step \(loaded.step)")
        return ExitStatus.success
    }

    /// The `model:` keys (names as in docs/FORMATS.md, "Configuration") as a JSON object.
    static func configJSON(_ m: ModelConfig) -> String {
        let fields: [(String, String)] = [
            ("kind", "\"\(m.kind.rawValue)\""), ("attention", "\"\(m.attention.rawValue)\""),
            ("d_model", "\(m.dModel)"), ("heads", "\(m.heads)"), ("layers", "\(m.layers)"), ("ff", "\(m.ff)"),
            ("dropout", "\(m.dropout)"), ("seq_len", "\(m.seqLen)"), ("vocab_size", "\(m.vocabSize)"),
            ("num_classes", "\(m.numClasses)"), ("image_size", "\(m.imageSize)"), ("channels", "\(m.channels)"),
            ("patch", "\(m.patch)"),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
}
