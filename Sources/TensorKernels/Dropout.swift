// Inverted dropout with masks recomputed from a counter-based generator, so no mask is stored:
// the backward pass calls the same function on dy with the same generator and indices.

/// y[i] = x[i] · mᵢ / (1 − p), mᵢ = 1 if word(at: firstIndex + i) ≥ ⌈p·2³²⌉ else 0 — each element
/// kept with probability 1 − p (to within 2⁻³²) and scaled so that E[y] = x.
///
/// The backward pass is the same call on the output gradient: dx = dropout(dy) with the same
/// `random` and `firstIndex`. Key `random` by (seed, `.dropout`, step, global sample index,
/// layer, site) and it is the same mask on any number of ranks.
///
/// - Parameters:
///   - x, y: [count]; y may be x.
///   - probability: p, the drop probability, in [0, 1). p = 0 copies x.
@inlinable
public func dropout<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int,
    probability: Double, random: CounterRandom, firstIndex: UInt64 = 0
) {
    precondition(probability >= 0 && probability < 1,
                 "dropout: probability \(probability) is outside [0, 1)")
    if probability == 0 { copy(x, into: y, count: count); return }
    let threshold = UInt64((probability * 0x1p32).rounded(.up))  // ≤ 2³²
    let keepScale = Scalar(1 / (1 - probability))
    var i = 0
    while i < count {
        let index = firstIndex &+ UInt64(i)
        let words = random.block(index >> 2)
        var lane = Int(index & 3)
        while lane < 4 && i < count {
            y[i] = UInt64(words[lane]) >= threshold ? x[i] * keepScale : 0
            lane &+= 1
            i &+= 1
        }
    }
}
