import FlowModel
import TensorKernels

/// `train.deterministic`: a step's gradient as the exact sum of its micro-batch gradients.
///
/// Every micro-batch's backward adds into a zeroed Float gradient buffer, so it holds that
/// micro-batch's gradient alone — the same bits whichever rank computes it (the data order,
/// dropout and augmentation are keyed by global sample index, and each product's terms are
/// added in the same order whatever the batch size). As backward announces each finished range,
/// `quantize` turns it into Int64 fixed point (one quantum 2^e_t per parameter tensor t),
/// adds it to `sums` and zeroes the Float range for the next micro-batch. After the last
/// micro-batch the reducer sums `sums` across ranks with MPI_SUM on int64 (exact, so the total
/// is the same for any grouping of micro-batches into ranks), and `dequantize` writes
/// Float(Σq) · 2^e_t back into the gradient buffer: one rounding per element.
///
/// The largest |term| of each tensor (`maxima`, max-reduced over ranks by the trainer) decides
/// whether the step's exponents fitted (`FixedPointExponents.verdict`), and chooses the next
/// step's exponents. The exponents are part of the run's state (checkpoints store them).
final class FixedPointGradients {
    /// The Float gradient buffer of the model, [parameters].
    let gradients: UnsafeMutablePointer<Float>
    /// Int64 fixed-point sums, [parameters] in the parameter layout; what the reducer reduces.
    let sums: UnsafeMutablePointer<Int64>
    let count: Int
    /// Each parameter tensor's range in the buffers, in offset order.
    private let tensors: [Range<Int>]
    /// The exponents of the current step, one per tensor.
    private(set) var exponents: FixedPointExponents
    /// Largest |gradient term| of each tensor this step (Float bit patterns, sign cleared) —
    /// this rank's until `maxima` is max-reduced across ranks. Int32 for MPI (the values are < 2^31).
    var maxima: [Int32]
    /// Whether the next quantised term is the first of this step on this rank (then it
    /// overwrites `sums` instead of adding: no separate clearing pass).
    private var firstMicroBatch = true

    /// - Parameters:
    ///   - terms: micro-batches summed per step across all ranks (global batch / micro-batch).
    ///   - exponents: saved exponents (a resumed run), or nil for the initial guess.
    init(table: ParameterTable, gradients: UnsafeMutablePointer<Float>, terms: Int, exponents: [Int]?) {
        self.gradients = gradients
        count = table.count
        sums = .allocate(capacity: max(table.count, 1))
        sums.initialize(repeating: 0, count: max(table.count, 1))
        tensors = table.entries.map(\.range)
        self.exponents = FixedPointExponents(groups: table.entries.count, terms: terms, exponents: exponents)
        maxima = [Int32](repeating: 0, count: table.entries.count)
    }

    deinit { sums.deallocate() }

    /// Starts a step (or its redo): the next micro-batch is the first.
    func beginStep() {
        firstMicroBatch = true
        for t in maxima.indices { maxima[t] = 0 }
    }

    /// Call after each micro-batch's backward.
    func endMicroBatch() { firstMicroBatch = false }

    /// gradients[range] (one micro-batch's, final) → `sums`, zeroing it; tracks the maxima.
    func quantize(_ range: Range<Int>) {
        let termBits = exponents.termBits
        for (t, tensor) in tensors.enumerated() where tensor.overlaps(range) {
            let part = tensor.clamped(to: range)
            let largest = quantizeAndAccumulate(gradients + part.lowerBound, into: sums + part.lowerBound,
                                                count: part.count, exponent: exponents.exponents[t],
                                                termBits: termBits, overwrite: firstMicroBatch)
            let bits = Int32(bitPattern: largest)   // < 2^31: the sign bit is cleared
            if bits > maxima[t] { maxima[t] = bits }
        }
    }

    /// The step's verdict from the (global) maxima.
    func verdict() -> FixedPointExponents.Verdict {
        maxima.withUnsafeBytes { raw in
            exponents.verdict(maxima: raw.bindMemory(to: UInt32.self))
        }
    }

    /// Sets the exponents from the (global) maxima: for the redo of this step, or for the next.
    func adaptExponents() {
        maxima.withUnsafeBytes { raw in
            exponents.adapt(to: raw.bindMemory(to: UInt32.self))
        }
    }

    /// `sums` (reduced across ranks) → the Float gradient buffer: Float(Σq) · 2^e_t.
    func dequantizeIntoGradients() {
        for (t, tensor) in tensors.enumerated() {
            dequantize(sums + tensor.lowerBound, into: gradients + tensor.lowerBound, count: tensor.count,
                       exponent: exponents.exponents[t])
        }
    }
}
