import TensorKernels

// Backward of causal Flow-Attention, per batch element and head. Notation as in the forward,
// g_i = dA_i, s_i = alloc_i / I_i, Vc_j = comp_j v_j, e_i = exp(Ô_i), Z_i = Σ_{j≤i} e_j, and the
// shifted prefix sums P^K_i = Σ_{j≤i} K_j + ε, P^Q_i, P^bK_i, P^aQ_i likewise.
//
// Aggregation A_i = s_i Σ_{j≤i} (Q_i·K_j) Vc_j (three chunked causal products):
//   M_i   = Σ_{j≤i} (g_i·Vc_j) K_j          ds_i = Q_i·M_i,   dQ_i = s_i M_i
//   dK_j  = Σ_{i≥j} (Vc_j·s_i g_i) Q_i      dVc_j = Σ_{i≥j} (K_j·Q_i) s_i g_i
//   dv_j  = comp_j dVc_j                    dcomp_j = Vc_j·dVc_j / comp_j
// Competition (prefix-normalised exp) and clamp:
//   R_k = Σ_{i≥k} dcomp_i comp_i / Z_i      dÔ_k = comp_k dcomp_k − e_k R_k,
//   zeroed where Ô_k ∉ [−1, 1];             h_k = dÔ_k / n_k
// Allocation: dI_i gets −ds_i alloc_i / I_i², and h'_i = ds_i / I_i · alloc_i (1 − alloc_i) / n_i.
// Prefix sums, with suffix sums over i ≥ j (running backwards):
//   U_j = Σ_{i≥j} h_i (K_i + ε)     da_j = Q_j·U_j,    dQ_j += a_j U_j,   dK_i += h_i P^aQ_i
//   W_j = Σ_{i≥j} h'_i (Q_i + ε)    db_j = K_j·W_j,    dK_j += b_j W_j,   dQ_i += h'_i P^bK_i
//   dI_i = −ds_i alloc_i / I_i² − da_i a_i / I_i,      dO_i = −db_i b_i / O_i
//   X_j = Σ_{i≥j} dI_i (Q_i + ε)    dK_j += X_j,       dQ_i += dI_i P^K_i
//   Y_j = Σ_{i≥j} dO_i (K_i + ε)    dQ_j += Y_j,       dK_i += dO_i P^Q_i
//   dq = dQ ⊙ Q ⊙ (1 − Q),  dk = dK ⊙ K ⊙ (1 − K)
// Two passes over one batch element, in chunks, every head of a row together:
//   1. forward order:  M (chunk step of the forward product, per head), ds_i, dQ_i = s_i M_i
//   2. reverse order:  s_i g_i; dK and dVc (chunk steps of the two reverse products, which share
//                      one state Σ_{i in later chunks} s_i g_i ⊗ Q_i, used transposed for dVc);
//                      dcomp_j, dv_j; the suffix sums U, W, X, Y position by position, backwards;
//                      then, forwards through the same chunk, the prefix sums P^K, P^Q, P^bK,
//                      P^aQ replayed from the forward's checkpoint at the chunk start (the same
//                      additions in the same order: bitwise the forward's values), their terms,
//                      and σ'. Every contribution to dQ_i and dK_i of the chunk's positions is in
//                      by then, so each row is finished while it is still in cache.
// Only O(D) running vectors, O(H·d_h²) states and O(H·L) scalars are kept per batch element.
extension CausalFlowAttention {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "CausalFlowAttention.backward called before forward")
        pendingCall = .backward(outputGradient: outputGradient, queryGradient: queryGradient,
                                keyGradient: keyGradient, valueGradient: valueGradient)
        workspaces.run(self)
        pendingCall = nil
    }

    /// Backward of batch element `b` (called by `runTask`).
    func backwardSample(_ b: Int, workspace: Workspace, outputGradient: UnsafePointer<Scalar>,
                        queryGradient: UnsafeMutablePointer<Scalar>,
                        keyGradient: UnsafeMutablePointer<Scalar>,
                        valueGradient: UnsafeMutablePointer<Scalar>) {
        let eps = Self.epsilon, chunk = effectiveChunk
        let (l, d, heads, dh) = (shape.queryLength, shape.modelWidth, shape.heads, shape.headWidth)
        let rowsOffset = b &* l &* d, scalarsOffset = b &* heads &* l
        let Q = UnsafePointer(sinkKernel.pointer + rowsOffset)          // [L, D], head h at columns h·d_h
        let K = UnsafePointer(sourceKernel.pointer + rowsOffset)
        let weightedV = UnsafePointer(weightedValues.pointer + rowsOffset)
        let g = outputGradient + rowsOffset
        let dQ = queryGradient + rowsOffset, dK = keyGradient + rowsOffset, dV = valueGradient + rowsOffset
        let I = incoming.pointer + scalarsOffset, O = outgoing.pointer + scalarsOffset
        let alloc = sinkAllocation.pointer + scalarsOffset, comp = sourceCompetition.pointer + scalarsOffset
        let conserved = unclampedConservedSource.pointer + scalarsOffset, Z = expPrefixSum.pointer + scalarsOffset
        let ds = workspace.scaleGradient.pointer       // ds_i    [L, H]
        // Per-position scalars of the current chunk only (row r of the chunk at r·H):
        let chunkHeads = chunk &* heads
        let dComp = workspace.chunkScalars.pointer     // dcomp_i [chunk, H]
        let hSource = dComp + chunkHeads               // h_i     [chunk, H]
        let hSink = dComp + 2 &* chunkHeads            // h'_i    [chunk, H]
        let dIncoming = dComp + 3 &* chunkHeads        // dI_i    [chunk, H]
        let dOutgoing = dComp + 4 &* chunkHeads        // dO_i    [chunk, H]
        let chunkRows = workspace.chunkRows.pointer    // s_i g_i of one chunk  [chunk, D]
        let mChunk = workspace.chunkProducts.pointer   // M of one chunk        [chunk, D]
        let states = workspace.states.pointer          // [H, d_h, d_h]
        let product = workspace.product
        let chunkCount = (l &+ chunk &- 1) / chunk

        // 1. M_i = Σ_{j≤i} (g_i·Vc_j) K_j, chunk by chunk; ds_i = Q_i·M_i, dQ_i = s_i M_i.
        for chunkIndex in 0..<chunkCount {
            let start = chunkIndex &* chunk, rows = min(chunk, l &- start), end = start &+ rows
            // Bring the chunk's rows of g, Vc and K into cache in order before the per-head GEMMs
            // read them column block by column block (see `touchCacheLines`).
            let first = start &* d, count = rows &* d
            workspace.touchSink[0] = touchCacheLines(g + first, count: count)
                + touchCacheLines(weightedV + first, count: count) + touchCacheLines(K + first, count: count)
            for h in 0..<heads {
                let o = h &* dh, chunkOffset = start &* d &+ o, state = states + h &* dh &* dh
                product.chunkStep(reverse: false, rows: rows, a: g + chunkOffset, lda: d,
                                  b: weightedV + chunkOffset, ldb: d, c: K + chunkOffset, ldc: d,
                                  state: start == 0 ? nil : UnsafePointer(state), into: mChunk + o, ldo: d,
                                  accumulate: false)
                if end < l {
                    product.accumulateState(rows: rows, b: weightedV + chunkOffset, ldb: d, c: K + chunkOffset,
                                            ldc: d, into: state, reset: start == 0)
                }
            }
            for i in start..<end {
                let mRow = UnsafePointer(mChunk + (i &- start) &* d), qRow = Q + i &* d, dqRow = dQ + i &* d
                // The next chunk's rows, while this one is computed (prefetchRow).
                let next = i &+ chunk
                if next < l {
                    prefetchRow(g + next &* d, count: d)
                    prefetchRow(weightedV + next &* d, count: d)
                    prefetchRow(K + next &* d, count: d)
                    prefetchRow(Q + next &* d, count: d)
                }
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    ds[index] = dot(qRow + o, mRow + o, count: dh)
                    scaleCopy(mRow + o, by: alloc[index] / I[index], into: dqRow + o, count: dh)
                }
            }
        }

        // 2. Reverse order. Suffix sums U, W, X, Y over every head: [D] each; the replayed prefix
        //    sums P^K, P^Q, P^bK, P^aQ: [D] each.
        let U = workspace.suffixSums.pointer, W = U + d, X = U + 2 &* d, Y = U + 3 &* d
        workspace.suffixSums.zero()
        let cumK = workspace.runningSums.pointer, cumQ = cumK + d, cumBK = cumK + 2 &* d, cumAQ = cumK + 3 &* d
        let checkpoints = UnsafePointer(prefixCheckpoints.pointer + b &* prefixCheckpoints.count / shape.batch)
        let competitionSuffix = workspace.headScalars.pointer   // R per head  [H]
        competitionSuffix.update(repeating: 0, count: heads)
        for chunkIndex in stride(from: chunkCount &- 1, through: 0, by: -1) {
            let start = chunkIndex &* chunk, rows = min(chunk, l &- start), end = start &+ rows
            // s_i g_i for this chunk.
            for i in start..<end {
                let gRow = g + i &* d, gsRow = chunkRows + (i &- start) &* d
                // The rows of the chunk before this one (the next in reverse order) (prefetchRow).
                if i >= chunk {
                    let previous = (i &- chunk) &* d
                    prefetchRow(g + previous, count: d)
                    prefetchRow(weightedV + previous, count: d)
                    prefetchRow(K + previous, count: d)
                    prefetchRow(Q + previous, count: d)
                    prefetchRow(dQ + previous, count: d)
                }
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    scaleCopy(gRow + o, by: alloc[index] / I[index], into: gsRow + o, count: dh)
                }
            }
            // dK_j = Σ_{i≥j} (Vc_j·s_i g_i) Q_i and dVc_j = Σ_{i≥j} (K_j·Q_i) s_i g_i; the shared state
            // P = Σ_{i in later chunks} s_i g_i ⊗ Q_i (dVc uses Pᵀ).
            let dkChunk = dK + start &* d, dvChunk = dV + start &* d
            let first = start &* d, count = rows &* d
            workspace.touchSink[0] = touchCacheLines(weightedV + first, count: count)
                + touchCacheLines(Q + first, count: count) + touchCacheLines(K + first, count: count)
                + touchCacheLines(dQ + first, count: count)
            dkChunk.update(repeating: 0, count: rows &* d)
            dvChunk.update(repeating: 0, count: rows &* d)
            let isLast = chunkIndex == chunkCount &- 1
            for h in 0..<heads {
                let o = h &* dh, chunkOffset = start &* d &+ o, state = states + h &* dh &* dh
                let gs = UnsafePointer(chunkRows + o)
                product.chunkStep(reverse: true, rows: rows, a: weightedV + chunkOffset, lda: d, b: gs, ldb: d,
                                  c: Q + chunkOffset, ldc: d, state: isLast ? nil : UnsafePointer(state),
                                  into: dkChunk + o, ldo: d, accumulate: true)
                product.chunkStep(reverse: true, rows: rows, a: K + chunkOffset, lda: d, b: Q + chunkOffset, ldb: d,
                                  c: gs, ldc: d, state: isLast ? nil : UnsafePointer(state), stateTransposed: true,
                                  into: dvChunk + o, ldo: d, accumulate: true)
                if start > 0 {
                    product.accumulateState(rows: rows, b: gs, ldb: d, c: Q + chunkOffset, ldc: d, into: state,
                                            reset: isLast)
                }
            }
            // dcomp_j = Vc_j·dVc_j / comp_j and dv_j = comp_j dVc_j.
            for j in start..<end {
                let vcRow = weightedV + j &* d, dvRow = dV + j &* d
                for h in 0..<heads {
                    let o = h &* dh, index = j &* heads &+ h
                    dComp[(j &- start) &* heads &+ h] = dot(vcRow + o, UnsafePointer(dvRow + o), count: dh) / comp[index]
                    scale(dvRow + o, by: comp[index], count: dh)
                }
            }
            // Suffix sums, position by position from the end of the chunk. The loop walks the
            // chunk's saved scalars backwards; read them in order first (see `touchCacheLines`).
            let firstScalar = start &* heads, scalarCount = rows &* heads
            var touched = touchCacheLines(ds + firstScalar, count: scalarCount)
            touched += touchCacheLines(comp + firstScalar, count: scalarCount)
            touched += touchCacheLines(Z + firstScalar, count: scalarCount)
            touched += touchCacheLines(conserved + firstScalar, count: scalarCount)
            touched += touchCacheLines(alloc + firstScalar, count: scalarCount)
            touched += touchCacheLines(I + firstScalar, count: scalarCount)
            touched += touchCacheLines(O + firstScalar, count: scalarCount)
            workspace.touchSink[0] = touched
            for i in stride(from: end &- 1, through: start, by: -1) {
                let n = Scalar(i &+ 1)
                let qRow = Q + i &* d, kRow = K + i &* d, dqRow = dQ + i &* d, dkRow = dK + i &* d
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h, local = (i &- start) &* heads &+ h
                    let qh = qRow + o, kh = kRow + o, dqh = dqRow + o, dkh = dkRow + o
                    let Uh = U + o, Wh = W + o, Xh = X + o, Yh = Y + o
                    competitionSuffix[h] += dComp[local] * comp[index] / Z[index]
                    let e = comp[index] * Z[index] / n
                    let raw = conserved[index]
                    let dConservedSource = raw >= -1 && raw <= 1
                        ? comp[index] * dComp[local] - e * competitionSuffix[h] : 0
                    let hi = dConservedSource / n
                    let allocI = alloc[index], incomingI = I[index]
                    let hPrime = ds[index] / incomingI * allocI * (1 - allocI) / n
                    for c in 0..<dh {
                        Uh[c] += hi * (kh[c] + eps)
                        Wh[c] += hPrime * (qh[c] + eps)
                    }
                    let da = dot(qh, UnsafePointer(Uh), count: dh), db = dot(kh, UnsafePointer(Wh), count: dh)
                    let ai = n / incomingI, bi = n / O[index]
                    let dI = -ds[index] * allocI / (incomingI * incomingI) - da * ai / incomingI
                    let dO = -db * bi / O[index]
                    for c in 0..<dh {
                        Xh[c] += dI * (qh[c] + eps)
                        Yh[c] += dO * (kh[c] + eps)
                        dqh[c] += ai * Uh[c] + Yh[c]
                        dkh[c] += bi * Wh[c] + Xh[c]
                    }
                    hSource[local] = hi
                    hSink[local] = hPrime
                    dIncoming[local] = dI
                    dOutgoing[local] = dO
                }
            }
            // Forwards through the chunk: replay P^K, P^Q, P^bK, P^aQ from the chunk-start
            // checkpoint, add their terms and apply σ'.
            cumK.update(from: checkpoints + chunkIndex &* 4 &* d, count: 4 &* d)
            for i in start..<end {
                let n = Scalar(i &+ 1)
                let qRow = Q + i &* d, kRow = K + i &* d, dqRow = dQ + i &* d, dkRow = dK + i &* d
                addScaled(1, kRow, to: cumK, count: d)
                addScaled(1, qRow, to: cumQ, count: d)
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h, local = (i &- start) &* heads &+ h
                    let qh = qRow + o, kh = kRow + o, dqh = dqRow + o, dkh = dkRow + o
                    let cumKh = cumK + o, cumQh = cumQ + o, cumBKh = cumBK + o, cumAQh = cumAQ + o
                    let ai = n / I[index], bi = n / O[index]
                    let hi = hSource[local], hPrime = hSink[local], dI = dIncoming[local], dO = dOutgoing[local]
                    for c in 0..<dh {
                        let qc = qh[c], kc = kh[c]
                        cumBKh[c] += bi * kc
                        cumAQh[c] += ai * qc
                        let totalQ = dqh[c] + hPrime * cumBKh[c] + dI * cumKh[c]
                        let totalK = dkh[c] + hi * cumAQh[c] + dO * cumQh[c]
                        dqh[c] = totalQ * qc * (1 - qc)
                        dkh[c] = totalK * kc * (1 - kc)
                    }
                }
            }
        }
    }
}
