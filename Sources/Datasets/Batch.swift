import TensorKernels

/// A row-major buffer of Int32 token ids or labels that it owns (Tensor holds floating-point
/// types only). Contents start zeroed.
public final class Int32Buffer {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<Int32>

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Int32Buffer shape has a negative dimension: \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Int32> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Int32] { Array(buffer) }

    public subscript(_ i: Int) -> Int32 {
        get { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); return pointer[i] }
        set { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); pointer[i] = newValue }
    }
}

/// One batch of samples as the model consumes them. Buffers are sized for `capacity` samples once
/// and overwritten by every batch; rows `count..<capacity` (the tail of a partial evaluation batch)
/// hold stale data. Which buffers are used depends on the kind (unused ones have shape [0]):
///
/// | kind | buffer | shape | contents |
/// |---|---|---|---|
/// | images | `pixels` | [capacity, H·W·C] | (p/255 − mean[c]) / std[c], H×W×C order (row, column, channel) |
/// | images, sequences | `labels` | [capacity] | class 0..<num_classes |
/// | sequences | `tokens` | [capacity, L] | token ids 0..<vocab_size |
/// | tokens | `tokens` | [capacity, L] | window tokens[k·L ..< k·L+L] (inputs) |
/// | tokens | `targets` | [capacity, L] | window tokens[k·L+1 ..< k·L+L+1] (next tokens) |
///
/// The model's patch embedding wants (channel, row, column) patches: it gathers them from the
/// H×W×C rows of `pixels`.
public final class Batch {
    public let kind: DatasetKind
    /// Samples the buffers hold room for.
    public let capacity: Int
    /// Samples in this batch (≤ capacity).
    public internal(set) var count = 0
    /// Training: the epoch and global batch this is (this rank's slice of it). Evaluation: epoch 0
    /// and the rank's batch number.
    public internal(set) var position = DataPosition()

    public let pixels: Tensor<Float>      // images: [capacity, H·W·C]
    public let tokens: Int32Buffer        // sequences, tokens: [capacity, L]
    public let targets: Int32Buffer       // tokens: [capacity, L]
    public let labels: Int32Buffer        // images, sequences: [capacity]
    let sampleIndexStorage: UnsafeMutablePointer<Int>   // [capacity]

    init(kind: DatasetKind, capacity: Int, pixelsPerSample: Int, sequenceLength: Int) {
        self.kind = kind
        self.capacity = capacity
        pixels = Tensor<Float>(shape: kind == .images ? [capacity, pixelsPerSample] : [0])
        tokens = Int32Buffer(shape: kind == .images ? [0] : [capacity, sequenceLength])
        targets = Int32Buffer(shape: kind == .tokens ? [capacity, sequenceLength] : [0])
        labels = Int32Buffer(shape: kind == .tokens ? [0] : [capacity])
        sampleIndexStorage = .allocate(capacity: capacity)
        sampleIndexStorage.initialize(repeating: 0, count: capacity)
    }

    /// A batch whose buffers the caller fills (synthetic inputs for benchmarks): `capacity`
    /// zeroed samples, all counted, at data position (0, 0).
    public convenience init(filling kind: DatasetKind, capacity: Int, pixelsPerSample: Int, sequenceLength: Int) {
        self.init(kind: kind, capacity: capacity, pixelsPerSample: pixelsPerSample, sequenceLength: sequenceLength)
        count = capacity
        for row in 0 ..< capacity { sampleIndexStorage[row] = row }
    }

    deinit { sampleIndexStorage.deallocate() }

    /// The dataset index (sample number in the split) of row `row`.
    public func sampleIndex(_ row: Int) -> Int {
        precondition(row >= 0 && row < count, "row \(row) is not in 0..<\(count)")
        return sampleIndexStorage[row]
    }

    /// The dataset indices of rows 0..<count (allocates: for tests and logs).
    public var sampleIndices: [Int] { (0..<count).map { sampleIndexStorage[$0] } }
}
