/// How many leading positions of each sequence of a batch are real tokens; the rest (the tail up
/// to the padded length T) is padding that must not change the real positions' results.
///
///     count(b) ∈ 1 ... T for b < capacity; T (no padding) until `set` says otherwise
///
/// One instance is shared by the model and every block's attention core (`makeAttentionCore(…,
/// validLengths:)`); the model writes it at the start of each forward and the cores read it in
/// forward and backward. Allocated once; `set` and `count` allocate nothing.
public final class SequenceLengths {
    /// Sequences it holds a length for (the batch capacity B).
    public let capacity: Int
    /// T: the padded length, and every sequence's length until `set` is called.
    public let fullLength: Int
    private let counts: UnsafeMutablePointer<Int>   // [capacity]

    public init(capacity: Int, fullLength: Int) {
        precondition(capacity > 0 && fullLength > 0,
                     "SequenceLengths needs a positive capacity and length, got \(capacity), \(fullLength)")
        self.capacity = capacity
        self.fullLength = fullLength
        counts = .allocate(capacity: capacity)
        counts.initialize(repeating: fullLength, count: capacity)
    }

    deinit { counts.deallocate() }

    /// Real positions of sequence `b`.
    @inline(__always) public func count(_ b: Int) -> Int { counts[b] }

    /// Whether some sequence is shorter than `fullLength`.
    public var hasPadding: Bool {
        for b in 0..<capacity where counts[b] != fullLength { return true }
        return false
    }

    /// Sequences 0..<n take `lengths[b] + extra` (clamped to 1 ... T; nil: T); sequences
    /// n..<capacity take T. `extra` counts tokens the model puts before the data's (a CLS token).
    public func set(_ lengths: UnsafePointer<Int32>?, count n: Int, extra: Int = 0) {
        precondition(n >= 0 && n <= capacity, "SequenceLengths.set: \(n) lengths for a capacity of \(capacity)")
        for b in 0..<capacity {
            if let lengths, b < n {
                counts[b] = min(max(Int(lengths[b]) &+ extra, 1), fullLength)
            } else {
                counts[b] = fullLength
            }
        }
    }

    /// Every sequence back to T (no padding).
    public func reset() { set(nil, count: 0) }
}
