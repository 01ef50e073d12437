import TensorKernels

/// Non-causal Flow-Attention (Wu et al. 2022), per batch element and head, sinks i < L and
/// sources j < S (L may differ from S):
///
///     Q_i = σ(q_i), K_j = σ(k_j)                                   logistic sigmoid, elementwise
///     I_i = (Q_i + ε)·(Σ_j K_j + ε),   a_i = 1 / I_i                incoming flow of sink i
///     O_j = (K_j + ε)·(Σ_i Q_i + ε),   b_j = 1 / O_j                outgoing flow of source j
///     Î_i = (Q_i + ε)·(Σ_j b_j K_j + ε)                            conserved incoming flow
///     Ô_j = clamp((K_j + ε)·(Σ_i a_i Q_i + ε), −1, 1)              conserved outgoing flow
///     alloc_i = σ(Î_i · L / S),   comp_j = S · softmax_j(Ô)_j
///     A_i = alloc_i · a_i · Q_iᵀ · Σ_j K_j ⊗ (comp_j v_j)           O((L + S)·d_h²)
///
/// with ε = 1e-6 added to every element of both factors of the "(u + ε)·(w + ε)" dot products.
/// See `shared/spec/flow-attention.md`.
///
/// How the work is laid out (README "Flow-Attention"): one batch element at a time, four sweeps
/// over its rows, each in blocks of `rowBlock` rows that stay in cache, every head of a row
/// handled together:
///
///     1. sources: K = σ(k), Σ K
///     2. sinks:   Q = σ(q), Σ Q, a_i, Σ a Q
///     3. sources: b_j, Σ b K, Ô_j, e_j = exp(clamp Ô_j), e_j v_j, KV += Kᵀ (e ⊙ v) per block (BLAS)
///     4. sinks:   alloc_i, s_i Q_i with s_i = alloc_i a_i, A = (s Q) · KV per block (BLAS)
///
/// The softmax normaliser ν = S / Σ_j e_j is known only after sweep 3, so the saved values are
/// e_j v_j (not comp_j v_j) and ν scales KV and `competition` afterwards. σ and exp run as
/// vectorised whole-block kernels. Batch elements are independent and run on the threads of a
/// `WorkerPool`; results do not depend on the number of threads.
final class FlowAttention<Scalar: TensorScalar>: AttentionCore, WorkerPoolTasks {
    public let shape: AttentionShape
    /// ε of the flow equations.
    public static var epsilon: Scalar { 1e-6 }
    /// Rows per block of the sweeps (the GEMMs on a block have k or m = rowBlock). 64, 128 and
    /// 256 measure within noise of each other at L = 1024 and 16384 (32 is 10 % slower); 64
    /// keeps a block's products below OpenBLAS's threading threshold up to d_h = 64
    /// (see `WorkerPool`).
    static var rowBlock: Int { 64 }

    // Saved by forward for backward. Per-head scalars are [B, L or S, H] (position-major, so that
    // the sweeps read them in order), per-head vectors [B, H, d_h] (the same memory as [B, D]:
    // head h at columns h·d_h ..< (h+1)·d_h).
    let sinkKernel: Tensor<Scalar>        // Q = σ(q)          [B, L, D]
    let sourceKernel: Tensor<Scalar>      // K = σ(k)          [B, S, D]
    let weightedValues: Tensor<Scalar>    // e_j · v_j         [B, S, D]   (comp_j v_j = ν e_j v_j)
    let competitionScale: Tensor<Scalar>  // ν = S / Σ_j e_j   [B, H]
    let sinkIncoming: Tensor<Scalar>      // a_i = 1 / I_i     [B, L, H]
    let sourceOutgoing: Tensor<Scalar>    // b_j = 1 / O_j     [B, S, H]
    let sinkAllocation: Tensor<Scalar>    // alloc_i           [B, L, H]
    let sourceCompetition: Tensor<Scalar> // comp_j = ν e_j    [B, S, H]
    let unclampedConservedSource: Tensor<Scalar>  // Ô_j before clamp  [B, S, H]
    let sinkSum: Tensor<Scalar>           // Σ_i Q_i + ε       [B, H, d_h]
    let sourceSum: Tensor<Scalar>         // Σ_j K_j + ε       [B, H, d_h]
    let weightedSinkSum: Tensor<Scalar>   // Σ_i a_i Q_i + ε   [B, H, d_h]
    let weightedSourceSum: Tensor<Scalar> // Σ_j b_j K_j + ε   [B, H, d_h]
    let keyValue: Tensor<Scalar>          // Σ_j K_j ⊗ comp_j v_j  [B, H, d_h, d_h]

    /// alloc_i of the last forward, [B, H, L] (a copy, for inspection and tests).
    var allocation: Tensor<Scalar> { headMajorCopy(sinkAllocation) }
    /// comp_j of the last forward, [B, H, S] (a copy).
    var competition: Tensor<Scalar> { headMajorCopy(sourceCompetition) }
    /// Ô_j before the clamp of the last forward, [B, H, S] (a copy).
    var conservedSource: Tensor<Scalar> { headMajorCopy(unclampedConservedSource) }

    /// Scratch for one batch element at a time; one per worker thread.
    final class Workspace {
        let blockRows: Tensor<Scalar>             // s_i Q_i (forward), s_i dA_i (backward)  [rowBlock, D]
        let blockProducts: Tensor<Scalar>         // M = dA · KVᵀ of one block (backward)    [rowBlock, D]
        let keyValueGradient: Tensor<Scalar>      // dKV                  [H, d_h, d_h]
        let scaleGradient: Tensor<Scalar>         // ds_i = d(alloc_i a_i) · …   [L, H]
        let vectorGradients: Tensor<Scalar>       // dΣaQ, dΣbK, dΣQ, dΣK [4, D]
        let headScalars: Tensor<Scalar>           // Σ_j e_j (forward), mean of comp ⊙ dcomp (backward)  [H]
        let touchSink: Tensor<Scalar>             // where `touchCacheLines` results go  [1]

        init(_ shape: AttentionShape, rowBlock: Int) {
            let (l, d, h, dh) = (shape.queryLength, shape.modelWidth, shape.heads, shape.headWidth)
            blockRows = Tensor(rowBlock, d)
            blockProducts = Tensor(rowBlock, d)
            keyValueGradient = Tensor(h, dh, dh)
            scaleGradient = Tensor(l, h)
            vectorGradients = Tensor(4, d)
            headScalars = Tensor(h)
            touchSink = Tensor(1)
        }
    }
    let workspaces: WorkerPool<Workspace>

    var hasForward = false

    public init(shape: AttentionShape) {
        precondition(!shape.causal, "FlowAttention is the non-causal core; use CausalFlowAttention")
        self.shape = shape
        let (b, l, s, d, h, dh) = (shape.batch, shape.queryLength, shape.keyLength, shape.modelWidth,
                                   shape.heads, shape.headWidth)
        sinkKernel = Tensor(b, l, d)
        sourceKernel = Tensor(b, s, d)
        weightedValues = Tensor(b, s, d)
        competitionScale = Tensor(b, h)
        sinkIncoming = Tensor(b, l, h)
        sourceOutgoing = Tensor(b, s, h)
        sinkAllocation = Tensor(b, l, h)
        sourceCompetition = Tensor(b, s, h)
        unclampedConservedSource = Tensor(b, s, h)
        sinkSum = Tensor(b, h, dh)
        sourceSum = Tensor(b, h, dh)
        weightedSinkSum = Tensor(b, h, dh)
        weightedSourceSum = Tensor(b, h, dh)
        keyValue = Tensor(b, h, dh, dh)
        let rowBlock = Self.rowBlock
        workspaces = WorkerPool(tasks: b) { Workspace(shape, rowBlock: rowBlock) }
    }

    /// The call the workers are running, set only while `forward` or `backward` runs.
    var pendingCall: AttentionCall<Scalar>?

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(queries: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>,
                        values: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>) {
        pendingCall = .forward(queries: queries, keys: keys, values: values, output: output)
        workspaces.run(self)
        pendingCall = nil
        hasForward = true
    }

    /// One batch element of the pending call, on the pool's workspace `worker`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func runTask(_ b: Int, worker: Int) {
        let workspace = workspaces.workspace(worker)
        switch pendingCall! {
        case let .forward(queries, keys, values, output):
            forwardSample(b, workspace: workspace, queries: queries, keys: keys, values: values, output: output)
        case let .backward(outputGradient, queryGradient, keyGradient, valueGradient):
            backwardSample(b, workspace: workspace, outputGradient: outputGradient, queryGradient: queryGradient,
                           keyGradient: keyGradient, valueGradient: valueGradient)
        }
    }

    private func forwardSample(_ b: Int, workspace: Workspace, queries: UnsafePointer<Scalar>,
                               keys: UnsafePointer<Scalar>, values: UnsafePointer<Scalar>,
                               output: UnsafeMutablePointer<Scalar>) {
        let eps = Self.epsilon, rowBlock = Self.rowBlock
        let (l, s, d, heads, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.heads,
                                    shape.headWidth)
        // This batch element's rows: [L, D] / [S, D]; its per-head scalars: [L, H] / [S, H].
        let q = queries + b &* l &* d, k = keys + b &* s &* d, v = values + b &* s &* d
        let Q = sinkKernel.pointer + b &* l &* d
        let K = sourceKernel.pointer + b &* s &* d
        let weightedV = weightedValues.pointer + b &* s &* d
        let out = output + b &* l &* d
        let a = sinkIncoming.pointer + b &* l &* heads
        let bOut = sourceOutgoing.pointer + b &* s &* heads
        let alloc = sinkAllocation.pointer + b &* l &* heads
        let comp = sourceCompetition.pointer + b &* s &* heads
        let conserved = unclampedConservedSource.pointer + b &* s &* heads
        let nu = competitionScale.pointer + b &* heads
        let sumQ = sinkSum.pointer + b &* d              // [H, d_h] = [D]
        let sumK = sourceSum.pointer + b &* d
        let sumAQ = weightedSinkSum.pointer + b &* d
        let sumBK = weightedSourceSum.pointer + b &* d
        let kv = keyValue.pointer + b &* heads &* dh &* dh
        let scaledRows = workspace.blockRows.pointer    // s_i Q_i of one block  [rowBlock, D]
        let expSum = workspace.headScalars.pointer      // Σ_j e_j               [H]

        // 1. Sources: K = σ(k) and Σ_j K_j + ε.
        sumK.update(repeating: 0, count: d)
        for start in stride(from: 0, to: s, by: rowBlock) {
            let rows = min(rowBlock, s &- start), first = start &* d
            DispatchedKernels.sigmoid(k + first, into: K + first, count: rows &* d)
            columnSums(UnsafePointer(K + first), rows: rows, width: d, rowStride: d, accumulatingInto: sumK)
        }
        shiftInPlace(sumK, by: eps, count: d)

        // 2. Sinks: Q = σ(q), Σ_i Q_i + ε, a_i = 1 / (Q_i + ε)·(ΣK + ε), Σ_i a_i Q_i + ε.
        sumQ.update(repeating: 0, count: d)
        sumAQ.update(repeating: 0, count: d)
        for start in stride(from: 0, to: l, by: rowBlock) {
            let rows = min(rowBlock, l &- start), first = start &* d
            DispatchedKernels.sigmoid(q + first, into: Q + first, count: rows &* d)
            for i in start..<(start &+ rows) {
                let row = UnsafePointer(Q + i &* d)
                addScaled(1, row, to: sumQ, count: d)
                for h in 0..<heads {
                    let o = h &* dh
                    let ai = 1 / shiftedDot(row + o, plus: eps, UnsafePointer(sumK + o), count: dh)
                    a[i &* heads &+ h] = ai
                    addScaled(ai, row + o, to: sumAQ + o, count: dh)
                }
            }
        }
        shiftInPlace(sumQ, by: eps, count: d)
        shiftInPlace(sumAQ, by: eps, count: d)

        // 3. Sources: b_j, Σ_j b_j K_j + ε, Ô_j, e_j = exp(clamp(Ô_j)) (|Ô| ≤ 1: no max
        //    subtraction needed), e_j v_j and KV = Kᵀ · (e ⊙ v), block by block.
        sumBK.update(repeating: 0, count: d)
        expSum.update(repeating: 0, count: heads)
        for start in stride(from: 0, to: s, by: rowBlock) {
            let rows = min(rowBlock, s &- start)
            for j in start..<(start &+ rows) {
                let row = UnsafePointer(K + j &* d)
                if j &+ prefetchDistance < s {
                    prefetchRow(K + (j &+ prefetchDistance) &* d, count: d)
                    prefetchRow(v + (j &+ prefetchDistance) &* d, count: d)
                }
                for h in 0..<heads {
                    let o = h &* dh, index = j &* heads &+ h
                    let bj = 1 / shiftedDot(row + o, plus: eps, UnsafePointer(sumQ + o), count: dh)
                    bOut[index] = bj
                    addScaled(bj, row + o, to: sumBK + o, count: dh)
                    conserved[index] = shiftedDot(row + o, plus: eps, UnsafePointer(sumAQ + o), count: dh)
                }
            }
            let first = start &* heads, count = rows &* heads
            clampToUnit(conserved + first, into: comp + first, count: count)
            exponential(comp + first, into: comp + first, count: count)
            for j in start..<(start &+ rows) {
                for h in 0..<heads { expSum[h] += comp[j &* heads &+ h] }
            }
            for j in start..<(start &+ rows) {
                let from = v + j &* d, to = weightedV + j &* d
                for h in 0..<heads {
                    let o = h &* dh
                    scaleCopy(from + o, by: comp[j &* heads &+ h], into: to + o, count: dh)
                }
            }
            for h in 0..<heads {
                let o = start &* d &+ h &* dh, beta: Scalar = start == 0 ? 0 : 1
                matmul(K + o, transposeA: true, UnsafePointer(weightedV + o), into: kv + h &* dh &* dh,
                       m: dh, n: dh, k: rows, lda: d, ldb: d, ldc: dh, beta: beta)
            }
        }
        shiftInPlace(sumBK, by: eps, count: d)
        // comp_j = ν e_j and KV scaled by ν, ν = S / Σ_j e_j.
        for h in 0..<heads {
            let scaleH = Scalar(s) / expSum[h]
            nu[h] = scaleH
            scale(kv + h &* dh &* dh, by: scaleH, into: kv + h &* dh &* dh, count: dh &* dh)
        }
        for j in 0..<s {
            for h in 0..<heads { comp[j &* heads &+ h] *= nu[h] }
        }

        // 4. Sinks: alloc_i = σ(Î_i · L/S), then A = (s ⊙ Q) · KV with s_i = alloc_i a_i.
        let ratio = Scalar(l) / Scalar(s)
        for start in stride(from: 0, to: l, by: rowBlock) {
            let rows = min(rowBlock, l &- start)
            for i in start..<(start &+ rows) {
                let row = UnsafePointer(Q + i &* d)
                if i &+ prefetchDistance < l { prefetchRow(Q + (i &+ prefetchDistance) &* d, count: d) }
                for h in 0..<heads {
                    let o = h &* dh
                    alloc[i &* heads &+ h] = shiftedDot(row + o, plus: eps, UnsafePointer(sumBK + o), count: dh) * ratio
                }
            }
            DispatchedKernels.sigmoid(alloc + start &* heads, into: alloc + start &* heads, count: rows &* heads)
            for i in start..<(start &+ rows) {
                let row = UnsafePointer(Q + i &* d), scaled = scaledRows + (i &- start) &* d
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    scaleCopy(row + o, by: alloc[index] * a[index], into: scaled + o, count: dh)
                }
            }
            // The output block is zeroed in one sequential pass and the GEMMs add into it
            // (beta = 1): BLAS's own zeroing (beta = 0) would touch each head's columns of every
            // row separately, a strided miss per row for a block that is not yet in cache.
            out.advanced(by: start &* d).update(repeating: 0, count: rows &* d)
            for h in 0..<heads {
                let o = h &* dh, sinkOffset = start &* d &+ o
                matmul(UnsafePointer(scaledRows + o), UnsafePointer(kv + h &* dh &* dh), into: out + sinkOffset,
                       m: rows, n: dh, k: dh, lda: d, ldb: dh, ldc: d, beta: 1)
            }
        }
    }
}
