import TensorKernels

/// Picks the next token from a row of logits: greedy (temperature 0) or sampled from
///
///     p_c ∝ exp((l_c − max l) / T)   restricted to the `topK` largest logits, then to the smallest
///                                     set of most probable tokens whose probability sums to ≥ `topP`
///
/// Draw t uses u = `CounterRandom(seed, .sampling).uniformDouble(at: t)` and returns the first
/// token whose cumulative probability passes u · total (tokens in id order, or in order of
/// decreasing probability, ties by id, when top-k or top-p cut the list), so a (seed, logits) pair always gives the same token on any machine and the same
/// seed gives the same sample. Greedy returns the smallest id among the maxima.
///
/// Buffers are allocated at `init`; `next` allocates nothing.
public final class TokenSampler {
    /// Temperature; 0 = greedy.
    public let temperature: Double
    /// Keep only the k most probable tokens (nil: all).
    public let topK: Int?
    /// Nucleus: keep the most probable tokens up to cumulative probability `topP` (nil or 1: all).
    public let topP: Double?
    public let random: CounterRandom
    let vocabulary: Int
    private var order: [Int]
    private var weights: [Double]

    public init(vocabulary: Int, temperature: Double, topK: Int? = nil, topP: Double? = nil, seed: UInt64) {
        precondition(vocabulary > 0, "TokenSampler: empty vocabulary")
        precondition(temperature >= 0 && temperature.isFinite, "TokenSampler: temperature \(temperature) < 0")
        precondition(topK.map { $0 >= 1 } ?? true, "TokenSampler: top-k must be ≥ 1")
        precondition(topP.map { $0 > 0 && $0 <= 1 } ?? true, "TokenSampler: top-p must be in (0, 1]")
        self.vocabulary = vocabulary
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        random = CounterRandom(seed: seed, domain: .sampling)
        order = Array(0..<vocabulary)
        weights = [Double](repeating: 0, count: vocabulary)
    }

    /// The token for draw `draw` (0 for the first generated token, 1 for the next, …) from
    /// `logits` [vocabulary].
    public func next<Scalar: TensorScalar>(_ logits: UnsafePointer<Scalar>, draw: Int) -> Int32 {
        var best = 0
        for c in 1..<vocabulary where logits[c] > logits[best] { best = c }
        if temperature == 0 { return Int32(best) }
        let maximum = Double(logits[best])
        for c in 0..<vocabulary { weights[c] = Double.exp((Double(logits[c]) - maximum) / temperature) }
        for c in 0..<vocabulary { order[c] = c }
        if topK != nil || topP != nil {   // plain sampling needs no order
            order.withUnsafeMutableBufferPointer { ids in
                weights.withUnsafeBufferPointer { w in
                    ids.sort { w[$0] > w[$1] || (w[$0] == w[$1] && $0 < $1) }
                }
            }
        }
        var kept = min(topK ?? vocabulary, vocabulary)
        var total = 0.0
        for rank in 0..<kept { total += weights[order[rank]] }
        if let topP, topP < 1 {
            var cumulative = 0.0
            for rank in 0..<kept {
                cumulative += weights[order[rank]]
                if cumulative >= topP * total { kept = rank + 1; total = cumulative; break }
            }
        }
        let target = random.uniformDouble(at: UInt64(draw)) * total
        var cumulative = 0.0
        for rank in 0..<kept {
            cumulative += weights[order[rank]]
            if target < cumulative { return Int32(order[rank]) }
        }
        return Int32(order[kept - 1])
    }
}

