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
    for i in 0..<rows {
        let (mu, r) = layerNormRow(x + i &* cols, weight: weight, bias: bias, into: y + i &* cols, cols: cols,
                                   epsilon: epsilon)
        mean?[i] = mu
        rstd?[i] = r
    }
}

/// `layerNorm` whose output is stored as bf16 bit patterns (nearest even), for an output that
/// only feeds bf16 products: each row is normalised in fp32 into `rowScratch` [cols], then
/// rounded into `y` [rows, cols]. The bits equal rounding `layerNorm`'s Float output.
@inlinable @inline(__always)
public func layerNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    intoBFloat16 y: UnsafeMutablePointer<UInt16>, rowScratch: UnsafeMutablePointer<Float>,
    mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
    rows: Int, cols: Int, epsilon: Float
) {
    precondition(cols > 0, "layerNorm needs at least one column")
    for i in 0..<rows {
        let (mu, r) = layerNormRow(x + i &* cols, weight: weight, bias: bias, into: rowScratch, cols: cols,
                                   epsilon: epsilon)
        BFloat16.round(rowScratch, intoBits: y + i &* cols, count: cols)
        mean?[i] = mu
        rstd?[i] = r
    }
}

/// One row of the forward: y [cols] from x [cols] (y may be x); returns (μ, r).
@inlinable @inline(__always)
func layerNormRow<Scalar: TensorScalar>(
    _ xRow: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
    into yRow: UnsafeMutablePointer<Scalar>, cols: Int, epsilon: Scalar
) -> (mean: Scalar, rstd: Scalar) {
    let inverseCols = 1 / Scalar(cols)
    let mu = sum(xRow, count: cols) * inverseCols
    let variance = laneSum(count: cols) { let d = xRow[$0] - mu; return d * d } * inverseCols
    let r = 1 / (variance + epsilon).squareRoot()
    mapElements(xRow, weight, bias, into: yRow, count: cols) { v, w, b in (v - mu) * r * w + b }
    return (mu, r)
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
