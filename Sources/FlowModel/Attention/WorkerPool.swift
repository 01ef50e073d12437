import Dispatch
import TensorKernels

/// Runs the independent tasks of an attention core (its batch elements) on several threads,
/// each thread with a workspace of its own.
///
/// The thread count is `threads` when set, otherwise `BLASThreads.current` (the trainer's
/// `train.threads`), capped by the number of tasks. Every task computes exactly what it would
/// compute alone — it reads only its own inputs and fully overwrites whatever workspace memory it
/// reads — so results are bitwise the same for every thread count (tested).
///
/// BLAS is called from the worker threads at the same time. OpenBLAS allows that, and the
/// per-task products of the cores (at most rowBlock or chunk rows by d_h by d_h) are below its
/// threshold for splitting one product across its own threads (m·n·k ≤ 262144 for d_h ≤ 64), so
/// they run in the calling thread either way.
///
/// Workspaces are created on first use (one at `init`, more the first time more threads run);
/// steady-state calls allocate nothing.
final class WorkerPool<Workspace> {
    /// Number of independent tasks per call (the batch size).
    let tasks: Int
    /// Threads to use; nil follows `BLASThreads.current`.
    var threads: Int?
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
        let threadCount = min(threads ?? BLASThreads.current, tasks)
        if threadCount <= 1 {
            for task in 0..<tasks { body(task, workspaces[0]) }
            return
        }
        while workspaces.count < threadCount { workspaces.append(makeWorkspace()) }
        let workspaces = self.workspaces, tasks = self.tasks
        DispatchQueue.concurrentPerform(iterations: threadCount) { worker in
            var task = worker
            while task < tasks {
                body(task, workspaces[worker])
                task &+= threadCount
            }
        }
    }
}
