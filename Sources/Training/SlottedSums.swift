import FlowModel

/// Loss sums that are the same bits on any number of ranks (`train.deterministic`).
///
/// Each global micro-batch (or evaluation batch) k owns a slot of three Doubles (Σ loss,
/// Σ correct, samples). Each rank fills the slots of its own batches and leaves the others 0; an
/// all-reduce SUM then gives every rank every slot exactly (each slot is x + 0 + … + 0 = x,
/// whatever order MPI adds in), and `total` adds the slots in index order — the order one rank
/// holding every batch would use. A batch's own sums are the same bits on any rank (same
/// samples, same arithmetic), so the total is too. The cost is 3 Doubles per batch on the wire.
struct SlottedSums {
    /// [slots, 3]: Σ loss, Σ correct, samples of each batch.
    private var values: [Double]

    init(slots: Int) {
        values = [Double](repeating: 0, count: 3 * slots)
    }

    var slotCount: Int { values.count / 3 }

    mutating func clear() {
        for i in values.indices { values[i] = 0 }
    }

    mutating func set(_ slot: Int, _ sums: LossSums) {
        values[3 * slot] = sums.lossSum
        values[3 * slot + 1] = sums.correct
        values[3 * slot + 2] = Double(sums.count)
    }

    /// Marks a slot's loss as not a number (fault injection: a NaN loss on one rank).
    mutating func poisonLoss(_ slot: Int) { values[3 * slot] = .nan }

    /// Every rank's slots (`sumAcrossRanks`: an element-wise all-reduce sum, in place), added in
    /// slot order.
    mutating func total(_ sumAcrossRanks: (UnsafeMutableBufferPointer<Double>) throws -> Void) rethrows -> LossSums {
        try values.withUnsafeMutableBufferPointer { try sumAcrossRanks($0) }
        var loss = 0.0, correct = 0.0, samples = 0.0
        for slot in 0 ..< slotCount {
            loss += values[3 * slot]
            correct += values[3 * slot + 1]
            samples += values[3 * slot + 2]
        }
        return LossSums(lossSum: loss, correct: correct, count: Int(samples))
    }
}
