#if canImport(Glibc)
import Glibc
#endif

/// Stop requests from the outside world: SIGTERM, SIGINT and SIGUSR1 (Slurm's pre-emption
/// warning with `--signal=B:USR1@T`, forwarded by the batch script) set a flag that the training
/// loop reads at each step boundary; the ranks then agree (all-reduce max), checkpoint and exit
/// with `ExitStatus.stoppedResumable`.
///
/// A second SIGINT exits at once with status 130: the last complete checkpoint stays intact,
/// because checkpoints are written under a temporary name and renamed.
public enum StopSignals {
    /// Written only by the signal handler; an aligned 32-bit store is atomic on every target
    /// this runs on, and the loop only ever reads it.
    nonisolated(unsafe) static var received: Int32 = 0
    nonisolated(unsafe) static var interrupts: Int32 = 0

    /// Installs the handlers (idempotent).
    public static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            if signal == SIGINT {
                StopSignals.interrupts &+= 1
                if StopSignals.interrupts >= 2 { _exit(130) }
            }
            StopSignals.received = signal
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        for signal in [SIGTERM, SIGINT, SIGUSR1] { sigaction(signal, &action, nil) }
        // A write past the file-size limit (RLIMIT_FSIZE, `ulimit -f`) raises SIGXFSZ, whose default
        // action kills the process; ignored, the write fails with EFBIG and the checkpoint writer
        // reports it like any other I/O error (checkpoint.on_error).
        signal(SIGXFSZ, SIG_IGN)
    }

    /// The signal number that asked this process to stop, or 0.
    public static var pending: Int32 { received }
}

/// Process exit statuses of `flowformer` (documented in the README).
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Any error: bad configuration, bad data, a failed rank, I/O failure. A one-line reason is
    /// on stderr.
    public static let failure: Int32 = 1
    /// Command-line usage error.
    public static let usage: Int32 = 2
    /// Stopped on a signal after writing a checkpoint: run the same command again to resume.
    /// (EX_TEMPFAIL from sysexits.h: "temporary failure; the user is invited to retry".)
    public static let stoppedResumable: Int32 = 75
    /// Failed, resumable: one or more ranks stopped answering (their node died, froze or lost its
    /// link) and the job was ended; the last checkpoint is intact. Run the same command again,
    /// on the remaining nodes if need be, to resume. (The project's own value, next to 75.)
    public static let lostRanks: Int32 = 76
    /// Stopped because the loss or the gradients were not finite too many times in a row.
    public static let diverged: Int32 = 3
}
