/// Turns the samples of a batch (in batch order, possibly unsorted) into the fewest contiguous
/// row ranges ("runs") of the underlying dataset, so that each run is one hyperslab read.
///
/// Sample s covers rows [s·rowStride, s·rowStride + rowsPerSample): (1, 1) for images and
/// sequences, (L, L+1) for token windows, whose neighbours share one token. Samples are sorted by
/// index and merged while their row ranges touch or overlap; each run is read into a staging
/// buffer at `runStagingRow[i]`, and batch slot j's rows start at staging row
/// `slotStagingRow[j]`. Sorting uses an in-place heap sort on preallocated keys: planning a batch
/// allocates nothing.
final class RowRunPlan {
    let capacity: Int
    let rowStride: Int
    let rowsPerSample: Int

    private(set) var runCount = 0
    let runStart: UnsafeMutablePointer<Int>        // [capacity] first row of run i
    let runEnd: UnsafeMutablePointer<Int>          // [capacity] row after the last of run i
    let runStagingRow: UnsafeMutablePointer<Int>   // [capacity] staging row where run i lands
    let slotStagingRow: UnsafeMutablePointer<Int>  // [capacity] staging row of batch slot j's first row
    private let keys: UnsafeMutablePointer<UInt64> // [capacity] sample · capacity + slot, sorted

    /// Rows of staging space a batch of `capacity` samples can need.
    var stagingRowCapacity: Int { capacity * rowsPerSample }

    init(capacity: Int, rowStride: Int = 1, rowsPerSample: Int = 1) {
        precondition(capacity > 0 && rowStride > 0 && rowsPerSample > 0, "RowRunPlan needs positive sizes")
        self.capacity = capacity
        self.rowStride = rowStride
        self.rowsPerSample = rowsPerSample
        runStart = .allocate(capacity: capacity)
        runEnd = .allocate(capacity: capacity)
        runStagingRow = .allocate(capacity: capacity)
        slotStagingRow = .allocate(capacity: capacity)
        keys = .allocate(capacity: capacity)
    }

    deinit {
        runStart.deallocate()
        runEnd.deallocate()
        runStagingRow.deallocate()
        slotStagingRow.deallocate()
        keys.deallocate()
    }

    /// Plans the reads of `samples` (slot j = the j-th element). Returns the staging rows used.
    @discardableResult
    func plan<Samples: Collection>(_ samples: Samples) -> Int where Samples.Element == Int {
        let count = samples.count
        precondition(count <= capacity, "a batch of \(count) samples exceeds the planned \(capacity)")
        var slot = 0
        for sample in samples {
            precondition(sample >= 0, "negative sample index \(sample)")
            keys[slot] = UInt64(sample) &* UInt64(capacity) &+ UInt64(slot)
            slot += 1
        }
        heapSort(keys, count: count)

        runCount = 0
        var stagingRows = 0
        for i in 0..<count {
            let key = keys[i]
            let sample = Int(key / UInt64(capacity))
            let slot = Int(key % UInt64(capacity))
            let start = sample * rowStride
            let end = start + rowsPerSample
            if runCount > 0 && start <= runEnd[runCount - 1] {
                let run = runCount - 1
                if end > runEnd[run] {
                    stagingRows += end - runEnd[run]
                    runEnd[run] = end
                }
                slotStagingRow[slot] = runStagingRow[run] + (start - runStart[run])
            } else {
                runStart[runCount] = start
                runEnd[runCount] = end
                runStagingRow[runCount] = stagingRows
                slotStagingRow[slot] = stagingRows
                stagingRows += rowsPerSample
                runCount += 1
            }
        }
        return stagingRows
    }
}

/// Sorts `values[0..<count]` ascending in place (heap sort: O(n log n), no allocation).
func heapSort(_ values: UnsafeMutablePointer<UInt64>, count: Int) {
    func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while 2 * root + 1 < end {
            var child = 2 * root + 1
            if child + 1 < end && values[child] < values[child + 1] { child += 1 }
            if values[root] >= values[child] { return }
            values.swapAt(root, child)
            root = child
        }
    }
    guard count > 1 else { return }
    var start = count / 2 - 1
    while start >= 0 {
        siftDown(start, count)
        start -= 1
    }
    var end = count - 1
    while end > 0 {
        values.swapAt(0, end)
        siftDown(0, end)
        end -= 1
    }
}

extension UnsafeMutablePointer {
    @inline(__always)
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
