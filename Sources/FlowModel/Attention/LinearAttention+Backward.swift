import TensorKernels

// Backward of linear attention, per batch element and head, with g_i = dA_i, F_i = φ(q_i),
// G_j = φ(k_j), N_i = F_iᵀ·KV_i the numerator (KV_i = Σ_j G_j ⊗ v_j over the visible j) and
// D_i = F_i·Σ_j G_j + ε the denominator, A_i = z_i N_i, z_i = 1 / D_i:
//
//   M_i  = KV_i · g_i                      dz_i = F_i·M_i = g_i·N_i,   dD_i = −dz_i z_i²
//   dF_i = z_i M_i + dD_i Σ_j G_j          (Σ over the visible j)
//   dG_j = Σ_i (v_j·z_i g_i) F_i + Σ_i dD_i F_i          dv_j = Σ_i (G_j·F_i) z_i g_i
//   (Σ_i over the i that see j)            dq = dF ⊙ φ'(q),  dk = dG ⊙ φ'(k)
//
// Non-causal: M = g KVᵀ, dKV = Fᵀ (z ⊙ g), dG = V dKVᵀ, dv = G dKV — four GEMMs.
// Causal: the three sums over visible pairs are chunked causal products (forward for M, reverse
// for dG and dv), the key sum is a running prefix and Σ_{i≥j} dD_i F_i a running suffix.
extension LinearAttention {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func backward(outputGradient: UnsafePointer<Scalar>,
                         queryGradient: UnsafeMutablePointer<Scalar>,
                         keyGradient: UnsafeMutablePointer<Scalar>,
                         valueGradient: UnsafeMutablePointer<Scalar>) {
        precondition(hasForward, "LinearAttention.backward called before forward")
        let (paddedL, paddedS, d, dh) = (shape.queryLength, shape.keyLength, shape.modelWidth, shape.headWidth)
        let gScaled = scaledOutputGradient.pointer   // [L, d_h]
        let dDen = denominatorGradient.pointer       // [L]
        let running = runningSum.pointer             // [d_h]
        for b in 0..<shape.batch {
            let (l, s) = validCounts(b)   // real positions; pad rows get zero gradients
            if l < paddedL {
                (queryGradient + (b &* paddedL &+ l) &* d).update(repeating: 0, count: (paddedL &- l) &* d)
            }
            if s < paddedS {
                (keyGradient + (b &* paddedS &+ s) &* d).update(repeating: 0, count: (paddedS &- s) &* d)
                (valueGradient + (b &* paddedS &+ s) &* d).update(repeating: 0, count: (paddedS &- s) &* d)
            }
            for h in 0..<shape.heads {
                let headIndex = b &* shape.heads &+ h
                let sinkRows = b &* paddedL &* d &+ h &* dh, sourceRows = b &* paddedS &* d &+ h &* dh
                let fq = UnsafePointer(queryFeatures.pointer + sinkRows)
                let fk = UnsafePointer(keyFeatures.pointer + sourceRows)
                let v = UnsafePointer(savedValues.pointer + sourceRows)
                let g = outputGradient + sinkRows
                let dQ = queryGradient + sinkRows, dK = keyGradient + sourceRows, dV = valueGradient + sourceRows
                let z = normaliser.pointer + headIndex &* paddedL
                for i in 0..<l {
                    let from = g + i &* d, to = gScaled + i &* dh
                    for c in 0..<dh { to[c] = z[i] * from[c] }
                }
                if let product {
                    product.run(reverse: false, length: l, a: g, lda: d, b: v, ldb: d, c: fk, ldc: d,
                                into: dQ, ldo: d)
                    runningSum.zero()
                    for i in 0..<l {
                        addScaled(1, fk + i &* d, to: running, count: dh)
                        finishQueryRow(i, fq: fq, dQ: dQ, z: z, keySum: UnsafePointer(running), dDen: dDen)
                    }
                    product.run(reverse: true, length: l, a: v, lda: d, b: UnsafePointer(gScaled), ldb: dh,
                                c: fq, ldc: d, into: dK, ldo: d)
                    product.run(reverse: true, length: l, a: fk, lda: d, b: fq, ldb: d,
                                c: UnsafePointer(gScaled), ldc: dh, into: dV, ldo: d)
                    runningSum.zero()
                    for j in stride(from: l &- 1, through: 0, by: -1) {
                        addScaled(dDen[j], fq + j &* d, to: running, count: dh)
                        finishKeyRow(j, fk: fk, dK: dK, keySumGradient: UnsafePointer(running))
                    }
                } else {
                    let kv = UnsafePointer(keyValue.pointer + headIndex &* dh &* dh)
                    let sumK = UnsafePointer(keySum.pointer + headIndex &* dh)
                    let dKV = keyValueGradient.pointer
                    matmul(g, kv, transposeB: true, into: dQ, m: l, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
                    runningSum.zero()
                    for i in 0..<l {
                        finishQueryRow(i, fq: fq, dQ: dQ, z: z, keySum: sumK, dDen: dDen)
                        addScaled(dDen[i], fq + i &* d, to: running, count: dh)
                    }
                    matmul(fq, transposeA: true, UnsafePointer(gScaled), into: dKV, m: dh, n: dh, k: l,
                           lda: d, ldb: dh, ldc: dh)
                    matmul(v, UnsafePointer(dKV), transposeB: true, into: dK, m: s, n: dh, k: dh,
                           lda: d, ldb: dh, ldc: d)
                    matmul(fk, UnsafePointer(dKV), into: dV, m: s, n: dh, k: dh, lda: d, ldb: dh, ldc: d)
                    for j in 0..<s { finishKeyRow(j, fk: fk, dK: dK, keySumGradient: UnsafePointer(running)) }
                }
            }
        }
    }

    /// dQ_i holds M_i on entry: computes dz_i, dD_i (saved in `dDen`) and writes dq_i.
    @inline(__always)
    private func finishQueryRow(_ i: Int, fq: UnsafePointer<Scalar>, dQ: UnsafeMutablePointer<Scalar>,
                                z: UnsafePointer<Scalar>, keySum: UnsafePointer<Scalar>,
                                dDen: UnsafeMutablePointer<Scalar>) {
        let d = shape.modelWidth, dh = shape.headWidth
        let fRow = fq + i &* d, row = dQ + i &* d
        let dz = dot(fRow, UnsafePointer(row), count: dh)
        let zi = z[i]
        let dD = -dz * zi * zi
        dDen[i] = dD
        for c in 0..<dh { row[c] = (zi * row[c] + dD * keySum[c]) * Self.featureDerivative(fRow[c]) }
    }

    /// dK_j holds the product part on entry: adds the key-sum gradient and applies φ'.
    @inline(__always)
    private func finishKeyRow(_ j: Int, fk: UnsafePointer<Scalar>, dK: UnsafeMutablePointer<Scalar>,
                              keySumGradient: UnsafePointer<Scalar>) {
        let d = shape.modelWidth, dh = shape.headWidth
        let fRow = fk + j &* d, row = dK + j &* d
        for c in 0..<dh { row[c] = (row[c] + keySumGradient[c]) * Self.featureDerivative(fRow[c]) }
    }
}
