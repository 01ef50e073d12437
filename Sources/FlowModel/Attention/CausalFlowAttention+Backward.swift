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
// The suffix sums run in one backward pass; the prefix-sum terms in one final forward pass that
// rebuilds P^K, P^Q, P^bK, P^aQ, so only O(d_h) vectors and O(L) scalars are kept per head.
extension CausalFlowAttention {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "CausalFlowAttention.backward called before forward")
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
        let (l, d, dh) = (shape.queryLength, shape.modelWidth, shape.headWidth)
        let headIndex = b &* shape.heads &+ h
        let rows = b &* l &* d &+ h &* dh
        let Q = UnsafePointer(sinkKernel.pointer + rows)              // [L, d_h], stride D
        let K = UnsafePointer(sourceKernel.pointer + rows)
        let weightedV = UnsafePointer(weightedValues.pointer + rows)
        let g = outputGradient + rows
        let dQ = queryGradient + rows, dK = keyGradient + rows, dV = valueGradient + rows
        let scalars = headIndex &* l
        let I = incoming.pointer + scalars, O = outgoing.pointer + scalars
        let alloc = allocation.pointer + scalars, comp = competition.pointer + scalars
        let conserved = conservedSource.pointer + scalars, Z = expPrefixSum.pointer + scalars
        let gScaled = scaledOutputGradient.pointer                    // s_i g_i [L, d_h]
        let ds = positionGradients.pointer                            // ds_i    [L]
        let dComp = ds + l                                            // dcomp_i [L]
        let hSource = ds + 2 &* l                                     // h_i     [L]
        let hSink = ds + 3 &* l                                       // h'_i    [L]
        let dIncoming = ds + 4 &* l                                   // dI_i    [L]
        let dOutgoing = ds + 5 &* l                                   // dO_i    [L]

        for i in 0..<l {
            let from = g + i &* d, to = gScaled + i &* dh, si = alloc[i] / I[i]
            for c in 0..<dh { to[c] = si * from[c] }
        }
        // M into dQ, then ds_i and dQ_i = s_i M_i.
        product.run(reverse: false, length: l, a: g, lda: d, b: weightedV, ldb: d, c: K, ldc: d,
                    into: dQ, ldo: d)
        for i in 0..<l {
            let mRow = dQ + i &* d
            ds[i] = dot(Q + i &* d, UnsafePointer(mRow), count: dh)
            scale(mRow, by: alloc[i] / I[i], count: dh)
        }
        product.run(reverse: true, length: l, a: weightedV, lda: d, b: UnsafePointer(gScaled), ldb: dh,
                    c: Q, ldc: d, into: dK, ldo: d)
        product.run(reverse: true, length: l, a: K, lda: d, b: Q, ldb: d,
                    c: UnsafePointer(gScaled), ldc: dh, into: dV, ldo: d)
        for j in 0..<l {
            let dvRow = dV + j &* d
            dComp[j] = dot(weightedV + j &* d, UnsafePointer(dvRow), count: dh) / comp[j]
            scale(dvRow, by: comp[j], count: dh)
        }

        // Backward pass over positions: suffix sums U, W, X, Y.
        let U = runningSums.pointer, W = U + dh, X = U + 2 &* dh, Y = U + 3 &* dh
        runningSums.zero()
        var competitionSuffix: Scalar = 0   // R
        for i in stride(from: l &- 1, through: 0, by: -1) {
            let n = Scalar(i &+ 1)
            let qRow = Q + i &* d, kRow = K + i &* d
            competitionSuffix += dComp[i] * comp[i] / Z[i]
            let e = comp[i] * Z[i] / n
            let raw = conserved[i]
            let dConservedSource = raw >= -1 && raw <= 1 ? comp[i] * dComp[i] - e * competitionSuffix : 0
            let hi = dConservedSource / n
            let hPrime = ds[i] / I[i] * alloc[i] * (1 - alloc[i]) / n
            for c in 0..<dh {
                U[c] += hi * (kRow[c] + eps)
                W[c] += hPrime * (qRow[c] + eps)
            }
            let da = dot(qRow, U, count: dh), db = dot(kRow, W, count: dh)
            let ai = n / I[i], bi = n / O[i]
            let dI = -ds[i] * alloc[i] / (I[i] * I[i]) - da * ai / I[i]
            let dO = -db * bi / O[i]
            let dqRow = dQ + i &* d, dkRow = dK + i &* d
            for c in 0..<dh {
                X[c] += dI * (qRow[c] + eps)
                Y[c] += dO * (kRow[c] + eps)
                dqRow[c] += ai * U[c] + Y[c]
                dkRow[c] += bi * W[c] + X[c]
            }
            hSource[i] = hi
            hSink[i] = hPrime
            dIncoming[i] = dI
            dOutgoing[i] = dO
        }

        // Forward pass: rebuild the prefix sums as in the forward, add their terms, apply σ'.
        let cumK = runningSums.pointer, cumQ = cumK + dh, cumBK = cumK + 2 &* dh, cumAQ = cumK + 3 &* dh
        runningSums.fill(eps)
        for i in 0..<l {
            let n = Scalar(i &+ 1)
            let qRow = Q + i &* d, kRow = K + i &* d, dqRow = dQ + i &* d, dkRow = dK + i &* d
            let ai = n / I[i], bi = n / O[i]
            let hi = hSource[i], hPrime = hSink[i], dI = dIncoming[i], dO = dOutgoing[i]
            for c in 0..<dh {
                let qc = qRow[c], kc = kRow[c]
                cumK[c] += kc
                cumQ[c] += qc
                cumBK[c] += bi * kc
                cumAQ[c] += ai * qc
                let totalQ = dqRow[c] + hPrime * cumBK[c] + dI * cumK[c]
                let totalK = dkRow[c] + hi * cumAQ[c] + dO * cumQ[c]
                dqRow[c] = totalQ * qc * (1 - qc)
                dkRow[c] = totalK * kc * (1 - kc)
            }
        }
    }
}
