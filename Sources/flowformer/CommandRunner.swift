import ArgumentParser
import Foundation
import MPIComm
import TensorKernels
import Training

// Exit statuses of `flowformer` (values in `Training.ExitStatus`; the README lists them):
//
//   0   success
//   1   error: one line on stderr names it (bad input, I/O, MPI, a failed self-test rank)
//   2   usage: the command line could not be parsed or validated (one line on stderr)
//   3   training diverged (non-finite loss or gradients too many times in a row)
//   75  stopped on a signal after writing a checkpoint; rerun the same command to resume
//       (EX_TEMPFAIL)
//   76  failed, resumable: other ranks stopped answering (a node died, froze or lost its link);
//       the job was ended, the last checkpoint is intact; rerun (on the remaining nodes) to resume
//
// Under mpirun/srun the launcher's status is the first non-zero status of any rank; when a rank
// aborts the job (MPI_Abort) it is that rank's code.

/// A `flowformer` subcommand. `execute()` holds only the action and returns the exit status;
/// `CommandRunner` turns whatever it throws into one line on stderr and status 1, and finalises
/// MPI if the command started it.
protocol FlowformerCommand: ParsableCommand {
    /// The action, run by every rank. Returns one of `ExitStatus`'s statuses. Throw for any
    /// error (a one-line message is printed); return `ExitStatus.failure` when the command has
    /// already reported why it failed.
    func execute() throws -> Int32
}

extension FlowformerCommand {
    /// ArgumentParser's entry point, for callers that run a parsed command themselves (e.g.
    /// tests): a non-success status becomes a thrown `ExitCode`.
    mutating func run() throws {
        let status = try execute()
        if status != ExitStatus.success { throw ExitCode(status) }
    }
}

/// Runs one `flowformer` invocation from argument parsing to exit, so that every outcome is an
/// exit status with at most one line on stderr per rank, never a crash trace.
enum CommandRunner {
    /// Parses `arguments` (without the program name), runs the chosen command and exits.
    ///
    /// - `--help`, `--version`: printed on stdout, status 0.
    /// - a parse or validation error: one line on stderr, status 2 (`ExitStatus.usage`).
    /// - otherwise the status of `run(_:)`.
    static func main(arguments: [String]) -> Never {
        let command: ParsableCommand
        do {
            command = try Flowformer.parseAsRoot(arguments)
        } catch {
            if Flowformer.exitCode(for: error) == .success {
                Flowformer.exit(withError: error)  // help or version, on stdout
            }
            writeErrorLine("\(Flowformer.message(for: error)) (see '\(helpCommand(for: arguments))')")
            exitProcess(ExitStatus.usage)
        }
        exitProcess(run(command))
    }

    /// `flowformer help <subcommand>` when `arguments` name one, else `flowformer help`.
    private static func helpCommand(for arguments: [String]) -> String {
        let names = flowformerSubcommands.compactMap { $0.configuration.commandName }
        if let first = arguments.first, names.contains(first) { return "flowformer help \(first)" }
        return "flowformer help"
    }

    /// Runs a parsed command's action, then finalises MPI if it is running.
    ///
    /// An error thrown by the action is printed as one line. If MPI is running with more than
    /// one rank, the job is then aborted (`MPI_Abort`, status 1): the other ranks may be waiting
    /// in a collective this rank will never join, and a clean shutdown would hang.
    static func run(_ command: ParsableCommand) -> Int32 {
        do {
            var command = command
            // Which build of the Float kernels the model runs (FLOWFORMER_KERNELS, else the
            // fastest this CPU supports); set once, before any model exists.
            KernelVariant.active = try KernelVariant.fromEnvironment()
            let status: Int32
            if let flowformerCommand = command as? FlowformerCommand {
                status = try flowformerCommand.execute()
            } else {
                try command.run()
                status = ExitStatus.success
            }
            try MPIRuntime.finalize()
            return status
        } catch let exitCode as ExitCode {
            try? MPIRuntime.finalize()
            return exitCode.rawValue
        } catch {
            if Flowformer.exitCode(for: error) == .success {
                try? MPIRuntime.finalize()
                Flowformer.exit(withError: error)  // CleanExit thrown by a command
            }
            let line = oneLine(error)
            if let agreed = error as? CollectiveFailure {
                // Every rank reached the same failure through a collective: rank 0 reports it
                // once and every rank shuts MPI down cleanly.
                let world = MPIRuntime.isActive ? try? Communicator.world() : nil
                if world?.isRoot ?? true { Communicator.writeStderrLine("flowformer: error: " + oneLine(agreed)) }
                try? MPIRuntime.finalize()
                return ExitStatus.failure
            }
            if MPIRuntime.isActive, let world = try? Communicator.world(), world.size > 1 {
                recordExitStatus(ExitStatus.failure)   // MPI_Abort does not return
                world.abort(message: errorLinePrefix(world) + line, code: ExitStatus.failure)
            }
            writeErrorLine(line)
            try? MPIRuntime.finalize()
            return ExitStatus.failure
        }
    }

    /// The user-facing text of `error` on one line: `errorDescription` for a `LocalizedError`,
    /// otherwise its `description`, with newlines replaced by spaces.
    static func oneLine(_ error: Error) -> String {
        let text = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
        return text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Writes `flowformer: error: <message>` (with the rank when there are several) to stderr.
    static func writeErrorLine(_ message: String) {
        let world = MPIRuntime.isActive ? try? Communicator.world() : nil
        Communicator.writeStderrLine(errorLinePrefix(world) + message)
    }

    private static func errorLinePrefix(_ world: Communicator?) -> String {
        if let world, world.size > 1 {
            return "flowformer: rank \(world.rank) of \(world.size): error: "
        }
        return "flowformer: error: "
    }

    /// Flushes stdout, records `status` for the launching script (`FLOWFORMER_STATUS_FILE`) and ends
    /// the process with it.
    static func exitProcess(_ status: Int32) -> Never {
        fflush(stdout)
        recordExitStatus(status)
        exit(status)
    }

    /// Writes `status` to `FLOWFORMER_STATUS_FILE` on rank 0 (see `Training.StatusFile`).
    static func recordExitStatus(_ status: Int32) {
        StatusFile.record(status)
    }
}
