import Testing
import TensorKernels
@testable import FlowModel

/// Finite-difference checks of the whole module (projections + core + out projection), for
/// inputs and every parameter, for each attention kind.
@Suite struct MultiHeadAttentionTests {
    static let cases: [(AttentionKind, Bool)] = AttentionKind.allCases.flatMap { [($0, false), ($0, true)] }

    @Test(arguments: cases)
    func crossAttentionGradients(kind: AttentionKind, causal: Bool) throws {
        let (batch, inputWidth, modelWidth, outputWidth) = (2, 6, 8, 5)
        let (l, s) = causal ? (7, 7) : (6, 8)
        let shape = AttentionShape(batch: batch, queryLength: l, keyLength: s, modelWidth: modelWidth,
                                   heads: 2, causal: causal)
        var table = ParameterTable()
        let layers = MultiHeadAttention<Double>.appendParameters(to: &table, prefix: "attn", inputWidth: inputWidth,
                                                                 modelWidth: modelWidth, outputWidth: outputWidth)
        #expect(table.entries.map(\.name) == ["attn.query.weight", "attn.query.bias", "attn.key.weight", "attn.key.bias",
                                              "attn.value.weight", "attn.value.bias", "attn.out.weight", "attn.out.bias"])
        let module = MultiHeadAttention(query: layers.query, key: layers.key, value: layers.value, out: layers.out,
                                        core: makeAttentionCore(kind, shape: shape, scalar: Double.self, causalChunk: 3))
        var chosen: (Tensor<Double>, Tensor<Double>, Tensor<Double>, Tensor<Double>, [Double])?
        for attempt in 0..<100 where chosen == nil {
            var random = SeededRandom(seed: 100 + UInt64(attempt))
            let parameters = Tensor<Double>(shape: [table.count], values: random.normals(table.count, scale: 0.6))
            let queries = Tensor<Double>(shape: [batch * l * inputWidth], values: random.normals(batch * l * inputWidth))
            let keys = Tensor<Double>(shape: [batch * s * inputWidth], values: random.normals(batch * s * inputWidth))
            let values = Tensor<Double>(shape: [batch * s * inputWidth], values: random.normals(batch * s * inputWidth))
            let output = Tensor<Double>(batch * l * outputWidth)
            module.forward(queries: queries.pointer, keys: keys.pointer, values: values.pointer,
                           parameters: parameters.pointer, output: output.pointer)
            let report = clampReport(module.core)
            if report.margin > 1e-4 && report.firstPositionMargin > 1e-9 {
                chosen = (parameters, queries, keys, values, random.normals(batch * l * outputWidth))
            }
        }
        let (parameters, queries, keys, values, upstream) = try #require(chosen, "no draw kept Ô away from the clamp bounds")
        let output = Tensor<Double>(batch * l * outputWidth)
        func loss() -> Double {
            module.forward(queries: queries.pointer, keys: keys.pointer, values: values.pointer,
                           parameters: parameters.pointer, output: output.pointer)
            return innerProduct(output.pointer, upstream)
        }
        _ = loss()
        let gradients = Tensor<Double>(table.count)
        let dq = Tensor<Double>(queries.count), dk = Tensor<Double>(keys.count), dv = Tensor<Double>(values.count)
        upstream.withUnsafeBufferPointer {
            module.backward(outputGradient: $0.baseAddress!, queries: queries.pointer, keys: keys.pointer,
                            values: values.pointer, parameters: parameters.pointer, gradients: gradients.pointer,
                            queryGradient: dq.pointer, keyGradient: dk.pointer, valueGradient: dv.pointer)
        }
        let checks = [("queries", queries, dq), ("keys", keys, dk), ("values", values, dv), ("parameters", parameters, gradients)]
        for (name, input, gradient) in checks {
            let numeric = finiteDifferences(of: input.pointer, count: input.count, loss: loss)
            let error = relativeError(gradient.array, numeric)
            #expect(error < 1e-7, "\(kind) \(shape): d\(name) vs finite differences, relative error \(error)")
        }
    }

    @Test(arguments: cases)
    func selfAttentionGradients(kind: AttentionKind, causal: Bool) {
        let (batch, l, width) = (2, 6, 8)
        let shape = AttentionShape(batch: batch, length: l, modelWidth: width, heads: 2, causal: causal)
        var table = ParameterTable()
        let layers = MultiHeadAttention<Double>.appendParameters(to: &table, prefix: "blocks.0.attn", inputWidth: width,
                                                                 modelWidth: width, outputWidth: width)
        let module = MultiHeadAttention(query: layers.query, key: layers.key, value: layers.value, out: layers.out,
                                        core: makeAttentionCore(kind, shape: shape, scalar: Double.self))
        var random = SeededRandom(seed: 7)
        let parameters = Tensor<Double>(shape: [table.count], values: random.normals(table.count, scale: 0.4))
        let x = Tensor<Double>(shape: [batch * l * width], values: random.normals(batch * l * width))
        let upstream = random.normals(batch * l * width)
        let output = Tensor<Double>(batch * l * width)
        func loss() -> Double {
            module.forward(input: x.pointer, parameters: parameters.pointer, output: output.pointer)
            return innerProduct(output.pointer, upstream)
        }
        _ = loss()
        let report = clampReport(module.core)
        let margin = min(report.margin, report.firstPositionMargin * 1e5)
        if margin < 1e-4 { Issue.record("\(kind): seed puts Ô within \(margin) of a clamp bound; pick another"); return }
        let gradients = Tensor<Double>(table.count), dx = Tensor<Double>(x.count)
        upstream.withUnsafeBufferPointer {
            module.backward(outputGradient: $0.baseAddress!, input: x.pointer, parameters: parameters.pointer,
                            gradients: gradients.pointer, inputGradient: dx.pointer)
        }
        let dxError = relativeError(dx.array, finiteDifferences(of: x.pointer, count: x.count, loss: loss))
        let parameterError = relativeError(gradients.array, finiteDifferences(of: parameters.pointer, count: table.count, loss: loss))
        #expect(dxError < 1e-7, "\(kind) \(shape): dx vs finite differences, relative error \(dxError)")
        #expect(parameterError < 1e-7, "\(kind) \(shape): parameters vs finite differences, relative error \(parameterError)")
    }
}
