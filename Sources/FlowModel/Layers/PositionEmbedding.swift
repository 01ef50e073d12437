import TensorKernels

/// Learned position embedding `pos_embed` [positions, d_model], added to every sample.
///
///     forward:  x[b, t, :] += pos[t, :]                        (in place, t < positions)
///     backward: dPos[t, :] += Σ_b dX[b, t, :]                  (accumulates; dX passes through)
enum PositionEmbedding {
    /// - Parameters:
    ///   - x: [samples, positions, dModel], updated in place.
    ///   - table: [positions, dModel].
    public static func forward<Scalar: TensorScalar>(
        adding table: UnsafePointer<Scalar>, to x: UnsafeMutablePointer<Scalar>,
        samples: Int, positions: Int, dModel: Int
    ) {
        let width = positions &* dModel
        for b in 0..<samples {
            let sample = x + b &* width
            add(sample, table, into: sample, count: width)
        }
    }

    /// - Parameters:
    ///   - dX: [samples, positions, dModel] gradient of the loss with respect to the sum.
    ///   - dTable: [positions, dModel], accumulated into.
    public static func backward<Scalar: TensorScalar>(
        dX: UnsafePointer<Scalar>, dTable: UnsafeMutablePointer<Scalar>,
        samples: Int, positions: Int, dModel: Int
    ) {
        let width = positions &* dModel
        for b in 0..<samples {
            add(dTable, dX + b &* width, into: dTable, count: width)
        }
    }
}
