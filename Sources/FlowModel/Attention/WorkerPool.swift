import TensorKernels

/// What an attention core runs on a `WorkerPool`: one task (a batch element) of its current call.
protocol WorkerPoolTasks: AnyObject {
    /// Runs task `task` with the pool's workspace `worker`.
    func runTask(_ task: Int, worker: Int)
}

/// Runs the independent tasks of an attention core (its batch elements) on several threads,
/// each thread with a workspace of its own.
///
/// The thread count is `threads` when set, otherwise `BLASThreads.requested` (the trainer's
/// `train.threads`; 1 in a process that never set it), capped by the number of tasks. The threads
/// are the parked helpers of `WorkerThreads`; a call allocates nothing. Every task computes
/// exactly what it would compute alone — it reads only its own inputs and fully overwrites
/// whatever workspace memory it reads — so results are bitwise the same for every thread count
/// (tested).
///
/// BLAS is called from the worker threads at the same time. OpenBLAS allows that, and the
/// per-task products of the cores (at most rowBlock or chunk rows by d_h by d_h) are below its
/// threshold for splitting one product across its own threads (m·n·k ≤ 262144 for d_h ≤ 64), so
/// they run in the calling thread either way.
///
/// Workspaces are created on first use (one at `init`, more the first time more threads run).
final class WorkerPool<Workspace>: WorkerThreadsJob {
    /// Number of independent tasks per call (the batch size).
    let tasks: Int
    /// Threads to use; nil follows `BLASThreads.requested`.
    var threads: Int?
    private var workspaces: [Workspace]
    private let makeWorkspace: () -> Workspace
    // The current call (set only while `run` runs).
    private unowned(unsafe) var owner: WorkerPoolTasks?
    private var threadCount = 1

    init(tasks: Int, makeWorkspace: @escaping () -> Workspace) {
        precondition(tasks > 0, "WorkerPool needs at least one task, got \(tasks)")
        self.tasks = tasks
        self.makeWorkspace = { TensorCensus.during(.workspaces, makeWorkspace) }
        workspaces = [self.makeWorkspace()]
        // A census (the trainer's memory plan) counts every thread's workspace now.
        if TensorCensus.isActive {
            while workspaces.count < min(BLASThreads.requested, tasks) { workspaces.append(self.makeWorkspace()) }
        }
    }

    /// Workspace `worker` (the one `runTask(_, worker:)` was told to use).
    func workspace(_ worker: Int) -> Workspace { workspaces[worker] }

    /// Calls `owner.runTask(task, worker:)` once for every task in 0 ..< tasks. Worker w of T
    /// handles tasks w, w + T, w + 2T, … in order.
    func run(_ owner: WorkerPoolTasks) {
        threadCount = min(threads ?? BLASThreads.requested, tasks)
        while workspaces.count < threadCount { workspaces.append(makeWorkspace()) }
        self.owner = owner
        WorkerThreads.shared.run(threads: threadCount, self)
        self.owner = nil
    }

    func runWorker(_ worker: Int) {
        var task = worker
        while task < tasks {
            owner!.runTask(task, worker: worker)
            task &+= threadCount
        }
    }
}
