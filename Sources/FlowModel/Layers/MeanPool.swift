import TensorKernels

/// Mean over the tokens of each sample (the classifiers' pooling before `head`).
///
///     forward:  pooled[b, :] = (1/T) Σ_t x[b, t, :]
///     backward: dX[b, t, :] = dPooled[b, :] / T                (written, not accumulated)
enum MeanPool {
    /// - Parameters:
    ///   - x: [samples, tokens, dModel].
    ///   - pooled: [samples, dModel], overwritten.
    public static func forward<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, into pooled: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int
    ) {
        for b in 0..<samples {
            meanOverRows(x + b &* tokens &* dModel, rows: tokens, cols: dModel, into: pooled + b &* dModel)
        }
    }

    /// - Parameters:
    ///   - dPooled: [samples, dModel].
    ///   - dX: [samples, tokens, dModel], overwritten.
    public static func backward<Scalar: TensorScalar>(
        dPooled: UnsafePointer<Scalar>, dX: UnsafeMutablePointer<Scalar>,
        samples: Int, tokens: Int, dModel: Int
    ) {
        let inverseTokens = 1 / Scalar(tokens)
        for b in 0..<samples {
            let sample = dX + b &* tokens &* dModel
            for t in 0..<tokens {
                scale(dPooled + b &* dModel, by: inverseTokens, into: sample + t &* dModel, count: dModel)
            }
        }
    }
}
