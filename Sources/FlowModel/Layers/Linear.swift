import TensorKernels

/// A fully connected layer on the model's single parameter buffer:
///
///     y[N, out] = x[N, in] · Wᵀ + b        W [out, in] row-major (PyTorch layout), b [out] optional
///
/// `Linear` holds no numbers, only where its parameters live (`ParameterEntry` offsets); the
/// caller passes the parameter and gradient buffers. Backward WRITES dx and ADDS into dW and db,
/// because gradients accumulate over micro-batches:
///
///     dx = dy · W,    dW += dyᵀ · x,    db += Σ_rows dy
struct Linear: Sendable, Equatable {
    /// Input width (in_features).
    public let inFeatures: Int
    /// Output width (out_features).
    public let outFeatures: Int
    /// W, shape [outFeatures, inFeatures].
    public let weight: ParameterEntry
    /// b, shape [outFeatures], or nil for a layer without bias.
    public let bias: ParameterEntry?

    public init(weight: ParameterEntry, bias: ParameterEntry?) {
        precondition(weight.shape.count == 2, "Linear weight \(weight.name) must be 2-D, has shape \(weight.shape)")
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        if let bias {
            precondition(bias.shape == [outFeatures],
                         "Linear bias \(bias.name) has shape \(bias.shape), expected [\(outFeatures)]")
        }
        self.weight = weight
        self.bias = bias
    }

    /// Appends `name.weight` [out, in] (weight-decayed) and, with `bias`, `name.bias` [out]
    /// to `table` and returns the layer on them.
    public static func append(to table: inout ParameterTable, name: String, inFeatures: Int,
                              outFeatures: Int, bias: Bool = true) -> Linear {
        let weight = table.append("\(name).weight", shape: [outFeatures, inFeatures], decays: true)
        let biasEntry = bias ? table.append("\(name).bias", shape: [outFeatures], decays: false) : nil
        return Linear(weight: weight, bias: biasEntry)
    }

    /// y[rows, out] = x[rows, in] · Wᵀ + b.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, rows: Int,
                                              parameters: UnsafePointer<Scalar>,
                                              into y: UnsafeMutablePointer<Scalar>) {
        forward(.values(x), rows: rows, parameters: parameters, into: y)
    }

    /// `forward` of an input that may be stored as bf16 (a bf16 model's saved activations).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward<Scalar: TensorScalar>(_ x: ProductOperand<Scalar>, rows: Int, parameters: UnsafePointer<Scalar>,
                                       into y: UnsafeMutablePointer<Scalar>) {
        DispatchedKernels.linearForward(x, weight: parameters + weight.offset, bias: bias.map { parameters + $0.offset },
                                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, into: y)
    }

    /// dx[rows, in] = dy · W (written, or added with `accumulateInputGradient`; skipped when
    /// `inputGradient` is nil); dW += dyᵀ · x; db += Σ_rows dy, in `gradients` at the parameters'
    /// offsets. `input` is the x of the matching forward.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward<Scalar: TensorScalar>(outputGradient dy: UnsafePointer<Scalar>,
                                               input x: UnsafePointer<Scalar>, rows: Int,
                                               parameters: UnsafePointer<Scalar>,
                                               gradients: UnsafeMutablePointer<Scalar>,
                                               inputGradient dx: UnsafeMutablePointer<Scalar>?,
                                               accumulateInputGradient: Bool = false) {
        backward(outputGradient: dy, input: .values(x), rows: rows, parameters: parameters, gradients: gradients,
                 inputGradient: dx, accumulateInputGradient: accumulateInputGradient)
    }

    /// `backward` of an input that may be stored as bf16 (a bf16 model's saved activations).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward<Scalar: TensorScalar>(outputGradient dy: UnsafePointer<Scalar>, input x: ProductOperand<Scalar>,
                                        rows: Int, parameters: UnsafePointer<Scalar>,
                                        gradients: UnsafeMutablePointer<Scalar>,
                                        inputGradient dx: UnsafeMutablePointer<Scalar>?,
                                        accumulateInputGradient: Bool = false) {
        if let dx {
            DispatchedKernels.matmul(dy, parameters + weight.offset, into: dx, m: rows, n: inFeatures,
                                     k: outFeatures, beta: accumulateInputGradient ? 1 : 0)
        }
        DispatchedKernels.linearWeightGradient(outputGradient: dy, input: x, rows: rows, inFeatures: inFeatures,
                                               outFeatures: outFeatures, into: gradients + weight.offset)
        if let bias {
            DispatchedKernels.sumOverRows(dy, rows: rows, cols: outFeatures, into: gradients + bias.offset,
                                          accumulate: true)
        }
    }
}
