import TensorKernels

/// Softmax cross-entropy per sample, for every head:
///
///     loss_b = (1/R) Σ_{r<R} [log Σ_j e^(z[b, r, j]) − z[b, r, t[b, r]]]       nats
///
/// with R = rows per sample: L for the language model (the mean next-token loss of the
/// sample), 1 for the classifiers. Forward returns Σ_b loss_b and overwrites the logits with
///
///     dz[b, r, j] = ∂(Σ_b loss_b)/∂z[b, r, j] = (softmax(z[b, r])_j − [j = t[b, r]]) / R
///
/// so that backward only scales them by the loss scale. `correct` counts, per sample, the
/// fraction of rows whose first maximal logit is the target (accuracy for classifiers, token
/// accuracy for the language model).
enum SampleCrossEntropy {
    /// - Parameters:
    ///   - logits: [samples, rowsPerSample, classes]; replaced by dz (unit loss scale).
    ///   - targets: [samples, rowsPerSample], each in 0 ..< classes.
    ///   - predictions: [samples, rowsPerSample] workspace, receives each row's argmax.
    public static func forwardAndGradient<Scalar: TensorScalar>(
        logits: UnsafeMutablePointer<Scalar>, targets: UnsafePointer<Int32>,
        predictions: UnsafeMutablePointer<Int32>,
        samples: Int, rowsPerSample: Int, classes: Int
    ) -> LossSums {
        precondition(rowsPerSample > 0, "SampleCrossEntropy needs at least one row per sample")
        var sums = LossSums(count: samples)
        let sampleWidth = rowsPerSample &* classes
        argmaxOverColumns(logits, rows: samples &* rowsPerSample, cols: classes, into: predictions)
        for b in 0..<samples {
            let z = logits + b &* sampleWidth
            let t = targets + b &* rowsPerSample
            let p = predictions + b &* rowsPerSample
            var hits = 0
            for r in 0..<rowsPerSample where p[r] == t[r] { hits &+= 1 }
            sums.correct += Double(hits) / Double(rowsPerSample)
            sums.lossSum += softmaxCrossEntropy(logits: z, targets: t, rows: rowsPerSample, classes: classes,
                                                logitsGradient: z, gradientScale: 1 / Scalar(rowsPerSample))
        }
        return sums
    }
}
