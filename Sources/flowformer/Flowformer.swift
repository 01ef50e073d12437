import ArgumentParser

/// The `flowformer` command line: trains and evaluates Flowformer models, one process per MPI
/// rank (`mpirun -np N flowformer …`, `srun --mpi=pmix flowformer …`, or plain `flowformer …`
/// for one rank). Subcommands are listed in `Subcommands.swift`; exit statuses in `CommandRunner.swift`.
@main
struct Flowformer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowformer",
        abstract: "Data-parallel training of Flow-Attention Transformers over MPI, with HDF5 data and checkpoints.",
        version: "0.1.0",
        subcommands: flowformerSubcommands
    )

    /// Replaces ArgumentParser's entry point so that every outcome maps onto an exit status,
    /// with at most one line on stderr (see `CommandRunner`).
    static func main() {
        CommandRunner.main(arguments: Array(CommandLine.arguments.dropFirst()))
    }
}
