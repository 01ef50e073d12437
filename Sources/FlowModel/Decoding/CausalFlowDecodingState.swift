import TensorKernels

/// Causal Flow-Attention as a recurrence (the equations of `CausalFlowAttention`). Every
/// normaliser is a prefix sum, and comp_j depends only on positions ≤ j, so after position i the
/// whole past is summarised per head by
///
///     Σ_{j≤i} K_j + ε,  Σ Q_j + ε,  Σ b_j K_j + ε,  Σ a_j Q_j + ε      (d_h each; `runningSums` [4, D])
///     Σ_{j≤i} exp(Ô_j)                                                  (`expSum` [H])
///     State = Σ_{j≤i} K_j ⊗ (comp_j v_j)                                (`states` [H, d_h, d_h])
///     n = i + 1                                                         (`position`)
///
/// — 4·D + H + H·d_h² numbers, whatever the position. A block of new positions is processed
/// exactly like one chunk of the training core: σ of its q and k, the prefix-sum recurrence
/// position by position, alloc and comp, then per head `ChunkedCausalProduct.chunkStep`
/// (State from the earlier blocks plus a masked product inside the block) and State += Kᵀ(comp⊙v).
/// A prompt goes in chunks; generation appends one row at a time: O(H·d_h²) work per token.
final class CausalFlowDecodingState<Scalar: TensorScalar>: AttentionDecodingState {
    static var epsilon: Scalar { 1e-6 }

    let modelWidth: Int, heads: Int, headWidth: Int, maxRows: Int
    private(set) var position = 0

    // The summary of every earlier position.
    let runningSums: Tensor<Scalar>   // Σ K + ε, Σ Q + ε, Σ bK + ε, Σ aQ + ε    [4, D]
    let expSum: Tensor<Scalar>        // Σ exp(Ô)                               [H]
    let states: Tensor<Scalar>        // Σ K ⊗ (comp v)                         [H, d_h, d_h]

    // One block's workspace.
    let product: ChunkedCausalProduct<Scalar>
    let sinkKernel: Tensor<Scalar>     // Q = σ(q)               [maxRows, D]
    let sourceKernel: Tensor<Scalar>   // K = σ(k)               [maxRows, D]
    let weightedValues: Tensor<Scalar> // comp ⊙ v               [maxRows, D]
    let scaledQueries: Tensor<Scalar>  // (alloc / I) Q          [maxRows, D]
    let incoming: Tensor<Scalar>       // I                      [maxRows, H]
    let allocation: Tensor<Scalar>     // Î, then σ(Î)           [maxRows, H]
    let competition: Tensor<Scalar>    // Ô, then comp           [maxRows, H]

    init(modelWidth d: Int, heads h: Int, maxRows: Int) {
        precondition(maxRows > 0 && h > 0 && d % h == 0, "CausalFlowDecodingState: bad sizes D=\(d) H=\(h) rows=\(maxRows)")
        modelWidth = d
        heads = h
        headWidth = d / h
        self.maxRows = maxRows
        runningSums = Tensor(4, d)
        expSum = Tensor(h)
        states = Tensor(h, d / h, d / h)
        product = ChunkedCausalProduct(chunk: maxRows, keyWidth: d / h, valueWidth: d / h)
        sinkKernel = Tensor(maxRows, d)
        sourceKernel = Tensor(maxRows, d)
        weightedValues = Tensor(maxRows, d)
        scaledQueries = Tensor(maxRows, d)
        incoming = Tensor(maxRows, h)
        allocation = Tensor(maxRows, h)
        competition = Tensor(maxRows, h)
        reset()
    }

    func reset() {
        position = 0
        runningSums.fill(Self.epsilon)
        expSum.zero()
        states.zero()
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func append(queries q: UnsafePointer<Scalar>, keys k: UnsafePointer<Scalar>, values v: UnsafePointer<Scalar>,
                rows: Int, output out: UnsafeMutablePointer<Scalar>) {
        precondition(rows >= 1 && rows <= maxRows, "append: \(rows) rows for blocks of at most \(maxRows)")
        let eps = Self.epsilon
        let (d, dh) = (modelWidth, headWidth)
        let Q = sinkKernel.pointer, K = sourceKernel.pointer, weightedV = weightedValues.pointer
        let scaledQ = scaledQueries.pointer
        let I = incoming.pointer, alloc = allocation.pointer, comp = competition.pointer
        let cumK = runningSums.pointer, cumQ = cumK + d, cumBK = cumK + 2 &* d, cumAQ = cumK + 3 &* d
        let sums = expSum.pointer

        DispatchedKernels.sigmoid(q, into: Q, count: rows &* d)
        DispatchedKernels.sigmoid(k, into: K, count: rows &* d)
        // The recurrence: I_i, a_i, b_i and the arguments of σ (Î_i) and of exp (Ô_i).
        for r in 0..<rows {
            let n = Scalar(position &+ r &+ 1)
            let qRow = UnsafePointer(Q + r &* d), kRow = UnsafePointer(K + r &* d)
            addScaled(1, kRow, to: cumK, count: d)
            addScaled(1, qRow, to: cumQ, count: d)
            for h in 0..<heads {
                let o = h &* dh, index = r &* heads &+ h
                let sinkFlow = shiftedDot(qRow + o, plus: eps, UnsafePointer(cumK + o), count: dh)
                let sourceFlow = shiftedDot(kRow + o, plus: eps, UnsafePointer(cumQ + o), count: dh)
                I[index] = sinkFlow
                addScaled(n / sourceFlow, kRow + o, to: cumBK + o, count: dh)
                addScaled(n / sinkFlow, qRow + o, to: cumAQ + o, count: dh)
                alloc[index] = shiftedDot(qRow + o, plus: eps, UnsafePointer(cumBK + o), count: dh) / n
                comp[index] = shiftedDot(kRow + o, plus: eps, UnsafePointer(cumAQ + o), count: dh) / n
            }
        }
        // alloc = σ(Î); comp_i = n_i exp(clamp Ô_i) / Σ_{j≤i} exp(clamp Ô_j).
        let count = rows &* heads
        DispatchedKernels.sigmoid(alloc, into: alloc, count: count)
        clampToUnit(comp, into: comp, count: count)
        exponential(comp, into: comp, count: count)
        for r in 0..<rows {
            let n = Scalar(position &+ r &+ 1)
            for h in 0..<heads {
                let index = r &* heads &+ h
                let e = comp[index]
                let running = sums[h] + e
                sums[h] = running
                comp[index] = n * e / running
            }
        }
        // Vc_i = comp_i v_i and s_i Q_i with s_i = alloc_i / I_i.
        for r in 0..<rows {
            for h in 0..<heads {
                let o = r &* d &+ h &* dh, index = r &* heads &+ h
                scaleCopy(v + o, by: comp[index], into: weightedV + o, count: dh)
                scaleCopy(UnsafePointer(Q + o), by: alloc[index] / I[index], into: scaledQ + o, count: dh)
            }
        }
        // A_i = s_i Q_iᵀ (State + Σ_{block j≤i} K_j ⊗ Vc_j) per head; then State += K_blockᵀ Vc_block.
        out.update(repeating: 0, count: rows &* d)
        for h in 0..<heads {
            let o = h &* dh, state = states.pointer + h &* dh &* dh
            product.chunkStep(reverse: false, rows: rows, a: UnsafePointer(scaledQ + o), lda: d,
                              b: UnsafePointer(K + o), ldb: d, c: UnsafePointer(weightedV + o), ldc: d,
                              state: position == 0 ? nil : UnsafePointer(state), into: out + o, ldo: d,
                              accumulate: true)
            product.accumulateState(rows: rows, b: UnsafePointer(K + o), ldb: d, c: UnsafePointer(weightedV + o),
                                    ldc: d, into: state, reset: position == 0)
        }
        position &+= rows
    }
}
