import FlowModel
import TensorKernels
import Training

/// One attention-core measurement: forward then backward of one `AttentionCore<Float>` on
/// q, k, v of shape [batch, length, d_model] (self-attention, L = S), inputs drawn normal(0, 1).
///
/// Only the core is timed — everything between the q/k/v projections and the out projection,
/// which is where the attention kinds differ. Compute only: the inputs are synthetic.
public struct AttentionResult: Codable, Sendable, Equatable {
    /// `flow`, `softmax` or `linear`.
    public var kind: String
    public var causal: Bool
    /// L = S.
    public var length: Int
    public var batch: Int
    public var dModel: Int
    public var heads: Int
    /// Forward time, seconds (nil when skipped).
    public var forward: TimingSummary?
    /// Backward time, seconds (nil when skipped).
    public var backward: TimingSummary?
    /// Median of (forward + backward) over the timed runs, in milliseconds.
    public var forwardBackwardMilliseconds: Double?
    /// Peak resident memory of the process after this case, MiB (cumulative: the process's
    /// high-water mark so far).
    public var peakResidentMebibytes: Double?
    /// Why the case was not run (e.g. softmax's L×L probabilities would not fit the budget).
    public var skipped: String?
}

/// The ratio t(L_long) / t(L_short) of one kind's forward+backward time — the measure of how
/// close to linear in L it scales (ideal: L_long / L_short).
public struct AttentionScaling: Codable, Sendable, Equatable {
    public var kind: String
    public var causal: Bool
    public var shortLength: Int
    public var longLength: Int
    /// t(long) / t(short) from the medians.
    public var timeRatio: Double
    /// long / short: the ratio a perfectly linear cost would give.
    public var lengthRatio: Double
}

/// Times attention cores over a grid of lengths, kinds and causality.
public enum AttentionBenchmark {
    /// The lengths of the grid: 512 … 16384 in powers of two.
    public static let standardLengths = [512, 1024, 2048, 4096, 8192, 16384]

    /// Bytes the softmax core keeps for a shape: the probabilities [B, H, L, S] saved for backward
    /// plus an [L, S] workspace, in Float.
    public static func softmaxBytes(batch: Int, length: Int, heads: Int) -> Int {
        (batch * heads + 1) * length * length * MemoryLayout<Float>.stride
    }

    /// Runs every (kind, causal, length) combination, in that nesting order.
    ///
    /// - Parameter softmaxMaxLength: softmax cases with a longer L are recorded as skipped (its
    ///   memory and time grow as L²: at L = 16384, d_model 256, 8 heads, batch 1 the saved
    ///   probabilities alone take 8 GiB and one forward+backward takes seconds).
    public static func run(kinds: [AttentionKind], causal: [Bool], lengths: [Int], batch: Int, dModel: Int,
                           heads: Int, softmaxMaxLength: Int, policy: RepeatPolicy,
                           progress: (AttentionResult) -> Void = { _ in }) -> [AttentionResult] {
        var results: [AttentionResult] = []
        for kind in kinds {
            for isCausal in causal {
                for length in lengths {
                    var result = AttentionResult(kind: kind.rawValue, causal: isCausal, length: length, batch: batch,
                                                 dModel: dModel, heads: heads)
                    if kind == .softmax && length > softmaxMaxLength {
                        let gib = Double(softmaxBytes(batch: batch, length: length, heads: heads)) / 1_073_741_824
                        result.skipped = "softmax L=\(length) above --softmax-max-length \(softmaxMaxLength) "
                            + "(its saved probabilities take \(formatFixed(gib, digits: 1)) GiB)"
                    } else {
                        let shape = AttentionShape(batch: batch, length: length, modelWidth: dModel,
                                                   heads: heads, causal: isCausal)
                        // Long quadratic cases are timed fewer times so the grid stays in budget.
                        let slow = kind == .softmax && length >= 8192
                        let casePolicy = slow
                            ? RepeatPolicy(warmup: 0, minRepeats: 1, maxRepeats: policy.minRepeats, budgetSeconds: 0)
                            : policy
                        let (forward, backward, total) = time(kind, shape: shape, policy: casePolicy)
                        result.forward = forward
                        result.backward = backward
                        result.forwardBackwardMilliseconds = total.median * 1000
                        result.peakResidentMebibytes = mebibytes(ResidentMemory.peakBytes())
                    }
                    progress(result)
                    results.append(result)
                }
            }
        }
        return results
    }

    /// Times forward and backward of one core; returns (forward, backward, forward + backward).
    static func time(_ kind: AttentionKind, shape: AttentionShape,
                     policy: RepeatPolicy) -> (TimingSummary, TimingSummary, TimingSummary) {
        let core = makeAttentionCore(kind, shape: shape, scalar: Float.self)
        let elements = shape.queryElements
        let q = Tensor<Float>(elements), k = Tensor<Float>(elements), v = Tensor<Float>(elements)  // [B, L, D]
        let output = Tensor<Float>(elements), outputGradient = Tensor<Float>(elements)             // [B, L, D]
        let dq = Tensor<Float>(elements), dk = Tensor<Float>(elements), dv = Tensor<Float>(elements) // [B, L, D]
        for (stream, tensor) in [q, k, v, outputGradient].enumerated() {
            CounterRandom(seed: 7, stream: UInt64(stream)).fillNormal(tensor.pointer, count: elements,
                                                                       standardDeviation: 1)
        }
        var forwardSamples: [Double] = [], backwardSamples: [Double] = [], totalSamples: [Double] = []
        _ = measure(policy) {
            let start = monotonicSeconds()
            core.forward(queries: q.pointer, keys: k.pointer, values: v.pointer, output: output.pointer)
            let middle = monotonicSeconds()
            core.backward(outputGradient: outputGradient.pointer, queryGradient: dq.pointer,
                          keyGradient: dk.pointer, valueGradient: dv.pointer)
            let end = monotonicSeconds()
            forwardSamples.append(middle - start)
            backwardSamples.append(end - middle)
            totalSamples.append(end - start)
        }
        // measure() also ran the warm-up through the closure: keep only the timed runs.
        let timed = forwardSamples.count - policy.warmup
        return (TimingSummary(samples: Array(forwardSamples.suffix(timed))),
                TimingSummary(samples: Array(backwardSamples.suffix(timed))),
                TimingSummary(samples: Array(totalSamples.suffix(timed))))
    }

    /// t(long)/t(short) for every (kind, causal) that has both lengths measured.
    public static func scaling(_ results: [AttentionResult], shortLength: Int, longLength: Int) -> [AttentionScaling] {
        var out: [AttentionScaling] = []
        for short in results where short.length == shortLength {
            guard let shortTime = short.forwardBackwardMilliseconds,
                  let long = results.first(where: { $0.kind == short.kind && $0.causal == short.causal && $0.length == longLength }),
                  let longTime = long.forwardBackwardMilliseconds else { continue }
            out.append(AttentionScaling(kind: short.kind, causal: short.causal, shortLength: shortLength,
                                        longLength: longLength, timeRatio: longTime / shortTime,
                                        lengthRatio: Double(longLength) / Double(shortLength)))
        }
        return out
    }
}
