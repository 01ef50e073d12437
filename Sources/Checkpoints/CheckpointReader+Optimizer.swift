import TensorKernels
import Optimizers

extension CheckpointReader {
    /// Restores every state buffer `optimizer` keeps (AdamW: exp_avg and exp_avg_sq; SGD:
    /// momentum) from `/optimizer/<name>/<state>`, laid out by `table`. A checkpoint written by
    /// another optimizer is an error naming what it holds and what is needed.
    ///
    /// - Parameter optimizerName: the configured optimizer, for the message (e.g. "adamw").
    public func readOptimizerState(into optimizer: any Optimizer, optimizerName: String,
                                   table: ParameterTable) throws {
        let stored = try optimizerStateNames(table: table)
        for state in optimizer.stateBuffers {
            guard stored.contains(state.name) else {
                throw CheckpointError(path: path, "holds optimizer state \(stored) but \(optimizerName) needs \(state.name)")
            }
            try readOptimizerState(state.name, table: table, into: state.buffer.pointer)
        }
    }

    /// Checks that the checkpoint holds the optimizer states `names` (a sharded restore then reads
    /// them entry by entry); the same message as `readOptimizerState(into:)` otherwise.
    public func requireOptimizerStates(_ names: [String], optimizerName: String, table: ParameterTable) throws {
        let stored = try optimizerStateNames(table: table)
        if let missing = names.first(where: { !stored.contains($0) }) {
            throw CheckpointError(path: path, "holds optimizer state \(stored) but \(optimizerName) needs \(missing)")
        }
    }
}
