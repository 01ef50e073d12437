import Foundation

/// Fills batches on a background thread one job ahead of the consumer (double buffering): while
/// the consumer works on job j in one `Batch`, the thread reads job j+1 into the other. The two
/// batches are allocated once; the thread waits while both are full.
///
/// `fill(j, batch)` must produce job j; it runs on the background thread only (or on the caller's
/// thread when `background` is false), so it may use state no one else touches.
/// `waitSeconds` is the time `next()` spent waiting for a batch that was not ready yet — with
/// prefetching, the reading time the consumer could not hide.
final class Prefetcher: @unchecked Sendable {
    typealias Fill = (_ job: Int, _ batch: Batch) throws -> Void

    private let slots: [Batch]          // 2 with a background thread, 1 without
    private let fill: Fill
    private let jobCount: Int?          // nil: endless
    private let background: Bool
    private let condition = NSCondition()

    // Guarded by `condition`.
    private var nextJobToFill = 0
    private var nextJobToTake = 0
    private var slotJob = [-1, -1]
    private var slotReady = [false, false]
    private var slotError: [Error?] = [nil, nil]
    private var heldSlot = -1
    private var stopping = false
    private var finished = false
    private var totalWaitNanoseconds: UInt64 = 0
    private var firstError: Error?

    init(slots: [Batch], jobCount: Int?, background: Bool, fill: @escaping Fill) {
        precondition(slots.count == (background ? 2 : 1), "Prefetcher needs 2 batches in the background, 1 without")
        self.slots = slots
        self.jobCount = jobCount
        self.background = background
        self.fill = fill
        if background {
            let thread = Thread { [self] in produce() }
            thread.name = "dataset-prefetch"
            thread.start()
        }
    }

    /// Seconds the consumer has waited in `next()`.
    var waitSeconds: Double {
        condition.lock()
        defer { condition.unlock() }
        return Double(totalWaitNanoseconds) * 1e-9
    }

    /// The next job's batch, valid until the next call; nil after the last job.
    func next() throws -> Batch? {
        if !background {
            if let jobCount, nextJobToTake >= jobCount { return nil }
            let started = DispatchTime.now().uptimeNanoseconds
            defer { totalWaitNanoseconds += DispatchTime.now().uptimeNanoseconds - started }
            try fill(nextJobToTake, slots[0])
            nextJobToTake += 1
            return slots[0]
        }
        condition.lock()
        defer { condition.unlock() }
        if heldSlot >= 0 {
            slotReady[heldSlot] = false
            heldSlot = -1
            condition.broadcast()
        }
        if let jobCount, nextJobToTake >= jobCount { return nil }
        let slot = nextJobToTake % 2
        let started = DispatchTime.now().uptimeNanoseconds
        while !(slotReady[slot] && slotJob[slot] == nextJobToTake) {
            if finished {
                throw firstError ?? DatasetError("the dataset reader stopped before batch \(nextJobToTake)")
            }
            condition.wait()
        }
        totalWaitNanoseconds += DispatchTime.now().uptimeNanoseconds - started
        if let error = slotError[slot] {
            slotReady[slot] = false
            firstError = firstError ?? error
            throw error
        }
        heldSlot = slot
        nextJobToTake += 1
        return slots[slot]
    }

    /// Stops the background thread (after the fill in progress) and waits for it to end.
    func stop() {
        guard background else { return }
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func produce() {
        condition.lock()
        defer {
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        while !stopping {
            if let jobCount, nextJobToFill >= jobCount { return }
            let slot = nextJobToFill % 2
            while !stopping && (slotReady[slot] || heldSlot == slot) { condition.wait() }
            if stopping { return }
            let job = nextJobToFill
            condition.unlock()
            var failure: Error?
            do { try fill(job, slots[slot]) } catch { failure = error }
            condition.lock()
            slotJob[slot] = job
            slotError[slot] = failure
            slotReady[slot] = true
            nextJobToFill += 1
            condition.broadcast()
            if failure != nil { return }
        }
    }
}
