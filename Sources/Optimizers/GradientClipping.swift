/// The global L2 norm ‖g‖₂ = √(Σᵢ gᵢ²) of a flat gradient buffer, accumulated in Double, chunk by
/// chunk of `ShardLayout(count:)`: each chunk's squared sum (`chunkSquaredSum`), then the chunks'
/// sums added in chunk order. A sharded run adds the same chunk sums, computed by their owners,
/// in the same order, so both give the same bits.
///
/// - Parameters:
///   - gradients: `[count]`.
///   - count: number of elements, ≥ 0.
public func gradientNorm(_ gradients: UnsafePointer<Float>, count: Int) -> Double {
    precondition(count >= 0, "gradientNorm count must be >= 0, got \(count)")
    let layout = ShardLayout(count: count)
    var total = 0.0
    for c in 0 ..< layout.chunkCount {
        let range = layout.elements(ofChunk: c)
        total += chunkSquaredSum(gradients + range.lowerBound, count: range.count)
    }
    return total.squareRoot()
}

/// Σᵢ gᵢ² of one chunk, in Double. Four independent accumulators keep the loop free of a serial
/// dependency (and make the result independent of the vector width the compiler picks); they
/// are combined as (s0 + s1) + (s2 + s3).
///
/// - Parameters:
///   - gradients: `[count]`.
public func chunkSquaredSum(_ gradients: UnsafePointer<Float>, count: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    let blocked = count & ~3
    while i < blocked {
        let a = Double(gradients[i]), b = Double(gradients[i &+ 1])
        let c = Double(gradients[i &+ 2]), d = Double(gradients[i &+ 3])
        s0 += a * a
        s1 += b * b
        s2 += c * c
        s3 += d * d
        i &+= 4
    }
    while i < count {
        let a = Double(gradients[i])
        s0 += a * a
        i &+= 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// The factor `torch.nn.utils.clip_grad_norm_` scales gradients by, for norm n (Double):
///
///     scale = maxNorm / (n + 1e-6)   if n > maxNorm,   else 1
///
/// `maxNorm ≤ 0` disables clipping (scale 1); a non-finite norm gives 1 (the caller skips the step).
public func clipScale(norm: Double, maxNorm: Float) -> Float {
    guard maxNorm > 0, norm.isFinite, norm > Double(maxNorm) else { return 1 }
    return Float(Double(maxNorm) / (norm + 1e-6))
}

/// Multiplies `gradients[0 ..< count]` by `scale` (nothing when it is 1).
public func scaleGradients(_ gradients: UnsafeMutablePointer<Float>, count: Int, by scale: Float) {
    guard scale != 1 else { return }
    var i = 0
    while i < count {
        gradients[i] *= scale
        i &+= 1
    }
}

/// Clips a flat gradient buffer by its global L2 norm, with `torch.nn.utils.clip_grad_norm_`'s
/// rule (`clipScale`), g ← g · scale.
///
/// - `maxNorm ≤ 0` disables clipping: the norm is still returned (for logging), scale is 1.
/// - A non-finite norm (a NaN or ±∞ somewhere in `gradients`) leaves the buffer untouched and
///   returns scale 1: the caller sees the non-finite norm and should skip the step.
///
/// - Parameters:
///   - gradients: `[count]`, scaled in place.
///   - count: number of elements.
///   - maxNorm: the largest allowed norm, in gradient units.
/// - Returns: the norm before clipping (rounded to Float) and the factor applied.
@discardableResult
public func clipGradients(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> (norm: Float, scale: Float) {
    let norm = gradientNorm(gradients, count: count)
    let scale = clipScale(norm: norm, maxNorm: maxNorm)
    scaleGradients(gradients, count: count, by: scale)
    return (Float(norm), scale)
}
