// LayerNorm over the last axis of a row-major [rows, cols] matrix (PyTorch `nn.LayerNorm(cols)`).

/// Forward:
///
///     μᵢ = (1/D) Σⱼ x[i, j]
///     σ²ᵢ = (1/D) Σⱼ (x[i, j] − μᵢ)²        (biased variance, two passes)
///     rᵢ = 1/√(σ²ᵢ + ε)
///     y[i, j] = (x[i, j] − μᵢ) · rᵢ · weight[j] + bias[j]
///
/// with D = cols. μ and r are written to `mean` / `rstd` for the backward pass when given.
///
/// - Parameters:
///   - x: [rows, cols]; y: [rows, cols] (may be x); weight, bias: [cols]; mean, rstd: [rows].
///   - epsilon: ε, added to the variance (the model uses 1e-5).
@inlinable @inline(__always)
public func layerNorm<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
    into y: UnsafeMutablePointer<Scalar>,
    mean: UnsafeMutablePointer<Scalar>?, rstd: UnsafeMutablePointer<Scalar>?,
    rows: Int, cols: Int, epsilon: Scalar
) {
    precondition(cols > 0, "layerNorm needs at least one column")
    let inverseCols = 1 / Scalar(cols)
    for i in 0..<rows {
        let xRow = x + i &* cols, yRow = y + i &* cols
        let mu = sum(xRow, count: cols) * inverseCols
        let variance = laneSum(count: cols) { let d = xRow[$0] - mu; return d * d } * inverseCols
        let r = 1 / (variance + epsilon).squareRoot()
        mapElements(xRow, weight, bias, into: yRow, count: cols) { v, w, b in (v - mu) * r * w + b }
        mean?[i] = mu
        rstd?[i] = r
    }
}

/// Backward, with n = (x − μ)·r the normalised input and g = dy ⊙ weight its gradient:
///
///     dx[i, j] = rᵢ · (g[i, j] − (1/D) Σₖ g[i, k] − n[i, j] · (1/D) Σₖ g[i, k]·n[i, k])   (written)
///     dweight[j] += Σᵢ dy[i, j] · n[i, j]                                             (accumulated)
///     dbias[j]   += Σᵢ dy[i, j]                                                       (accumulated)
///
/// - Parameters:
///   - dy, x: [rows, cols]; weight, dweight, dbias: [cols]; mean, rstd: [rows] from the forward;
///     dx: [rows, cols], written (may be dy).
@inlinable @inline(__always)
public func layerNormBackward<Scalar: TensorScalar>(
    outputGradient dy: UnsafePointer<Scalar>, input x: UnsafePointer<Scalar>,
    weight: UnsafePointer<Scalar>, mean: UnsafePointer<Scalar>, rstd: UnsafePointer<Scalar>,
    inputGradient dx: UnsafeMutablePointer<Scalar>,
    weightGradient dweight: UnsafeMutablePointer<Scalar>,
    biasGradient dbias: UnsafeMutablePointer<Scalar>,
    rows: Int, cols: Int
) {
    precondition(cols > 0, "layerNormBackward needs at least one column")
    let inverseCols = 1 / Scalar(cols)
    for i in 0..<rows {
        let xRow = x + i &* cols, dyRow = dy + i &* cols, dxRow = dx + i &* cols
        let mu = mean[i], r = rstd[i]
        // Σ g and Σ g·n for this row.
        let sumG = laneSum(count: cols) { dyRow[$0] * weight[$0] }
        let sumGN = laneSum(count: cols) { dyRow[$0] * weight[$0] * ((xRow[$0] - mu) * r) }
        let meanG = sumG * inverseCols, meanGN = sumGN * inverseCols
        // Parameter gradients first: dx may be dy, and this row of dy is still needed here.
        var j = 0
        while j < cols {
            let d = dyRow[j]
            dbias[j] += d
            dweight[j] += d * ((xRow[j] - mu) * r)
            j &+= 1
        }
        // dx = r·(g − mean g − n·mean(g·n)); a separate loop so that the in-place case
        // (dx = dy) vectorises (`mapElements`).
        mapElements(xRow, dyRow, weight, into: dxRow, count: cols) { xv, d, w in
            let n = (xv - mu) * r
            return r * (d * w - meanG - n * meanGN)
        }
    }
}
