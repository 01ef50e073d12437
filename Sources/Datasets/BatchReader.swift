import HDF5IO

/// Reads the samples of one batch into a `Batch`: plans the fewest hyperslab reads (samples
/// sorted and coalesced into runs of rows, `RowRunPlan`), reads each run into a staging buffer,
/// then writes each sample to its row of the batch in the order asked for, converting it
/// (images: augment and normalise to Float; tokens: split windows into inputs and targets).
///
/// All buffers are allocated once for `capacity` samples; reading a batch allocates nothing.
/// Not thread-safe: one reader per thread.
final class BatchReader {
    let split: DatasetSplit
    let capacity: Int
    /// L: tokens per sample of a `sequences` file or window of a `tokens` stream; 0 for images.
    let sequenceLength: Int
    /// Samples that exist: N, or ⌊(T − 1)/L⌋ windows.
    let sampleCount: Int
    let augmentation: ImageAugmentation?

    private let plan: RowRunPlan
    private let normaliser: PixelNormaliser?
    private let stagingBytes: UnsafeMutableRawPointer   // [stagingRows, rowElements] of UInt8 or Int32
    private let labelStaging: UnsafeMutablePointer<Int32>   // [capacity]
    private let lengthStaging: UnsafeMutablePointer<Int32>  // [capacity]

    init(split: DatasetSplit, capacity: Int, sequenceLength: Int, augmentation: ImageAugmentation?) {
        precondition(capacity > 0, "batch capacity must be positive")
        self.split = split
        self.capacity = capacity
        self.augmentation = split.kind == .images ? augmentation : nil
        switch split.kind {
        case .images:
            self.sequenceLength = 0
            plan = RowRunPlan(capacity: capacity)
            normaliser = PixelNormaliser(height: split.imageHeight, width: split.imageWidth,
                                         channels: split.imageChannels, mean: split.mean, std: split.std)
        case .sequences:
            self.sequenceLength = split.fileSequenceLength
            plan = RowRunPlan(capacity: capacity)
            normaliser = nil
        case .tokens:
            precondition(sequenceLength > 0, "a token stream needs a positive sequence length")
            self.sequenceLength = sequenceLength
            plan = RowRunPlan(capacity: capacity, rowStride: sequenceLength, rowsPerSample: sequenceLength + 1)
            normaliser = nil
        }
        sampleCount = split.sampleCount(sequenceLength: max(self.sequenceLength, 1))
        let elementBytes = split.kind == .images ? 1 : MemoryLayout<Int32>.stride
        let bytes = plan.stagingRowCapacity * split.primary.rowElements * elementBytes
        stagingBytes = .allocate(byteCount: max(bytes, 1), alignment: 64)
        labelStaging = .allocate(capacity: capacity)
        lengthStaging = .allocate(capacity: capacity)
    }

    deinit {
        stagingBytes.deallocate()
        labelStaging.deallocate()
        lengthStaging.deallocate()
    }

    /// A batch with buffers for `capacity` samples of this split.
    func makeBatch() -> Batch {
        Batch(kind: split.kind, capacity: capacity,
              pixelsPerSample: normaliser?.pixelsPerImage ?? 0, sequenceLength: sequenceLength)
    }

    /// Reads `samples` (sample indices, row j of the batch = the j-th) into `batch`; `epoch` keys
    /// the image augmentation.
    func read<Samples: Collection>(_ samples: Samples, epoch: Int, position: DataPosition,
                                   into batch: Batch) throws where Samples.Element == Int {
        precondition(samples.count <= batch.capacity && batch.capacity <= capacity,
                     "\(samples.count) samples do not fit a batch of \(batch.capacity)")
        var slot = 0
        for sample in samples {
            precondition(sample >= 0 && sample < sampleCount, "sample \(sample) is not in 0..<\(sampleCount)")
            batch.sampleIndexStorage[slot] = sample
            slot += 1
        }
        plan.plan(samples)
        let rowElements = split.primary.rowElements
        try wrapped {
            for run in 0 ..< plan.runCount {
                let rows = plan.runStart[run] ..< plan.runEnd[run]
                let offset = plan.runStagingRow[run] * rowElements
                if split.kind == .images {
                    try split.primary.read(rows: rows, into: stagingBytes.assumingMemoryBound(to: UInt8.self) + offset)
                } else {
                    try split.primary.read(rows: rows, into: stagingBytes.assumingMemoryBound(to: Int32.self) + offset)
                }
                if let labels = split.labels {
                    try labels.read(rows: rows, into: labelStaging + plan.runStagingRow[run])
                }
                if let lengths = split.lengths {
                    try lengths.read(rows: rows, into: lengthStaging + plan.runStagingRow[run])
                }
            }
        }
        let count = samples.count
        switch split.kind {
        case .images:
            writeImages(count: count, epoch: epoch, batch: batch)
        case .sequences:
            let tokens = stagingBytes.assumingMemoryBound(to: Int32.self)
            let length = sequenceLength
            for j in 0 ..< count {
                (batch.tokens.pointer + j &* length).update(from: tokens + plan.slotStagingRow[j] &* length, count: length)
            }
        case .tokens:
            let stream = stagingBytes.assumingMemoryBound(to: Int32.self)
            let length = sequenceLength
            for j in 0 ..< count {
                let window = stream + plan.slotStagingRow[j]          // [L + 1]
                (batch.tokens.pointer + j &* length).update(from: window, count: length)
                (batch.targets.pointer + j &* length).update(from: window + 1, count: length)
            }
        }
        if split.labels != nil {
            for j in 0 ..< count { batch.labels.pointer[j] = labelStaging[plan.slotStagingRow[j]] }
        }
        if split.lengths != nil {
            for j in 0 ..< count { batch.lengths.pointer[j] = lengthStaging[plan.slotStagingRow[j]] }
        }
        batch.count = count
        batch.position = position
    }

    private func writeImages(count: Int, epoch: Int, batch: Batch) {
        guard let normaliser else { return }
        let pixels = stagingBytes.assumingMemoryBound(to: UInt8.self)
        let size = normaliser.pixelsPerImage
        for j in 0 ..< count {
            let source = pixels + plan.slotStagingRow[j] &* size
            let output = batch.pixels.pointer + j &* size
            if let augmentation {
                let draw = augmentation.draw(epoch: epoch, sample: batch.sampleIndexStorage[j])
                normaliser.write(source, to: output, dy: draw.dy, dx: draw.dx,
                                 padding: augmentation.padding, flip: draw.flip)
            } else {
                normaliser.write(source, to: output)
            }
        }
    }
}
