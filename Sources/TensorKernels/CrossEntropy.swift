// Softmax cross-entropy over classes (the loss of every head: next token, image class,
// sequence class), fused with its gradient.

/// Mean softmax cross-entropy of `rows` predictions, and optionally its gradient.
///
///     lossᵢ = log Σⱼ e^(z[i, j]) − z[i, tᵢ]            (natural log: nats)
///     returns  (1/rows) Σᵢ lossᵢ                       (accumulated in Double)
///     dz[i, j] = (softmax(zᵢ)ⱼ − [j = tᵢ]) · gradientScale
///
/// `gradientScale` defaults to 1/rows, the gradient of the returned mean. A trainer that averages
/// over a larger global batch (micro-batches, ranks) passes 1/(global count) instead. Multiply the
/// result by `rows` for the summed loss (validation sums and counts across ranks).
///
/// - Parameters:
///   - logits: z, [rows, classes].
///   - targets: t, [rows], each in 0..<classes — checked by `precondition` (the data layer
///     validates labels earlier and reports them as errors).
///   - logitsGradient: dz, [rows, classes], written; may be `logits` itself; nil skips it.
@inlinable @discardableResult
public func softmaxCrossEntropy<Scalar: TensorScalar>(
    logits: UnsafePointer<Scalar>, targets: UnsafePointer<Int32>, rows: Int, classes: Int,
    logitsGradient: UnsafeMutablePointer<Scalar>?, gradientScale: Scalar? = nil
) -> Double {
    precondition(classes > 0, "softmaxCrossEntropy needs at least one class")
    if rows == 0 { return 0 }
    let scale = gradientScale ?? 1 / Scalar(rows)
    var totalLoss = 0.0
    for i in 0..<rows {
        let z = logits + i &* classes
        let target = Int(targets[i])
        precondition(target >= 0 && target < classes,
                     "softmaxCrossEntropy: target \(target) at row \(i) is outside 0..<\(classes)")
        let rowMax = laneMaximum(z, count: classes)
        let targetShifted = z[target] - rowMax  // read before dz (which may alias z) is written
        let sumExp: Scalar
        if let dzAll = logitsGradient {
            let dz = dzAll + i &* classes
            var j = 0
            while j < classes { dz[j] = Scalar.fastExp(z[j] - rowMax); j &+= 1 }
            sumExp = laneSum(count: classes) { dz[$0] }
            let factor = scale / sumExp
            j = 0
            while j < classes { dz[j] *= factor; j &+= 1 }
            dz[target] -= scale
        } else {
            sumExp = laneSum(count: classes) { Scalar.fastExp(z[$0] - rowMax) }
        }
        totalLoss += Double.log(Double(sumExp)) - Double(targetShifted)
    }
    return totalLoss / Double(rows)
}
