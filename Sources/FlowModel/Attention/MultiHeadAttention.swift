import TensorKernels

/// A complete attention module: projections, a core, and the out projection.
///
///     q = x_q·W_qᵀ + b_q,  k = x_k·W_kᵀ + b_k,  v = x_v·W_vᵀ + b_v      d_input → d_model
///     y = Core(q, k, v)·W_oᵀ + b_o                                        d_model → d_output
///
/// Inputs x_q [B, L, d_input], x_k and x_v [B, S, d_input]; output y [B, L, d_output]. Dropout
/// is not part of the module (the block applies it). The projected q, k, v buffers are reused
/// for dq, dk, dv in backward (the core saved what it needs), so the module holds four
/// [B, ·, d_model] buffers besides the core's own state.
final class MultiHeadAttention<Scalar: TensorScalar> {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let out: Linear
    public let core: any AttentionCore<Scalar>

    let projectedQueries: Tensor<Scalar>   // q, then dq     [B, L, D]
    let projectedKeys: Tensor<Scalar>      // k, then dk     [B, S, D]
    let projectedValues: Tensor<Scalar>    // v, then dv     [B, S, D]
    let attended: Tensor<Scalar>           // core output    [B, L, D]
    let attendedGradient: Tensor<Scalar>   // d core output  [B, L, D]

    public var shape: AttentionShape { core.shape }

    public init(query: Linear, key: Linear, value: Linear, out: Linear, core: any AttentionCore<Scalar>) {
        let shape = core.shape
        let d = shape.modelWidth
        precondition(query.outFeatures == d && key.outFeatures == d && value.outFeatures == d,
                     "MultiHeadAttention: q/k/v projections must output d_model = \(d), got \(query.outFeatures), \(key.outFeatures), \(value.outFeatures)")
        precondition(query.inFeatures == key.inFeatures && key.inFeatures == value.inFeatures,
                     "MultiHeadAttention: q/k/v projections must share d_input")
        precondition(out.inFeatures == d, "MultiHeadAttention: out projection must read d_model = \(d), reads \(out.inFeatures)")
        self.query = query
        self.key = key
        self.value = value
        self.out = out
        self.core = core
        projectedQueries = Tensor(shape.batch, shape.queryLength, d)
        projectedKeys = Tensor(shape.batch, shape.keyLength, d)
        projectedValues = Tensor(shape.batch, shape.keyLength, d)
        attended = Tensor(shape.batch, shape.queryLength, d)
        attendedGradient = TensorCensus.during(.workspaces) { Tensor(shape.batch, shape.queryLength, d) }
    }

    /// Appends `prefix.query`, `prefix.key`, `prefix.value` (d_input → d_model) and `prefix.out`
    /// (d_model → d_output), each weight and bias, to `table`, in that order.
    public static func appendParameters(
        to table: inout ParameterTable, prefix: String, inputWidth: Int, modelWidth: Int, outputWidth: Int
    ) -> (query: Linear, key: Linear, value: Linear, out: Linear) {
        let q = Linear.append(to: &table, name: "\(prefix).query", inFeatures: inputWidth, outFeatures: modelWidth)
        let k = Linear.append(to: &table, name: "\(prefix).key", inFeatures: inputWidth, outFeatures: modelWidth)
        let v = Linear.append(to: &table, name: "\(prefix).value", inFeatures: inputWidth, outFeatures: modelWidth)
        let o = Linear.append(to: &table, name: "\(prefix).out", inFeatures: modelWidth, outFeatures: outputWidth)
        return (q, k, v, o)
    }

    /// y [B, L, d_output] from x_q [B, L, d_input], x_k, x_v [B, S, d_input]. The inputs must
    /// stay unchanged until `backward`, which reads them again.
    public func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                        values: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
                        output: UnsafeMutablePointer<Scalar>) {
        forward(queries: .values(queries), keys: .values(keys), values: .values(values), parameters: parameters,
                output: output)
    }

    /// `forward` of inputs that may be stored as bf16 (a bf16 model's saved activations).
    func forward(queries: ProductOperand<Scalar>, keys: ProductOperand<Scalar>, values: ProductOperand<Scalar>,
                 parameters: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>) {
        let shape = core.shape
        let sinks = shape.batch * shape.queryLength, sources = shape.batch * shape.keyLength
        query.forward(queries, rows: sinks, parameters: parameters, into: projectedQueries.pointer)
        key.forward(keys, rows: sources, parameters: parameters, into: projectedKeys.pointer)
        value.forward(values, rows: sources, parameters: parameters, into: projectedValues.pointer)
        core.forward(queries: projectedQueries.pointer, keys: projectedKeys.pointer,
                     values: projectedValues.pointer, output: attended.pointer)
        out.forward(attended.pointer, rows: sinks, parameters: parameters, into: output)
    }

    /// Self-attention: x [B, L, d_input] used as queries, keys and values.
    public func forward(input: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
                        output: UnsafeMutablePointer<Scalar>) {
        forward(input: .values(input), parameters: parameters, output: output)
    }

    /// Self-attention on an input that may be stored as bf16.
    func forward(input: ProductOperand<Scalar>, parameters: UnsafePointer<Scalar>,
                 output: UnsafeMutablePointer<Scalar>) {
        forward(queries: input, keys: input, values: input, parameters: parameters, output: output)
    }

    /// Writes dx_q, dx_k, dx_v (nil skips one) and adds every parameter gradient into
    /// `gradients`, given dy [B, L, d_output] and the inputs of the matching `forward`.
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                         values: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
                         gradients: UnsafeMutablePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>?,
                         keyGradient: UnsafeMutablePointer<Scalar>?,
                         valueGradient: UnsafeMutablePointer<Scalar>?) {
        coreBackward(outputGradient: outputGradient, parameters: parameters, gradients: gradients)
        let shape = core.shape
        let sinks = shape.batch * shape.queryLength, sources = shape.batch * shape.keyLength
        query.backward(outputGradient: projectedQueries.pointer, input: queries, rows: sinks,
                       parameters: parameters, gradients: gradients, inputGradient: queryGradient)
        key.backward(outputGradient: projectedKeys.pointer, input: keys, rows: sources,
                     parameters: parameters, gradients: gradients, inputGradient: keyGradient)
        value.backward(outputGradient: projectedValues.pointer, input: values, rows: sources,
                       parameters: parameters, gradients: gradients, inputGradient: valueGradient)
    }

    /// Self-attention backward: writes dx = dx_q + dx_k + dx_v [B, L, d_input] and adds every
    /// parameter gradient into `gradients`.
    public func backward(outputGradient: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>,
                         parameters: UnsafePointer<Scalar>, gradients: UnsafeMutablePointer<Scalar>,
                         inputGradient: UnsafeMutablePointer<Scalar>) {
        backward(outputGradient: outputGradient, input: .values(input), parameters: parameters, gradients: gradients,
                 inputGradient: inputGradient)
    }

    /// Self-attention backward of an input that may be stored as bf16.
    func backward(outputGradient: UnsafePointer<Scalar>, input: ProductOperand<Scalar>,
                  parameters: UnsafePointer<Scalar>, gradients: UnsafeMutablePointer<Scalar>,
                  inputGradient: UnsafeMutablePointer<Scalar>) {
        precondition(core.shape.queryLength == core.shape.keyLength, "self-attention backward needs L == S")
        coreBackward(outputGradient: outputGradient, parameters: parameters, gradients: gradients)
        let rows = core.shape.batch * core.shape.queryLength
        query.backward(outputGradient: projectedQueries.pointer, input: input, rows: rows,
                       parameters: parameters, gradients: gradients, inputGradient: inputGradient)
        key.backward(outputGradient: projectedKeys.pointer, input: input, rows: rows,
                     parameters: parameters, gradients: gradients, inputGradient: inputGradient,
                     accumulateInputGradient: true)
        value.backward(outputGradient: projectedValues.pointer, input: input, rows: rows,
                       parameters: parameters, gradients: gradients, inputGradient: inputGradient,
                       accumulateInputGradient: true)
    }

    /// Out projection and core backward: leaves dq, dk, dv in the projection buffers.
    private func coreBackward(outputGradient: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
                              gradients: UnsafeMutablePointer<Scalar>) {
        let rows = core.shape.batch * core.shape.queryLength
        out.backward(outputGradient: outputGradient, input: attended.pointer, rows: rows,
                     parameters: parameters, gradients: gradients, inputGradient: attendedGradient.pointer)
        core.backward(outputGradient: attendedGradient.pointer, queryGradient: projectedQueries.pointer,
                      keyGradient: projectedKeys.pointer, valueGradient: projectedValues.pointer)
    }
}
