import TensorKernels

/// Mean over the real tokens of each sample (the classifiers' pooling before `head`).
///
///     forward:  pooled[b, :] = (1/n_b) Σ_{t < n_b} x[b, t, :]
///     backward: dX[b, t, :] = dPooled[b, :] / n_b for t < n_b, 0 for the padding t ≥ n_b   (written)
///
/// n_b = `lengths.count(b)` when lengths are given, else T (every token).
enum MeanPool {
    /// - Parameters:
    ///   - x: [samples, tokens, dModel].
    ///   - pooled: [samples, dModel], overwritten.
    ///   - lengths: real tokens per sample (nil: all `tokens`).
    public static func forward<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, into pooled: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int, lengths: SequenceLengths? = nil
    ) {
        for b in 0..<samples {
            let n = lengths.map { min($0.count(b), tokens) } ?? tokens
            meanOverRows(x + b &* tokens &* dModel, rows: n, cols: dModel, into: pooled + b &* dModel)
        }
    }

    /// - Parameters:
    ///   - dPooled: [samples, dModel].
    ///   - dX: [samples, tokens, dModel], overwritten.
    ///   - lengths: real tokens per sample (nil: all `tokens`).
    public static func backward<Scalar: TensorScalar>(
        dPooled: UnsafePointer<Scalar>, dX: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int, lengths: SequenceLengths? = nil
    ) {
        for b in 0..<samples {
            let n = lengths.map { min($0.count(b), tokens) } ?? tokens
            let inverseTokens = 1 / Scalar(n)
            let sample = dX + b &* tokens &* dModel
            for t in 0..<n {
                scale(dPooled + b &* dModel, by: inverseTokens, into: sample + t &* dModel, count: dModel)
            }
            if n < tokens { (sample + n &* dModel).update(repeating: 0, count: (tokens &- n) &* dModel) }
        }
    }
}
