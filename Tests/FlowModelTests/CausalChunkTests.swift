import Testing
import TensorKernels
@testable import FlowModel

@Suite struct CausalChunkTests {
    /// The chunked product against Σ_{j≤i} (a_i·b_j) c_j (or j ≥ i) summed directly, with strided
    /// rows and different key and value widths.
    @Test(arguments: [1, 3, 4, 11, 16])
    func chunkedProductMatchesDirectSum(chunk: Int) {
        let (n, keyWidth, valueWidth, stride) = (11, 3, 5, 7)
        var random = SeededRandom(seed: 3)
        let a = random.normals(n * stride), b = random.normals(n * stride), c = random.normals(n * stride)
        for reverse in [false, true] {
            for accumulate in [false, true] {
                let product = ChunkedCausalProduct<Double>(chunk: chunk, keyWidth: keyWidth, valueWidth: valueWidth)
                let initial = random.normals(n * stride)
                var out = initial
                product.run(reverse: reverse, length: n, a: a, lda: stride, b: b, ldb: stride, c: c, ldc: stride,
                            into: &out, ldo: stride, accumulate: accumulate)
                var expected = [Double]()
                var actual = [Double]()
                for i in 0..<n {
                    for e in 0..<valueWidth {
                        var sum = accumulate ? initial[i * stride + e] : 0
                        for j in (reverse ? i..<n : 0..<(i + 1)) {
                            var ab = 0.0
                            for x in 0..<keyWidth { ab += a[i * stride + x] * b[j * stride + x] }
                            sum += ab * c[j * stride + e]
                        }
                        expected.append(sum)
                        actual.append(out[i * stride + e])
                    }
                    // Columns past valueWidth are outside the product and must be untouched.
                    for e in valueWidth..<stride { #expect(out[i * stride + e] == initial[i * stride + e]) }
                }
                let error = relativeError(actual, expected)
                #expect(error < 1e-13, "chunk \(chunk) reverse \(reverse) accumulate \(accumulate): relative error \(error)")
            }
        }
    }

    /// Causal flow output equals the unchunked equations for chunks that do and don't divide L = 11,
    /// and its gradients do not depend on the chunk.
    @Test func causalFlowIsChunkIndependent() {
        let shape = AttentionShape(batch: 2, length: 11, modelWidth: 8, heads: 2, causal: true)
        var random = SeededRandom(seed: 17)
        let q = random.normals(shape.queryElements, scale: 1.5), k = random.normals(shape.keyElements, scale: 1.5)
        let v = random.normals(shape.keyElements), upstream = random.normals(shape.queryElements)
        let expected = naiveFlowAttention(q: q, k: k, v: v, batch: 2, queryLength: 11, keyLength: 11,
                                          modelWidth: 8, heads: 2, causal: true)
        var referenceGradients: [Double]?
        for chunk in [1, 3, 4, 11, 16] {
            let core = CausalFlowAttention<Double>(shape: shape, chunk: chunk)
            var out = [Double](repeating: 0, count: shape.queryElements)
            core.forward(queries: q, keys: k, values: v, output: &out)
            let error = relativeError(out, expected)
            #expect(error < 1e-12, "chunk \(chunk): output vs unchunked equations, relative error \(error)")
            var dq = out, dk = k, dv = v
            core.backward(outputGradient: upstream, queryGradient: &dq, keyGradient: &dk, valueGradient: &dv)
            let gradients = dq + dk + dv
            if let referenceGradients {
                let gradientError = relativeError(gradients, referenceGradients)
                #expect(gradientError < 1e-12, "chunk \(chunk): gradients vs chunk 1, relative error \(gradientError)")
            } else {
                referenceGradients = gradients
            }
        }
    }

    @Test(arguments: [(7, 7, 2), (5, 9, 4), (7, 6, 2)])
    func nonCausalFlowMatchesEquations(queryLength: Int, keyLength: Int, heads: Int) {
        let shape = AttentionShape(batch: 2, queryLength: queryLength, keyLength: keyLength,
                                   modelWidth: 8, heads: heads, causal: false)
        var random = SeededRandom(seed: 29)
        let q = random.normals(shape.queryElements, scale: 1.5), k = random.normals(shape.keyElements, scale: 1.5)
        let v = random.normals(shape.keyElements)
        let core = FlowAttention<Double>(shape: shape)
        var out = [Double](repeating: 0, count: shape.queryElements)
        core.forward(queries: q, keys: k, values: v, output: &out)
        let expected = naiveFlowAttention(q: q, k: k, v: v, batch: 2, queryLength: queryLength,
                                          keyLength: keyLength, modelWidth: 8, heads: heads, causal: false)
        let error = relativeError(out, expected)
        #expect(error < 1e-12, "\(shape): output vs equations, relative error \(error)")
    }
}

@Suite struct CausalityTests {
    /// Changing q, k, v at positions > p leaves the output at positions ≤ p bit-for-bit unchanged.
    @Test(arguments: AttentionKind.allCases)
    func futurePositionsDoNotLeak(kind: AttentionKind) {
        let (l, d) = (10, 8)
        let shape = AttentionShape(batch: 2, length: l, modelWidth: d, heads: 2, causal: true)
        let core = makeAttentionCore(kind, shape: shape, scalar: Double.self, causalChunk: 3)
        var random = SeededRandom(seed: 41)
        let q = random.normals(shape.queryElements), k = random.normals(shape.keyElements)
        let v = random.normals(shape.keyElements)
        var base = [Double](repeating: 0, count: shape.queryElements)
        core.forward(queries: q, keys: k, values: v, output: &base)
        for p in [0, 2, 5, 8] {
            var (q2, k2, v2) = (q, k, v)
            for b in 0..<2 {
                for i in (p + 1)..<l {
                    for c in 0..<d {
                        let e = (b * l + i) * d + c
                        q2[e] += random.normal(); k2[e] += random.normal(); v2[e] += random.normal()
                    }
                }
            }
            var changed = base
            core.forward(queries: q2, keys: k2, values: v2, output: &changed)
            var leaked = 0, later = 0
            for b in 0..<2 {
                for i in 0..<l {
                    for c in 0..<d {
                        let e = (b * l + i) * d + c
                        if i <= p { if changed[e] != base[e] { leaked += 1 } } else if changed[e] != base[e] { later += 1 }
                    }
                }
            }
            #expect(leaked == 0, "\(kind): \(leaked) outputs at positions ≤ \(p) changed with later inputs")
            #expect(later > 0, "\(kind): later outputs did not change at all; the check is vacuous")
        }
    }
}
