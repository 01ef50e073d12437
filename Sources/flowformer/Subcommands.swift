import ArgumentParser

/// Every subcommand of `flowformer`, in the order `--help` lists them.
///
/// To add one: write it in its own file (`TrainCommand.swift`, …) as a `FlowformerCommand`,
/// and add one line here.
let flowformerSubcommands: [ParsableCommand.Type] = [
    TrainCommand.self,
    EvalCommand.self,
    InspectCommand.self,
    GenerateCommand.self,
    PredictCommand.self,
    ExportCommand.self,
    SelftestCommand.self,
    CheckFileCommand.self,
    BenchCommand.self,
]
