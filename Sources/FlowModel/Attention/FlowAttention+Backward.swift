import TensorKernels

// Backward of non-causal Flow-Attention, per batch element and head. With g_i = dA_i,
// s_i = alloc_i a_i, KV = Σ_j K_j ⊗ Vc_j, Vc_j = comp_j v_j, r = L/S, and the forward's shifted
// sums written ΣQ, ΣK, ΣaQ, ΣbK (each already "+ ε"):
//
//   M_i = KV · g_i                         ds_i = Q_i·M_i          dQ_i  = s_i M_i
//   dKV = Σ_i Q_i ⊗ s_i g_i                dVc_j = dKVᵀ · K_j       dK_j  = dKV · Vc_j
//   dv_j = comp_j dVc_j                    dcomp_j = v_j·dVc_j = Vc_j·dVc_j / comp_j
//   dalloc_i = ds_i a_i                    dÎ_i = dalloc_i alloc_i (1 − alloc_i) r
//   dÔ_j = comp_j (dcomp_j − (1/S) Σ_k comp_k dcomp_k),   zeroed where Ô_j ∉ [−1, 1] (clamp)
//   dΣaQ = Σ_j dÔ_j (K_j + ε)               dK_j += dÔ_j ΣaQ
//   dΣbK = Σ_i dÎ_i (Q_i + ε)               dQ_i += dÎ_i ΣbK
//   da_i = ds_i alloc_i + Q_i·dΣaQ          dQ_i += a_i dΣaQ
//   db_j = K_j·dΣbK                         dK_j += b_j dΣbK
//   dI_i = −da_i a_i²,  dO_j = −db_j b_j²
//   dΣK = Σ_i dI_i (Q_i + ε)                dQ_i += dI_i ΣK,   dK_j += dΣK
//   dΣQ = Σ_j dO_j (K_j + ε)                dK_j += dO_j ΣQ,   dQ_i += dΣQ
//   dq = dQ ⊙ Q ⊙ (1 − Q),  dk = dK ⊙ K ⊙ (1 − K)
//
// dQ, dK, dVc accumulate directly in the caller's dq, dk, dv buffers (this head's columns).
extension FlowAttention {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "FlowAttention.backward called before forward")
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                backwardHead(batch: b, head: h, outputGradient: outputGradient,
                             queryGradient: queryGradient, keyGradient: keyGradient,
                             valueGradient: valueGradient)
            }
        }
    }

    private func backwardHead(batch b: Int, head h: Int, outputGradient: UnsafePointer<Scalar>,
                              queryGradient: UnsafeMutablePointer<Scalar>,
                              keyGradient: UnsafeMutablePointer<Scalar>,
                              valueGradient: UnsafeMutablePointer<Scalar>) {
        let eps = Self.epsilon
        let (l, s, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        let headIndex = b &* shape.heads &+ h
        let sinkRows = b &* l &* d &+ h &* dh
        let sourceRows = b &* s &* d &+ h &* dh
        let Q = UnsafePointer(sinkKernel.pointer + sinkRows)          // [L, d_h], stride D
        let K = UnsafePointer(sourceKernel.pointer + sourceRows)      // [S, d_h], stride D
        let weightedV = UnsafePointer(weightedValues.pointer + sourceRows)
        let g = outputGradient + sinkRows                             // dA [L, d_h], stride D
        let dQ = queryGradient + sinkRows
        let dK = keyGradient + sourceRows
        let dV = valueGradient + sourceRows
        let a = sinkIncoming.pointer + headIndex &* l
        let bOut = sourceOutgoing.pointer + headIndex &* s
        let alloc = allocation.pointer + headIndex &* l
        let comp = competition.pointer + headIndex &* s
        let conserved = conservedSource.pointer + headIndex &* s
        let sumQ = UnsafePointer(sinkSum.pointer + headIndex &* dh)
        let sumK = UnsafePointer(sourceSum.pointer + headIndex &* dh)
        let sumAQ = UnsafePointer(weightedSinkSum.pointer + headIndex &* dh)
        let sumBK = UnsafePointer(weightedSourceSum.pointer + headIndex &* dh)
        let kv = UnsafePointer(keyValue.pointer + headIndex &* dh &* dh)
        let gScaled = scaledOutputGradient.pointer   // [L, d_h]
        let dKV = keyValueGradient.pointer           // [d_h, d_h]
        let ds = scaleGradient.pointer               // [L]
        let dComp = competitionGradient.pointer      // [S]
        let dSumAQ = vectorGradients.pointer             // dΣaQ [d_h]
        let dSumBK = vectorGradients.pointer + dh        // dΣbK [d_h]
        let dSumQ = vectorGradients.pointer + 2 &* dh    // dΣQ  [d_h]
        let dSumK = vectorGradients.pointer + 3 &* dh    // dΣK  [d_h]

        // M = g · KVᵀ into dQ; then per sink: ds_i, dÎ_i, dΣbK, s_i g_i, dQ_i = s_i M_i + dÎ_i ΣbK.
        matmul(g, kv, transposeB: true, into: dQ, m: l, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
        let ratio = Scalar(l) / Scalar(s)
        dSumBK.update(repeating: 0, count: dh)
        for i in 0..<l {
            let qRow = Q + i &* d, mRow = dQ + i &* d, gRow = g + i &* d, gsRow = gScaled + i &* dh
            let scaleI = alloc[i] * a[i]
            ds[i] = dot(qRow, UnsafePointer(mRow), count: dh)
            let dConservedSink = ds[i] * a[i] * alloc[i] * (1 - alloc[i]) * ratio
            for c in 0..<dh {
                dSumBK[c] += dConservedSink * (qRow[c] + eps)
                mRow[c] = scaleI * mRow[c] + dConservedSink * sumBK[c]
                gsRow[c] = scaleI * gRow[c]
            }
        }

        // dKV = Qᵀ · (s ⊙ g);  dVc = K · dKV into dV;  dK = Vc · dKVᵀ.
        matmul(Q, transposeA: true, UnsafePointer(gScaled), into: dKV, m: dh, n: dh, k: l,
               lda: d, ldb: dh, ldc: dh)
        matmul(K, UnsafePointer(dKV), into: dV, m: s, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
        matmul(weightedV, UnsafePointer(dKV), transposeB: true, into: dK, m: s, n: dh, k: dh,
               lda: d, ldb: dh, ldc: d)

        // dcomp_j and dv_j = comp_j dVc_j.
        var compDotGradient: Scalar = 0
        for j in 0..<s {
            let dvRow = dV + j &* d
            dComp[j] = dot(weightedV + j &* d, UnsafePointer(dvRow), count: dh) / comp[j]
            compDotGradient += comp[j] * dComp[j]
            scale(dvRow, by: comp[j], count: dh)
        }
        let meanCompGradient = compDotGradient / Scalar(s)

        // Per source: softmax and clamp backward, db_j and dO_j; dK_j gets every term but dΣK.
        dSumAQ.update(repeating: 0, count: dh)
        dSumQ.update(repeating: 0, count: dh)
        for j in 0..<s {
            let kRow = K + j &* d, dkRow = dK + j &* d
            let raw = conserved[j]
            let dConservedSource = raw >= -1 && raw <= 1 ? comp[j] * (dComp[j] - meanCompGradient) : 0
            let dOutgoing = dot(kRow, UnsafePointer(dSumBK), count: dh)   // db_j
            let dFlow = -dOutgoing * bOut[j] * bOut[j]                   // dO_j
            let bj = bOut[j]
            for c in 0..<dh {
                let shiftedK = kRow[c] + eps
                dSumAQ[c] += dConservedSource * shiftedK
                dSumQ[c] += dFlow * shiftedK
                dkRow[c] += dConservedSource * sumAQ[c] + bj * dSumBK[c] + dFlow * sumQ[c]
            }
        }

        // Per sink: da_i, dI_i; finish dQ_i and apply σ'.
        dSumK.update(repeating: 0, count: dh)
        for i in 0..<l {
            let qRow = Q + i &* d, dqRow = dQ + i &* d
            let dIncoming = ds[i] * alloc[i] + dot(qRow, UnsafePointer(dSumAQ), count: dh)  // da_i
            let dFlow = -dIncoming * a[i] * a[i]                                            // dI_i
            let ai = a[i]
            for c in 0..<dh {
                let qc = qRow[c]
                dSumK[c] += dFlow * (qc + eps)
                let total = dqRow[c] + ai * dSumAQ[c] + dFlow * sumK[c] + dSumQ[c]
                dqRow[c] = total * qc * (1 - qc)
            }
        }

        // Per source: dK_j += dΣK and apply σ'.
        for j in 0..<s {
            let kRow = K + j &* d, dkRow = dK + j &* d
            for c in 0..<dh {
                let kc = kRow[c]
                dkRow[c] = (dkRow[c] + dSumK[c]) * kc * (1 - kc)
            }
        }
    }
}
