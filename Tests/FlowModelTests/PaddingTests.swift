import Testing
import TensorKernels
@testable import FlowModel

/// Padding (`SequenceLengths`): a padded row must give the outputs and gradients of the same row
/// unpadded, for every attention kind and for the whole sequence classifier, in Double; pad rows
/// get zero outputs and gradients; and the masked backward matches central differences. The model
/// tests run with both pools (mean over the real tokens, and a CLS token).
/// Comparisons are written `!(error <= bound)` so that NaN fails.
@Suite struct PaddingTests {
    static let kinds: [AttentionKind] = [.flow, .softmax, .linear]
    static let kindsAndPools: [(AttentionKind, PoolKind)] = kinds.flatMap { kind in PoolKind.allCases.map { (kind, $0) } }

    /// The padded length and the real lengths of the two sequences of the core tests.
    static let (paddedLength, realLengths) = (7, [4, 7])

    /// max |a − b| / max(max |b|, 1e-3), NaN if any element is NaN. The floor covers gradients
    /// that are zero in exact arithmetic (softmax's key bias: scores shift by a constant per row).
    func error(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>) -> Double {
        var difference = 0.0, reference = 0.0
        for (x, y) in zip(a, b) {
            if x.isNaN || y.isNaN { return .nan }
            difference = max(difference, abs(x - y))
            reference = max(reference, abs(y))
        }
        return difference / max(reference, 1e-3)
    }

    func expectClose(_ what: String, _ a: ArraySlice<Double>, _ b: ArraySlice<Double>, bound: Double = 1e-12,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let e = error(a, b)
        if !(e <= bound) { Issue.record("\(what): relative error \(e) > \(bound)", sourceLocation: sourceLocation) }
    }

    func expectZero(_ what: String, _ a: ArraySlice<Double>, sourceLocation: SourceLocation = #_sourceLocation) {
        if !a.allSatisfy({ $0 == 0 }) { Issue.record("\(what): padding rows are not zero", sourceLocation: sourceLocation) }
    }

    /// One core on [B, L, D] inputs: output and (dq, dk, dv) for upstream gradient `upstream`.
    func run(_ core: any AttentionCore<Double>, q: [Double], k: [Double], v: [Double], upstream: [Double])
        -> (out: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let shape = core.shape
        let out = Tensor<Double>(shape.queryElements)
        let dq = Tensor<Double>(shape.queryElements), dk = Tensor<Double>(shape.keyElements)
        let dv = Tensor<Double>(shape.keyElements)
        dq.fill(.nan); dk.fill(.nan); dv.fill(.nan)   // backward must write every element
        q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            core.forward(queries: q.baseAddress!, keys: k.baseAddress!, values: v.baseAddress!, output: out.pointer)
        } } }
        upstream.withUnsafeBufferPointer {
            core.backward(outputGradient: $0.baseAddress!, queryGradient: dq.pointer, keyGradient: dk.pointer,
                          valueGradient: dv.pointer)
        }
        return (out.array, dq.array, dk.array, dv.array)
    }

    @Test(arguments: kinds)
    func coreGivesTheUnpaddedResults(kind: AttentionKind) {
        let (l, d, heads) = (Self.paddedLength, 8, 2)
        let lengths = SequenceLengths(capacity: 2, fullLength: l)
        let shape = AttentionShape(batch: 2, length: l, modelWidth: d, heads: heads, causal: false)
        let padded = makeAttentionCore(kind, shape: shape, scalar: Double.self, validLengths: lengths)
        var random = SeededRandom(seed: 5)
        // Pad rows hold large junk: it must not reach the real rows.
        let q = random.normals(2 * l * d, scale: 1.5), k = random.normals(2 * l * d, scale: 1.5)
        let v = random.normals(2 * l * d), upstream = random.normals(2 * l * d)
        lengths.set(Self.realLengths.map(Int32.init), count: 2)
        let result = run(padded, q: q, k: k, v: v, upstream: upstream)
        for b in 0..<2 {
            let n = Self.realLengths[b]
            let reference = makeAttentionCore(kind, shape: AttentionShape(batch: 1, length: n, modelWidth: d, heads: heads,
                                                                          causal: false), scalar: Double.self)
            let rows = b * l * d ..< (b * l + n) * d, pads = (b * l + n) * d ..< (b + 1) * l * d
            let expected = run(reference, q: Array(q[rows]), k: Array(k[rows]), v: Array(v[rows]),
                               upstream: Array(upstream[rows]))
            let what = "\(kind) sequence \(b) (\(n) of \(l))"
            expectClose("\(what) output", result.out[rows], expected.out[...])
            expectClose("\(what) dq", result.dq[rows], expected.dq[...])
            expectClose("\(what) dk", result.dk[rows], expected.dk[...])
            expectClose("\(what) dv", result.dv[rows], expected.dv[...])
            for (name, values) in [("output", result.out), ("dq", result.dq), ("dk", result.dk), ("dv", result.dv)] {
                expectZero("\(what) \(name)", values[pads])
            }
        }
    }

    @Test(arguments: kinds)
    func maskedBackwardMatchesFiniteDifferences(kind: AttentionKind) throws {
        let lengths = SequenceLengths(capacity: 2, fullLength: Self.paddedLength)
        lengths.set(Self.realLengths.map(Int32.init), count: 2)
        let shape = AttentionShape(batch: 2, length: Self.paddedLength, modelWidth: 8, heads: 2, causal: false)
        let make = { makeAttentionCore(kind, shape: shape, scalar: Double.self, validLengths: lengths) }
        let harness = kind == .flow ? try flowHarness(make, seed: 31) : CoreHarness(core: make(), seed: 31)
        harness.expectGradientsMatchFiniteDifferences()
    }

    /// The sequence classifier: sample 0 is 4 real tokens padded to 6, sample 1 is 6 real tokens.
    /// Its loss and every gradient equal (model of seq_len 4 on sample 0's real tokens) + (model of
    /// seq_len 6 on sample 1 alone, no padding), with the same parameters (pos_embed's first rows).
    @Test(arguments: kindsAndPools)
    func sequenceModelGivesTheUnpaddedResults(kind: AttentionKind, pool: PoolKind) {
        var config = tinyConfig(.sequence, kind)
        config.seqLen = 6
        config.pool = pool
        var shortConfig = config
        shortConfig.seqLen = 4
        let model = FlowformerModel<Double>(config: config, maxBatch: 2)
        let short = FlowformerModel<Double>(config: shortConfig, maxBatch: 1)
        let single = FlowformerModel<Double>(config: config, maxBatch: 1)
        model.randomizeParameters(seed: 3)
        for entry in short.table.entries {
            let source = model.table[entry.name]!
            for i in 0..<entry.count { short.parameters[entry.offset + i] = model.parameters[source.offset + i] }
        }
        single.parameters.pointer.update(from: model.parameters.pointer, count: model.parameters.count)

        let batch = TestBatch(config: config, samples: 2, seed: 4)
        let lengths: [Int32] = [4, 6]
        model.zeroGradients()
        let sums = batch.targets.withUnsafeBufferPointer { targets in
            batch.tokens.withUnsafeBufferPointer { tokens in
                lengths.withUnsafeBufferPointer {
                    model.forward(.tokens(tokens.baseAddress!), targets: targets.baseAddress!, count: 2,
                                  context: ForwardContext(), lengths: $0.baseAddress!)
                }
            }
        }
        model.backward(lossScale: 1)

        var first = batch.slice(0, 1, config: config)
        first.tokens = Array(first.tokens[0..<4])
        short.zeroGradients()
        let shortSums = short.forward(first)
        short.backward(lossScale: 1)
        single.zeroGradients()
        let singleSums = single.forward(batch.slice(1, 1, config: config))
        single.backward(lossScale: 1)

        let expectedLoss = shortSums.lossSum + singleSums.lossSum
        let lossError = abs(sums.lossSum - expectedLoss) / abs(expectedLoss)
        if !(lossError <= 1e-12) { Issue.record("\(kind) \(pool): loss \(sums.lossSum) vs \(expectedLoss)") }
        for entry in model.table.entries {
            let shortEntry = short.table[entry.name]!
            var expected = Array(single.gradients.array[entry.offset ..< entry.offset + entry.count])
            for i in 0..<shortEntry.count { expected[i] += short.gradients[shortEntry.offset + i] }
            expectClose("\(kind) \(pool) gradient \(entry.name)", model.gradients.array[entry.offset ..< entry.offset + entry.count],
                        expected[...], bound: 1e-11)
        }
    }

    @Test(arguments: kindsAndPools)
    func paddedModelGradientsMatchFiniteDifferences(kind: AttentionKind, pool: PoolKind) {
        var config = tinyConfig(.sequence, kind)
        config.pool = pool
        let model = FlowformerModel<Double>(config: config, maxBatch: 2)
        model.randomizeParameters(seed: 7)
        let batch = TestBatch(config: config, samples: 2, seed: 8)
        let lengths: [Int32] = [3, 5]
        func loss() -> Double {
            batch.targets.withUnsafeBufferPointer { targets in
                batch.tokens.withUnsafeBufferPointer { tokens in
                    lengths.withUnsafeBufferPointer {
                        model.forward(.tokens(tokens.baseAddress!), targets: targets.baseAddress!, count: 2,
                                      context: ForwardContext(), lengths: $0.baseAddress!).lossSum
                    }
                }
            }
        }
        model.zeroGradients()
        _ = loss()
        model.backward(lossScale: 1)
        let analytic = model.gradients
        expectGradients("padded \(kind) \(pool)", values: model.parameters.pointer, gradient: analytic.pointer,
                        indices: 0..<model.table.count, loss: loss)
    }

    @Test func meanPoolAveragesRealTokensOnly() {
        let (samples, tokens, d) = (2, 5, 3)
        var random = SeededRandom(seed: 9)
        let x = Tensor(shape: [samples * tokens * d], values: random.normals(samples * tokens * d))
        let lengths = SequenceLengths(capacity: samples, fullLength: tokens)
        lengths.set([2, 5], count: 2)
        let pooled = Tensor<Double>(samples * d)
        MeanPool.forward(x.pointer, into: pooled.pointer, samples: samples, tokens: tokens, dModel: d, lengths: lengths)
        for b in 0..<samples {
            let n = [2, 5][b]
            for c in 0..<d {
                let mean = (0..<n).reduce(0.0) { $0 + x[(b * tokens + $1) * d + c] } / Double(n)
                if !(abs(pooled[b * d + c] - mean) <= 1e-15) { Issue.record("pooled[\(b), \(c)] \(pooled[b * d + c]) vs \(mean)") }
            }
        }
        let dPooled = Tensor(shape: [samples * d], values: random.normals(samples * d))
        let dX = Tensor<Double>(samples * tokens * d)
        dX.fill(.nan)
        MeanPool.backward(dPooled: dPooled.pointer, dX: dX.pointer, samples: samples, tokens: tokens, dModel: d, lengths: lengths)
        for b in 0..<samples {
            let n = [2, 5][b]
            for t in 0..<tokens {
                for c in 0..<d {
                    let expected = t < n ? dPooled[b * d + c] / Double(n) : 0
                    if !(abs(dX[(b * tokens + t) * d + c] - expected) <= 1e-15) { Issue.record("dX[\(b), \(t), \(c)]") }
                }
            }
        }
    }
}

/// `pool: cls`: the parameter table gains `cls_token` and a `pos_embed` row; with `mean` it is
/// the table of before (so checkpoints written before the key existed load unchanged).
@Suite struct ClassTokenLayoutTests {
    @Test func clsAddsItsTokenAndAPositionRow() {
        var config = tinyConfig(.sequence, .flow)
        let mean = ParameterLayout(config)
        config.pool = .cls
        let cls = ParameterLayout(config)
        #expect(mean.table["cls_token"] == nil)
        #expect(cls.table["cls_token"]?.shape == [config.dModel])
        #expect(mean.table["pos_embed"]?.shape == [config.seqLen, config.dModel])
        #expect(cls.table["pos_embed"]?.shape == [config.seqLen + 1, config.dModel])
        #expect(cls.table.count == mean.table.count + 2 * config.dModel)
        #expect(cls.table["cls_token"].map { !$0.decays } == true)
    }
}
