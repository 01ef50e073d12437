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
@inlinable
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
        var j = 0
        while j < cols { yRow[j] = (xRow[j] - mu) * r * weight[j] + bias[j]; j &+= 1 }
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
@inlinable
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
        var j = 0
        while j < cols {
            let n = (xRow[j] - mu) * r
            let d = dyRow[j]
            dbias[j] += d
            dweight[j] += d * n
            dxRow[j] = r * (d * weight[j] - meanG - n * meanGN)
            j &+= 1
        }
    }
}
