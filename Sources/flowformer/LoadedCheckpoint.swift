import Checkpoints
import FlowModel
import TensorKernels
import Training

/// A checkpoint's configuration and parameters, read in this process (checksums verified):
/// what `generate` and `export` work from.
struct LoadedCheckpoint {
    let path: String
    let config: RunConfig
    /// Optimizer step the checkpoint was written at.
    let step: Int
    let table: ParameterTable
    /// Every parameter, in `table` order.   [table.count]
    let parameters: Tensor<Float>

    init(path: String) throws {
        let reader = try CheckpointReader(path: path)
        self.path = path
        config = try RunConfig(yaml: reader.configText, label: path + ":/config")
        step = reader.trainer.step
        table = ParameterTable.flowformer(config.model)
        parameters = Tensor<Float>(shape: [table.count])
        try reader.readParameters(table: table, into: parameters.pointer)
    }
}
