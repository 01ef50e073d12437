import TensorKernels

// Backward of non-causal Flow-Attention, per batch element and head. With g_i = dA_i,
// s_i = alloc_i a_i, KV = Σ_j K_j ⊗ Vc_j, Vc_j = comp_j v_j, r = L/S, and the forward's shifted
// sums written ΣQ, ΣK, ΣaQ, ΣbK (each already "+ ε"):
//
//   M_i = KV · g_i                         ds_i = Q_i·M_i          dQ_i  = s_i M_i
//   dKV = Σ_i Q_i ⊗ s_i g_i                dVc_j = dKVᵀ · K_j       dK_j  = dKV · Vc_j
//   dv_j = comp_j dVc_j                    dcomp_j = v_j·dVc_j = Vc_j·dVc_j / comp_j
//   dalloc_i = ds_i a_i                    dÎ_i = dalloc_i alloc_i (1 − alloc_i) r
//   dÔ_j = comp_j (dcomp_j − m̄),  m̄ = (1/S) Σ_k comp_k dcomp_k = ⟨dKV, KV⟩ / S,
//          zeroed where Ô_j ∉ [−1, 1] (clamp)
//   dΣaQ = Σ_j dÔ_j (K_j + ε)               dK_j += dÔ_j ΣaQ
//   dΣbK = Σ_i dÎ_i (Q_i + ε)               dQ_i += dÎ_i ΣbK
//   da_i = ds_i alloc_i + Q_i·dΣaQ          dQ_i += a_i dΣaQ
//   db_j = K_j·dΣbK                         dK_j += b_j dΣbK
//   dI_i = −da_i a_i²,  dO_j = −db_j b_j²
//   dΣK = Σ_i dI_i (Q_i + ε)                dQ_i += dI_i ΣK,   dK_j += dΣK
//   dΣQ = Σ_j dO_j (K_j + ε)                dK_j += dO_j ΣQ,   dQ_i += dΣQ
//   dq = dQ ⊙ Q ⊙ (1 − Q),  dk = dK ⊙ K ⊙ (1 − K)
//
// m̄ as a Frobenius product: Σ_j comp_j dcomp_j = Σ_j Vc_j·(dKVᵀ K_j) = Σ_{e,c} dKV_ec KV_ec, so the
// softmax backward needs no extra sweep over the sources. dQ, dK, dVc accumulate directly in the
// caller's dq, dk, dv buffers (this head's columns). Four sweeps over one batch element's rows,
// in blocks of `rowBlock` rows, every head of a row together:
//
//   A. sinks:   M = g · KVᵀ (BLAS per block), ds_i, dÎ_i, dΣbK, dQ_i = s_i M_i + dÎ_i ΣbK,
//               dKV += Qᵀ · (s ⊙ g) (BLAS per block)
//   B. sources: dVc = K · dKV, dK = Vc · dKVᵀ (BLAS per block), dcomp_j, dÔ_j, db_j, dO_j,
//               dΣaQ, dΣQ, dK_j terms but dΣK, dv_j = comp_j dVc_j
//   C. sinks:   da_i, dI_i, dΣK, the rest of dQ_i, σ'
//   D. sources: dK_j += dΣK, σ'
extension FlowAttention {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "FlowAttention.backward called before forward")
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
        let eps = Self.epsilon, rowBlock = Self.rowBlock
        let (paddedL, paddedS, d, heads, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth,
                                                shape.heads, shape.headWidth)
        let (l, s) = validCounts(b)   // real sinks and sources; padding rows get zero gradients
        // This batch element: rows [L, D] / [S, D] (head h at columns h·d_h), scalars [L, H] / [S, H].
        let Q = UnsafePointer(sinkKernel.pointer + b &* paddedL &* d)
        let K = UnsafePointer(sourceKernel.pointer + b &* paddedS &* d)
        let weightedV = UnsafePointer(weightedValues.pointer + b &* paddedS &* d)   // e_j v_j
        let g = outputGradient + b &* paddedL &* d                                 // dA
        let dQ = queryGradient + b &* paddedL &* d
        let dK = keyGradient + b &* paddedS &* d
        let dV = valueGradient + b &* paddedS &* d
        let a = sinkIncoming.pointer + b &* paddedL &* heads
        let bOut = sourceOutgoing.pointer + b &* paddedS &* heads
        let alloc = sinkAllocation.pointer + b &* paddedL &* heads
        let comp = sourceCompetition.pointer + b &* paddedS &* heads
        let conserved = unclampedConservedSource.pointer + b &* paddedS &* heads
        let nu = competitionScale.pointer + b &* heads
        let sumQ = UnsafePointer(sinkSum.pointer + b &* d)
        let sumK = UnsafePointer(sourceSum.pointer + b &* d)
        let sumAQ = UnsafePointer(weightedSinkSum.pointer + b &* d)
        let sumBK = UnsafePointer(weightedSourceSum.pointer + b &* d)
        let kv = UnsafePointer(keyValue.pointer + b &* heads &* dh &* dh)
        let gScaled = workspace.blockRows.pointer              // s_i g_i of one block  [rowBlock, D]
        let dKV = workspace.keyValueGradient.pointer           // [H, d_h, d_h]
        let ds = workspace.scaleGradient.pointer               // [L, H]
        let meanCompGradient = workspace.headScalars.pointer   // m̄ per head  [H]
        let dSumAQ = workspace.vectorGradients.pointer         // dΣaQ [D]
        let dSumBK = dSumAQ + d                                // dΣbK [D]
        let dSumQ = dSumAQ + 2 &* d                            // dΣQ  [D]
        let dSumK = dSumAQ + 3 &* d                            // dΣK  [D]

        // A. Sinks, block by block: s_i g_i first (a sequential pass that also brings the block
        //    of g into cache for the GEMM), M = g · KVᵀ, then per row ds_i, dÎ_i, dΣbK and
        //    dQ_i = s_i M_i + dÎ_i ΣbK, and dKV += Qᵀ · (s ⊙ g).
        let ratio = Scalar(l) / Scalar(s)
        let mBlock = workspace.blockProducts.pointer           // M of one block  [rowBlock, D]
        dSumBK.update(repeating: 0, count: d)
        for start in stride(from: 0, to: l, by: rowBlock) {
            let rows = min(rowBlock, l &- start)
            for i in start..<(start &+ rows) {
                let gRow = g + i &* d, gsRow = gScaled + (i &- start) &* d
                if i &+ prefetchDistance < l { prefetchRow(g + (i &+ prefetchDistance) &* d, count: d) }
                prefetchRow(Q + i &* d, count: d)       // read again below, after the GEMMs
                prefetchRow(dQ + i &* d, count: d)
                for h in 0..<heads {
                    let o = h &* dh, index = i &* heads &+ h
                    scaleCopy(gRow + o, by: alloc[index] * a[index], into: gsRow + o, count: dh)
                }
            }
            for h in 0..<heads {
                let o = h &* dh, sinkOffset = start &* d &+ o
                matmul(g + sinkOffset, kv + h &* dh &* dh, transposeB: true, into: mBlock + o, m: rows, n: dh, k: dh,
                       lda: d, ldb: dh, ldc: d)
            }
            for i in start..<(start &+ rows) {
                for h in 0..<heads {
                    let o = i &* d &+ h &* dh, index = i &* heads &+ h, blockOffset = (i &- start) &* d &+ h &* dh
                    let qRow = Q + o, dqRow = dQ + o, mRow = UnsafePointer(mBlock + blockOffset)
                    let sumBKRow = sumBK + h &* dh, dSumBKRow = dSumBK + h &* dh
                    let ai = a[index], allocI = alloc[index]
                    let scaleI = allocI * ai
                    let dsI = dot(qRow, mRow, count: dh)
                    ds[index] = dsI
                    let dConservedSink = dsI * ai * allocI * (1 - allocI) * ratio
                    for c in 0..<dh {
                        dSumBKRow[c] += dConservedSink * (qRow[c] + eps)
                        dqRow[c] = scaleI * mRow[c] + dConservedSink * sumBKRow[c]
                    }
                }
            }
            for h in 0..<heads {
                let o = h &* dh, sinkOffset = start &* d &+ o, beta: Scalar = start == 0 ? 0 : 1
                matmul(Q + sinkOffset, transposeA: true, UnsafePointer(gScaled + o), into: dKV + h &* dh &* dh,
                       m: dh, n: dh, k: rows, lda: d, ldb: d, ldc: dh, beta: beta)
            }
        }
        for h in 0..<heads {
            meanCompGradient[h] = frobeniusProduct(UnsafePointer(dKV + h &* dh &* dh), kv + h &* dh &* dh,
                                                   count: dh &* dh) / Scalar(s)
        }

        // B. Sources, block by block: first a sequential pass for db_j, dO_j, dΣQ and the dK_j
        //    terms b_j dΣbK + dO_j ΣQ (dV zeroed, Vc's block touched so that it is in cache), then
        //    dVc = K · dKV and dK += Vc · dKVᵀ (BLAS adds: beta = 1), then per row dcomp_j, dÔ_j,
        //    dΣaQ, dK_j += dÔ_j ΣaQ and dv_j = comp_j dVc_j.
        dSumAQ.update(repeating: 0, count: d)
        dSumQ.update(repeating: 0, count: d)
        for start in stride(from: 0, to: s, by: rowBlock) {
            let rows = min(rowBlock, s &- start)
            var touched: Scalar = 0
            for j in start..<(start &+ rows) {
                if j &+ prefetchDistance < s {
                    let ahead = (j &+ prefetchDistance) &* d
                    prefetchRow(weightedV + ahead, count: d)
                    prefetchRow(K + ahead, count: d)
                    prefetchRow(dK + ahead, count: d)
                    prefetchRow(dV + ahead, count: d)
                }
                touched += touchCacheLines(weightedV + j &* d, count: d)
                for h in 0..<heads {
                    let o = j &* d &+ h &* dh, index = j &* heads &+ h, ho = h &* dh
                    let kRow = K + o, dkRow = dK + o
                    let sumQRow = sumQ + ho, dSumBKRow = UnsafePointer(dSumBK + ho), dSumQRow = dSumQ + ho
                    let bj = bOut[index]
                    let dOutgoing = dot(kRow, dSumBKRow, count: dh)   // db_j
                    let dFlow = -dOutgoing * bj * bj                  // dO_j
                    for c in 0..<dh {
                        dSumQRow[c] += dFlow * (kRow[c] + eps)
                        dkRow[c] = bj * dSumBKRow[c] + dFlow * sumQRow[c]
                    }
                }
            }
            workspace.touchSink[0] = touched
            dV.advanced(by: start &* d).update(repeating: 0, count: rows &* d)
            for h in 0..<heads {
                let o = start &* d &+ h &* dh, headDKV = UnsafePointer(dKV + h &* dh &* dh)
                matmul(K + o, headDKV, into: dV + o, m: rows, n: dh, k: dh, lda: d, ldb: dh, ldc: d, beta: 1)
                matmul(weightedV + o, headDKV, transposeB: true, into: dK + o, m: rows, n: dh, k: dh,
                       lda: d, ldb: dh, ldc: d, alpha: nu[h], beta: 1)
            }
            for j in start..<(start &+ rows) {
                for h in 0..<heads {
                    let o = j &* d &+ h &* dh, index = j &* heads &+ h, ho = h &* dh
                    let kRow = K + o, dkRow = dK + o, dvRow = dV + o
                    let sumAQRow = sumAQ + ho, dSumAQRow = dSumAQ + ho
                    let compJ = comp[index]
                    // dcomp_j = Vc_j·dVc_j / comp_j, Vc_j = ν e_j v_j.
                    let dCompJ = nu[h] * dot(weightedV + o, UnsafePointer(dvRow), count: dh) / compJ
                    let raw = conserved[index]
                    let dConservedSource = raw >= -1 && raw <= 1 ? compJ * (dCompJ - meanCompGradient[h]) : 0
                    for c in 0..<dh {
                        dSumAQRow[c] += dConservedSource * (kRow[c] + eps)
                        dkRow[c] += dConservedSource * sumAQRow[c]
                        dvRow[c] *= compJ
                    }
                }
            }
        }

        // C. Sinks: da_i, dI_i; finish dQ_i and apply σ'.
        dSumK.update(repeating: 0, count: d)
        for i in 0..<l {
            if i &+ prefetchDistance < l {
                prefetchRow(Q + (i &+ prefetchDistance) &* d, count: d)
                prefetchRow(dQ + (i &+ prefetchDistance) &* d, count: d)
            }
            for h in 0..<heads {
                let o = i &* d &+ h &* dh, index = i &* heads &+ h, ho = h &* dh
                let qRow = Q + o, dqRow = dQ + o
                let dSumAQRow = dSumAQ + ho, dSumKRow = dSumK + ho, sumKRow = sumK + ho, dSumQRow = dSumQ + ho
                let ai = a[index]
                let dIncoming = ds[index] * alloc[index] + dot(qRow, UnsafePointer(dSumAQRow), count: dh)  // da_i
                let dFlow = -dIncoming * ai * ai                                                          // dI_i
                for c in 0..<dh {
                    let qc = qRow[c]
                    dSumKRow[c] += dFlow * (qc + eps)
                    let total = dqRow[c] + ai * dSumAQRow[c] + dFlow * sumKRow[c] + dSumQRow[c]
                    dqRow[c] = total * qc * (1 - qc)
                }
            }
        }

        // D. Sources: dK_j += dΣK and apply σ', every head at once.
        for j in 0..<s {
            let kRow = K + j &* d, dkRow = dK + j &* d
            if j &+ prefetchDistance < s {
                prefetchRow(K + (j &+ prefetchDistance) &* d, count: d)
                prefetchRow(dK + (j &+ prefetchDistance) &* d, count: d)
            }
            for c in 0..<d {
                let kc = kRow[c]
                dkRow[c] = (dkRow[c] + dSumK[c]) * kc * (1 - kc)
            }
        }

        // Padding rows: no gradient.
        if l < paddedL { dQ.advanced(by: l &* d).update(repeating: 0, count: (paddedL &- l) &* d) }
        if s < paddedS {
            dK.advanced(by: s &* d).update(repeating: 0, count: (paddedS &- s) &* d)
            dV.advanced(by: s &* d).update(repeating: 0, count: (paddedS &- s) &* d)
        }
    }
}
