/// Bytes a loader allocates for its buffers, for the trainer's memory plan, from the same sizes
/// `Batch.init` and `BatchReader.init` use.
extension DatasetSplit {
    /// One `Batch` of `capacity` samples plus the reader's staging rows and labels.
    ///
    /// - Parameter sequenceLength: L of a token stream (ignored for images and sequences).
    public func batchBufferBytes(capacity: Int, sequenceLength: Int) -> (batch: Int, staging: Int) {
        let int32 = MemoryLayout<Int32>.stride
        switch kind {
        case .images:
            let pixels = imageHeight * imageWidth * imageChannels
            let batch = capacity * pixels * MemoryLayout<Float>.stride + capacity * int32 + capacity * MemoryLayout<Int>.stride
            return (batch, capacity * pixels + capacity * int32)   // staging: raw 8-bit pixels
        case .sequences:
            let length = fileSequenceLength
            let batch = capacity * length * int32 + capacity * int32 + capacity * MemoryLayout<Int>.stride
            return (batch, capacity * length * int32 + capacity * int32)
        case .tokens:
            let batch = 2 * capacity * sequenceLength * int32 + capacity * MemoryLayout<Int>.stride
            return (batch, capacity * (sequenceLength + 1) * primary.rowElements * int32 + capacity * int32)
        }
    }
}
