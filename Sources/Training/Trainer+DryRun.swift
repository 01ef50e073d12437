import Datasets
import Foundation
import MPIComm
import TensorKernels

extension Trainer {
    /// `flowformer train --dry-run`: the run plan of `options`' configuration on this launch's
    /// ranks, printed by rank 0; nothing is allocated, read from or written to the run directory.
    /// The configuration is taken as given (a resumed run's architecture comes from its
    /// checkpoint; give the same `model:` keys to plan it).
    ///
    /// - Returns: whether the run fits this node's memory (on every rank's node).
    public static func dryRun(communicator: Communicator, options: TrainOptions) throws -> Bool {
        let resolvedYAML = try communicator.rootDecides {
            try RunConfig.load(file: options.configFile, overrides: options.overrides).yaml
        }
        let config = try communicator.allSucceed { try RunConfig(yaml: resolvedYAML, label: "resolved configuration") }
        try communicator.allSucceed { try config.validate(worldSize: communicator.size) }
        BLASThreads.set(config.train.threads)
        let (trainSplit, validationSplit) = try openSplits(config: config, communicator: communicator)
        let plan = try RunPlan.measure(config: config, trainSplit: trainSplit, validationSplit: validationSplit,
                                       communicator: communicator)
        if communicator.isRoot { options.print(plan.table) }
        let everyNodeFits = try communicator.allReduce(Int32(plan.fits ? 1 : 0), op: .min) == 1
        if !everyNodeFits && communicator.isRoot && plan.fits {
            options.print("another node of this launch does not fit (its rank 0 view differs from this one)")
        }
        return everyNodeFits
    }

    /// The training and validation splits of `config`, opened by every rank itself (reads only)
    /// and checked against the model: what a start and a dry run both need.
    static func openSplits(config: RunConfig, communicator: Communicator) throws
        -> (train: DatasetSplit, validation: DatasetSplit?)
    {
        let trainSplit = try communicator.allSucceed { try DatasetSplit.open(config.data.train) }
        let validationSplit = try communicator.allSucceed {
            config.data.val.isEmpty ? nil : try DatasetSplit.open(config.data.val)
        }
        try communicator.allSucceed {
            try DataCompatibility.check(model: config.model, split: trainSplit, key: "data.train")
            if let validationSplit {
                try DataCompatibility.check(model: config.model, split: validationSplit, key: "data.val")
            }
        }
        return (trainSplit, validationSplit)
    }
}
