import ArgumentParser
import MPIComm
import Training

/// `flowformer train`: one run, data-parallel over the ranks of the launcher.
struct TrainCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Flowformer model (resumes from the newest checkpoint in its run directory).",
        discussion: """
            Launch with `mpirun -np N flowformer train …`, `srun --mpi=pmix flowformer train …`, \
            or alone for one rank. SIGTERM, SIGINT or SIGUSR1 on any rank stops every rank at the \
            next step boundary after a checkpoint, with exit status 75; run the same command again \
            to resume. A second SIGINT stops at once (the last complete checkpoint stays intact).
            """
    )

    @Option(name: .long, help: "The run's YAML configuration file.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one key: section.key=value (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(name: .long, help: "Resume from this checkpoint file (an error if it fails its checks).")
    var resume: String?

    @Flag(name: .customLong("no-resume"), help: "Start fresh; refuse a run directory that already holds checkpoints.")
    var noResume = false

    @Flag(name: .customLong("dry-run"), help: "Print the run plan (parameters, FLOPs, memory per rank, step time, fit on this node) and exit: 0 if it fits, 1 if not. Launch it as the run would be launched.")
    var dryRun = false

    @Option(name: .long, help: "Seconds a rank waits in a collective before declaring another rank dead and aborting the job.")
    var collectiveTimeout: Double = 300

    // Fault injection for the end-to-end tests; hidden from --help.

    @Option(help: ArgumentHelp("Stop as if signalled at the boundary before this step.", visibility: .hidden))
    var stopAtStep: Int?

    @Option(help: ArgumentHelp("Sleep this many seconds at every step.", visibility: .hidden))
    var injectStepDelay: Double = 0

    @Option(help: ArgumentHelp("A fault to inject, e.g. kill-writer-at-step-N or nan-grad-at-step-N-rank-R (see Training.InjectedFault).", visibility: .hidden))
    var injectFault: String?

    func validate() throws {
        if let fault = injectFault {
            do { _ = try InjectedFault(parsing: fault) } catch { throw ValidationError("\(error)") }
        }
        if resume != nil && noResume { throw ValidationError("--resume and --no-resume exclude each other") }
        guard collectiveTimeout > 0, collectiveTimeout.isFinite else {
            throw ValidationError("--collective-timeout must be a positive number of seconds, got \(collectiveTimeout)")
        }
    }

    func execute() throws -> Int32 {
        try MPIRuntime.initialize(threadLevel: .funneled)
        StopSignals.install()
        let world = try Communicator.world()
        try world.checkLauncherConsistency()
        var options = TrainOptions(configFile: config, overrides: overrides,
                                   resume: resume.map { .checkpoint($0) } ?? (noResume ? .refuse : .automatic))
        options.collectiveTimeout = collectiveTimeout
        if stopAtStep != nil || injectStepDelay > 0 || injectFault != nil {
            options.hooks = .injecting(fault: try injectFault.map(InjectedFault.init(parsing:)), stopAtStep: stopAtStep,
                                       stepDelaySeconds: injectStepDelay, rank: world.rank)
        }
        if dryRun {
            return try Trainer.dryRun(communicator: world, options: options) ? ExitStatus.success : ExitStatus.failure
        }
        let trainer = try Trainer(communicator: world, options: options)
        let outcome: TrainOutcome
        do {
            outcome = try trainer.run()
        } catch let diverged as TrainingDiverged {
            if world.isRoot { Communicator.writeStderrLine("flowformer: error: \(diverged)") }
            return ExitStatus.diverged
        }
        switch outcome {
        case .completed:
            return ExitStatus.success
        case .stopped(let signal):
            if world.isRoot {
                Communicator.writeStderrLine("flowformer: stopped on signal \(signal) after a checkpoint; run the same command to resume (exit status 75)")
            }
            return ExitStatus.stoppedResumable
        }
    }
}
