#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// A job for `WorkerThreads`: what one worker of a parallel run does.
protocol WorkerThreadsJob: AnyObject {
    /// Runs worker `worker`'s share of the current job.
    func runWorker(_ worker: Int)
}

/// A process-wide set of parked helper threads that run one parallel job at a time:
/// `run(threads: T, job)` calls `job.runWorker(0)` on the calling thread and
/// `job.runWorker(1 ..< T)` on helpers, and returns when all are done.
///
/// Why not `DispatchQueue.concurrentPerform`: it heap-allocates on every call (a block copy and a
/// closure context), and so does handing a closure to another thread, while the model's steady
/// state allocates nothing (`ModelAllocationTests`). Here the job is an object reference, the
/// helpers are created once, on first need, and a job costs two semaphore operations per helper.
/// Jobs from different threads are serialised by a mutex.
final class WorkerThreads {
    static let shared = WorkerThreads()

    /// One parked helper: waits on `start`, runs its share of the current job, signals `done`.
    private final class Helper {
        let index: Int
        let start = DispatchSemaphore(value: 0)
        unowned let owner: WorkerThreads
        init(index: Int, owner: WorkerThreads) { self.index = index; self.owner = owner }

        func loop() {
            while true {
                start.wait()
                owner.job!.runWorker(index)
                owner.done.signal()
            }
        }
    }

    private var helpers: [Helper] = []
    private var job: WorkerThreadsJob?
    private let done = DispatchSemaphore(value: 0)
    private var mutex = pthread_mutex_t()

    private init() { pthread_mutex_init(&mutex, nil) }

    /// Runs `job.runWorker(w)` for w in 0 ..< threads, w = 0 on the calling thread.
    func run(threads: Int, _ job: WorkerThreadsJob) {
        precondition(threads >= 1, "WorkerThreads.run needs at least one thread, got \(threads)")
        if threads == 1 { job.runWorker(0); return }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while helpers.count < threads - 1 { startHelper() }
        self.job = job
        for helper in 0..<(threads - 1) { helpers[helper].start.signal() }
        job.runWorker(0)
        for _ in 1..<threads { done.wait() }
        self.job = nil
    }

    private func startHelper() {
        let helper = Helper(index: helpers.count + 1, owner: self)
        helpers.append(helper)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(helper).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Helper>.fromOpaque(context!).takeRetainedValue().loop()
            return nil
        }, context)
        precondition(status == 0, "WorkerThreads: pthread_create failed with \(status)")
        pthread_detach(thread)
    }
}
