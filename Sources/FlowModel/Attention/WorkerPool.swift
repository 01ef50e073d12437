import Dispatch
import TensorKernels

/// Runs the independent tasks of an attention core (its batch elements) on up to
/// `BLASThreads.current` threads, each thread with a workspace of its own.
///
/// The thread count follows the BLAS setting (the trainer's `train.threads`), capped by the number
/// of tasks. With more than one thread, BLAS is held at one thread while the tasks run (each task's
/// small per-head GEMMs then run in the calling thread instead of competing for BLAS's pool) and
/// restored afterwards. Every task computes exactly what it would compute alone — it reads only
/// its own inputs and fully overwrites whatever workspace it reads — so results are bitwise the
/// same for every thread count.
///
/// Workspaces are created on first use (one at `init`, more the first time more threads run);
/// steady-state calls allocate nothing.
final class WorkerPool<Workspace> {
    /// Number of independent tasks per call (the batch size).
    let tasks: Int
    private var workspaces: [Workspace]
    private let makeWorkspace: () -> Workspace

    init(tasks: Int, makeWorkspace: @escaping () -> Workspace) {
        precondition(tasks > 0, "WorkerPool needs at least one task, got \(tasks)")
        self.tasks = tasks
        self.makeWorkspace = makeWorkspace
        workspaces = [makeWorkspace()]
    }

    /// Calls `body(task, workspace)` once for every task in 0 ..< tasks. Thread w of T handles
    /// tasks w, w + T, w + 2T, … in order with workspace w.
    func run(_ body: (Int, Workspace) -> Void) {
        let threads = min(BLASThreads.current, tasks)
        if threads <= 1 {
            for task in 0..<tasks { body(task, workspaces[0]) }
            return
        }
        while workspaces.count < threads { workspaces.append(makeWorkspace()) }
        let blasThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(blasThreads) }
        let workspaces = self.workspaces
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var task = worker
            while task < tasks {
                body(task, workspaces[worker])
                task &+= threads
            }
        }
    }
}
