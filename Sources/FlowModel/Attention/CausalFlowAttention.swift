import TensorKernels

/// Causal Flow-Attention (language models; L = S), per batch element and head, with
/// n_i = i + 1 the 1-based position and Σ_{j≤i} prefix sums over positions:
///
///     Q_i = σ(q_i), K_i = σ(k_i)
///     I_i = (Q_i + ε)·(Σ_{j≤i} K_j + ε),   a_i = n_i / I_i
///     O_i = (K_i + ε)·(Σ_{j≤i} Q_j + ε),   b_i = n_i / O_i
///     Î_i = (Q_i + ε)·(Σ_{j≤i} b_j K_j + ε) / n_i
///     Ô_i = clamp((K_i + ε)·(Σ_{j≤i} a_j Q_j + ε) / n_i, −1, 1)
///     alloc_i = σ(Î_i),   comp_i = n_i · exp(Ô_i) / Σ_{j≤i} exp(Ô_j)
///     A_i = alloc_i / I_i · Q_iᵀ · Σ_{j≤i} K_j ⊗ (comp_j v_j)
///
/// How the work is laid out (README "Flow-Attention"): one batch element at a time, in chunks of
/// `chunk` positions that stay in cache. For each chunk, every head together: σ of the chunk's
/// q and k rows; the prefix-sum recurrence position by position (four running D-wide sums: the
/// d_h-wide sums of every head side by side); σ and exp of the chunk's per-position scalars as
/// vectorised kernels; comp_i v_i; then, per head, the chunk's step of the aggregation
/// (`ChunkedCausalProduct.chunkStep`: a masked product inside the chunk plus the running
/// d_h × d_h state of the earlier chunks) on s_i Q_i with s_i = alloc_i / I_i, straight into
/// the output rows. Memory stays O(chunk·D + H·d_h²) per batch element beyond the saved
/// activations. Batch elements run on the threads of a `WorkerPool`.
final class CausalFlowAttention<Scalar: TensorScalar>: AttentionCore, WorkerPoolTasks {
    public let shape: AttentionShape
    /// Positions per chunk of the causal aggregation.
    public let chunk: Int
    /// ε of the flow equations.
    public static var epsilon: Scalar { 1e-6 }

    // Saved by forward for backward; per-head scalars are [B, L, H] (position-major, so that the
    // passes read them in order).
    let sinkKernel: Tensor<Scalar>       // Q = σ(q)              [B, L, D]
    let sourceKernel: Tensor<Scalar>     // K = σ(k)              [B, L, D]
    let weightedValues: Tensor<Scalar>   // Vc_i = comp_i v_i     [B, L, D]
    let incoming: Tensor<Scalar>         // I_i                   [B, L, H]
    let outgoing: Tensor<Scalar>         // O_i                   [B, L, H]
    let sinkAllocation: Tensor<Scalar>   // alloc_i               [B, L, H]
    let sourceCompetition: Tensor<Scalar> // comp_i               [B, L, H]
    let unclampedConservedSource: Tensor<Scalar>  // Ô_i before clamp  [B, L, H]
    let expPrefixSum: Tensor<Scalar>     // Z_i = Σ_{j≤i} exp(Ô_j) [B, L, H]
    /// The four running sums (Σ K + ε, Σ Q + ε, Σ b K + ε, Σ a Q + ε) as they stood at the start
    /// of each chunk, so that backward can replay any chunk's prefix sums exactly.
    let prefixCheckpoints: Tensor<Scalar>  // [B, chunks, 4, D]

    /// alloc_i of the last forward, [B, H, L] (a copy, for inspection and tests).
    var allocation: Tensor<Scalar> { headMajorCopy(sinkAllocation) }
    /// comp_i of the last forward, [B, H, L] (a copy).
    var competition: Tensor<Scalar> { headMajorCopy(sourceCompetition) }
    /// Ô_i before the clamp of the last forward, [B, H, L] (a copy).
    var conservedSource: Tensor<Scalar> { headMajorCopy(unclampedConservedSource) }

    /// Scratch for one batch element at a time; one per worker thread.
    final class Workspace {
        let product: ChunkedCausalProduct<Scalar>
        let states: Tensor<Scalar>              // one aggregation state per head  [H, d_h, d_h]
        let runningSums: Tensor<Scalar>         // four running prefix sums, every head   [4, D]
        let suffixSums: Tensor<Scalar>          // four running suffix sums (backward)    [4, D]
        let headScalars: Tensor<Scalar>         // running Σ exp(Ô) (forward), Σ dcomp comp / Z (backward)  [H]
        let chunkRows: Tensor<Scalar>           // s_i Q_i (forward), s_i dA_i (backward)  [chunk, D]
        let chunkProducts: Tensor<Scalar>       // M of one chunk (backward)        [chunk, D]
        let scaleGradient: Tensor<Scalar>       // ds_i (backward)                        [L, H]
        let chunkScalars: Tensor<Scalar>        // five per-position scalars of one chunk [5, chunk, H]
        let touchSink: Tensor<Scalar>           // where `touchCacheLines` results go  [1]

        init(_ shape: AttentionShape, chunk: Int) {
            let (l, d, h, dh) = (shape.queryLength, shape.modelWidth, shape.heads, shape.headWidth)
            product = ChunkedCausalProduct(chunk: chunk, keyWidth: dh, valueWidth: dh)
            states = Tensor(h, dh, dh)
            runningSums = Tensor(4, d)
            suffixSums = Tensor(4, d)
            headScalars = Tensor(h)
            chunkRows = Tensor(chunk, d)
            chunkProducts = Tensor(chunk, d)
            scaleGradient = Tensor(l, h)
            chunkScalars = Tensor(5, chunk, h)
            touchSink = Tensor(1)
        }
    }
    let workspaces: WorkerPool<Workspace>

    var hasForward = false

    public init(shape: AttentionShape, chunk: Int = defaultCausalChunk) {
        precondition(shape.causal, "CausalFlowAttention needs a causal shape; use FlowAttention")
        precondition(chunk > 0, "CausalFlowAttention chunk must be positive, got \(chunk)")
        self.shape = shape
        self.chunk = chunk
        let (b, l, d, h) = (shape.batch, shape.queryLength, shape.modelWidth, shape.heads)
        sinkKernel = Tensor(b, l, d)
        sourceKernel = Tensor(b, l, d)
        weightedValues = Tensor(b, l, d)
        incoming = Tensor(b, l, h)
        outgoing = Tensor(b, l, h)
        sinkAllocation = Tensor(b, l, h)
        sourceCompetition = Tensor(b, l, h)
        unclampedConservedSource = Tensor(b, l, h)
        expPrefixSum = Tensor(b, l, h)
        let effectiveChunk = min(chunk, l)
        prefixCheckpoints = Tensor(b, (l + effectiveChunk - 1) / effectiveChunk, 4, d)
        workspaces = WorkerPool(tasks: b) { Workspace(shape, chunk: effectiveChunk) }
    }

    /// Chunk length actually used (`chunk`, at most L).
    var effectiveChunk: Int { min(chunk, shape.queryLength) }

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
        let eps = Self.epsilon, chunk = effectiveChunk
        let (l, d, heads, dh) = (shape.queryLength, shape.modelWidth, shape.heads, shape.headWidth)
        // This batch element's rows [L, D] (head h at columns h·d_h) and scalars [L, H].
        let rowsOffset = b &* l &* d, scalarsOffset = b &* heads &* l
        let q = queries + rowsOffset, k = keys + rowsOffset, v = values + rowsOffset
        let Q = sinkKernel.pointer + rowsOffset, K = sourceKernel.pointer + rowsOffset
        let weightedV = weightedValues.pointer + rowsOffset
        let out = output + rowsOffset
        let I = incoming.pointer + scalarsOffset, O = outgoing.pointer + scalarsOffset
        let alloc = sinkAllocation.pointer + scalarsOffset, comp = sourceCompetition.pointer + scalarsOffset
        let conserved = unclampedConservedSource.pointer + scalarsOffset, Z = expPrefixSum.pointer + scalarsOffset
        // Running Σ_{j≤i} K_j + ε, Σ Q_j + ε, Σ b_j K_j + ε, Σ a_j Q_j + ε, every head side by side.
        let cumK = workspace.runningSums.pointer, cumQ = cumK + d, cumBK = cumK + 2 &* d, cumAQ = cumK + 3 &* d
        workspace.runningSums.fill(eps)
        let expSum = workspace.headScalars.pointer     // Σ_{j≤i} exp(Ô_j) per head  [H]
        expSum.update(repeating: 0, count: heads)
        let scaledQ = workspace.chunkRows.pointer      // s_i Q_i of one chunk  [chunk, D]
        let states = workspace.states.pointer          // [H, d_h, d_h]
        let product = workspace.product

        let checkpoints = prefixCheckpoints.pointer + b &* prefixCheckpoints.count / shape.batch
        for start in stride(from: 0, to: l, by: chunk) {
            let rows = min(chunk, l &- start), end = start &+ rows
            (checkpoints + (start / chunk) &* 4 &* d).update(from: cumK, count: 4 &* d)
            DispatchedKernels.sigmoid(q + start &* d, into: Q + start &* d, count: rows &* d)
            DispatchedKernels.sigmoid(k + start &* d, into: K + start &* d, count: rows &* d)

            // The recurrence: I_i, O_i and the arguments of σ (Î_i) and of exp (Ô_i).
            for i in start..<end {
                let n = Scalar(i &+ 1)
                let qRow = UnsafePointer(Q + i &* d), kRow = UnsafePointer(K + i &* d)
                addScaled(1, kRow, to: cumK, count: d)
                addScaled(1, qRow, to: cumQ, count: d)
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    let sinkFlow = shiftedDot(qRow + o, plus: eps, UnsafePointer(cumK + o), count: dh)
                    let sourceFlow = shiftedDot(kRow + o, plus: eps, UnsafePointer(cumQ + o), count: dh)
                    I[index] = sinkFlow
                    O[index] = sourceFlow
                    let ai = n / sinkFlow, bi = n / sourceFlow
                    addScaled(bi, kRow + o, to: cumBK + o, count: dh)
                    addScaled(ai, qRow + o, to: cumAQ + o, count: dh)
                    alloc[index] = shiftedDot(qRow + o, plus: eps, UnsafePointer(cumBK + o), count: dh) / n
                    conserved[index] = shiftedDot(kRow + o, plus: eps, UnsafePointer(cumAQ + o), count: dh) / n
                }
            }
            // alloc_i = σ(Î_i); comp_i = n_i exp(Ô_i) / Σ_{j≤i} exp(Ô_j) (|Ô| ≤ 1: no max subtraction).
            let first = start &* heads, count = rows &* heads
            DispatchedKernels.sigmoid(alloc + first, into: alloc + first, count: count)
            clampToUnit(conserved + first, into: comp + first, count: count)
            exponential(comp + first, into: comp + first, count: count)
            for i in start..<end {
                let n = Scalar(i &+ 1)
                for h in 0..<heads {
                    let index = i &* heads &+ h
                    let e = comp[index]
                    let running = expSum[h] + e
                    expSum[h] = running
                    Z[index] = running
                    comp[index] = n * e / running
                }
            }
            // Vc_i = comp_i v_i and s_i Q_i with s_i = alloc_i / I_i.
            for i in start..<end {
                let vRow = v + i &* d, vcRow = weightedV + i &* d
                let qRow = UnsafePointer(Q + i &* d), sqRow = scaledQ + (i &- start) &* d
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    scaleCopy(vRow + o, by: comp[index], into: vcRow + o, count: dh)
                    scaleCopy(qRow + o, by: alloc[index] / I[index], into: sqRow + o, count: dh)
                }
            }
            // A_i = Σ_{j≤i} (s_i Q_i·K_j) Vc_j for this chunk, per head; then State_h += K_chunkᵀ Vc_chunk.
            let outChunk = out + start &* d
            outChunk.update(repeating: 0, count: rows &* d)   // sequential zeroing; the GEMMs add (see README)
            for h in 0..<heads {
                let o = h &* dh, chunkOffset = start &* d &+ o, state = states + h &* dh &* dh
                product.chunkStep(reverse: false, rows: rows, a: UnsafePointer(scaledQ + o), lda: d,
                                  b: UnsafePointer(K + chunkOffset), ldb: d, c: UnsafePointer(weightedV + chunkOffset),
                                  ldc: d, state: start == 0 ? nil : UnsafePointer(state),
                                  into: outChunk + o, ldo: d, accumulate: true)
                if end < l {
                    product.accumulateState(rows: rows, b: UnsafePointer(K + chunkOffset), ldb: d,
                                            c: UnsafePointer(weightedV + chunkOffset), ldc: d, into: state,
                                            reset: start == 0)
                }
            }
        }
    }
}
