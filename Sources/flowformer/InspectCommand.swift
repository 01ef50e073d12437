import ArgumentParser
import Checkpoints
import FlowModel
import Foundation
import TensorKernels
import Training

/// `flowformer inspect`: what a checkpoint holds — step, position, training data, configuration, parameters.
struct InspectCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's step, trainer state, training data, configuration and parameter table (checksums verified)."
    )

    @Argument(help: "Checkpoint file (checkpoint-*.h5).")
    var checkpoint: String

    func execute() throws -> Int32 {
        let reader = try CheckpointReader(path: checkpoint)
        let config = try RunConfig(yaml: reader.configText, label: checkpoint + ":/config")
        let table = ParameterTable.flowformer(config.model)
        // Reading verifies every checksum and shape.
        let parameters = Tensor<Float>(shape: [table.count])
        try reader.readParameters(table: table, into: parameters.pointer)
        let states = try reader.optimizerStateNames(table: table)
        let scratch = Tensor<Float>(shape: [table.count])
        var modelDigest = ContentDigest(), optimizerDigest = ContentDigest()
        modelDigest.add(UnsafeRawBufferPointer(parameters.buffer))
        for state in states {
            try reader.readOptimizerState(state, table: table, into: scratch.pointer)
            optimizerDigest.add(UnsafeRawBufferPointer(scratch.buffer))
        }

        let t = reader.trainer
        print("checkpoint \(checkpoint)")
        print("trainer state:")
        let keyWidth = TrainerState.fields.map(\.key.count).max() ?? 0
        for field in TrainerState.fields {
            print("  \(field.key.padding(toLength: keyWidth, withPad: " ", startingAt: 0))  \(field.text(t))")
        }
        print("optimizer state: \(states.isEmpty ? "none" : states.joined(separator: ", ")); all checksums verified")
        print("digest: model \(modelDigest.hex), optimizer \(optimizerDigest.hex) (FNV-1a 64 of the float32 bits in table order; equal digests: equal bits)")
        if let exponents = try reader.readGradientExponents(table: table) {
            print("deterministic run: gradient exponents for the next step \(exponents.min() ?? 0) … \(exponents.max() ?? 0)")
        }
        if let record = try reader.readDataRecord() {
            print("training data (checked on resume; docs/FORMATS.md, \"Training data record\"):")
            for line in record.lines { print("  " + line) }
        } else {
            print("training data: not recorded (a checkpoint written before checkpoints recorded it)")
        }
        print("")
        print("configuration:")
        print(reader.configText.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        print("parameters (\(table.count) in \(table.entries.count) tensors):")
        let width = table.entries.map(\.name.count).max() ?? 0
        for entry in table.entries {
            var sumSquares = 0.0
            for i in entry.range { sumSquares += Double(parameters[i]) * Double(parameters[i]) }
            let rms = (sumSquares / Double(max(entry.count, 1))).squareRoot()
            let name = entry.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let shape = "[" + entry.shape.map(String.init).joined(separator: ", ") + "]"
            print("  \(name)  \(shape.padding(toLength: 14, withPad: " ", startingAt: 0))  \(String(format: "%9d", entry.count))  rms \(String(format: "%.4g", rms))")
        }
        return ExitStatus.success
    }
}
