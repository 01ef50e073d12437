/// The exit statuses of `flowformer`, the contract with job scripts (SPEC §6).
///
/// | status | meaning |
/// |---|---|
/// | 0  | success |
/// | 1  | error: a one-line reason is on stderr (bad input, I/O, MPI, a failed self-test) |
/// | 2  | usage: the command line could not be parsed or validated (one line on stderr) |
/// | 75 | stopped on a signal after saving state; rerunning the same command resumes (reserved: the trainer's signal handling returns it; EX_TEMPFAIL) |
///
/// Under `mpirun`/`srun` the launcher's status is the first non-zero status of any rank; when a
/// rank aborts the job (`MPI_Abort`) the status is that rank's code.
enum ExitStatus: Int32, Sendable {
    case success = 0
    case failure = 1
    case usage = 2
    case stoppedResumable = 75
}
