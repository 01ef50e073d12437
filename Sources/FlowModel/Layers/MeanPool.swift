import TensorKernels

/// Mean over the tokens of each sample (the classifiers' pooling before `head`).
///
///     forward:  pooled[b, :] = (1/T) Σ_t x[b, t, :]
///     backward: dX[b, t, :] = dPooled[b, :] / T                (written, not accumulated)
public enum MeanPool {
    /// - Parameters:
    ///   - x: [samples, tokens, dModel].
    ///   - pooled: [samples, dModel], overwritten.
    public static func forward<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, into pooled: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int
    ) {
        let scale = 1 / Scalar(tokens)
        for b in 0..<samples {
            let out = pooled + b &* dModel
            out.update(repeating: 0, count: dModel)
            let sample = x + b &* tokens &* dModel
            for t in 0..<tokens {
                let row = sample + t &* dModel
                for c in 0..<dModel { out[c] += row[c] }
            }
            for c in 0..<dModel { out[c] *= scale }
        }
    }

    /// - Parameters:
    ///   - dPooled: [samples, dModel].
    ///   - dX: [samples, tokens, dModel], overwritten.
    public static func backward<Scalar: TensorScalar>(
        dPooled: UnsafePointer<Scalar>, dX: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int
    ) {
        let scale = 1 / Scalar(tokens)
        for b in 0..<samples {
            let source = dPooled + b &* dModel
            let sample = dX + b &* tokens &* dModel
            for t in 0..<tokens {
                let row = sample + t &* dModel
                for c in 0..<dModel { row[c] = source[c] * scale }
            }
        }
    }
}
