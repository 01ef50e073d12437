import Foundation

/// Flow-Attention straight from the equations of `shared/spec/flow-attention.md`, in Double,
/// one batch element and head at a time, with explicit loops and no chunking or fusion:
/// the independent reference the optimised cores are compared with.
/// Inputs q [B, L, D], k and v [B, S, D]; returns A [B, L, D].
func naiveFlowAttention(q: [Double], k: [Double], v: [Double], batch: Int, queryLength l: Int,
                        keyLength s: Int, modelWidth d: Int, heads: Int, causal: Bool) -> [Double] {
    let eps = 1e-6
    let dh = d / heads
    func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    func shiftedDot(_ u: [Double], _ w: [Double]) -> Double {
        zip(u, w).reduce(0) { $0 + ($1.0 + eps) * ($1.1 + eps) }
    }
    /// Σ_{j in range} weights_j · rows_j
    func weightedSum(_ rows: [[Double]], _ weights: [Double], _ range: Range<Int>) -> [Double] {
        var sum = [Double](repeating: 0, count: dh)
        for j in range { for c in 0..<dh { sum[c] += weights[j] * rows[j][c] } }
        return sum
    }
    var out = [Double](repeating: 0, count: batch * l * d)
    for b in 0..<batch {
        for h in 0..<heads {
            let Q = (0..<l).map { i in (0..<dh).map { c in sigmoid(q[(b * l + i) * d + h * dh + c]) } }
            let K = (0..<s).map { j in (0..<dh).map { c in sigmoid(k[(b * s + j) * d + h * dh + c]) } }
            let V = (0..<s).map { j in (0..<dh).map { c in v[(b * s + j) * d + h * dh + c] } }
            let ones = [Double](repeating: 1, count: max(l, s))
            // Visible sources of sink i and visible sinks of source j.
            func sources(_ i: Int) -> Range<Int> { causal ? 0..<(i + 1) : 0..<s }
            func sinks(_ j: Int) -> Range<Int> { causal ? 0..<(j + 1) : 0..<l }
            func count(_ i: Int) -> Double { causal ? Double(i + 1) : 1 }
            let I = (0..<l).map { i in shiftedDot(Q[i], weightedSum(K, ones, sources(i))) }
            let O = (0..<s).map { j in shiftedDot(K[j], weightedSum(Q, ones, sinks(j))) }
            let a = (0..<l).map { count($0) / I[$0] }
            let bb = (0..<s).map { count($0) / O[$0] }
            let conservedSink = (0..<l).map { i in shiftedDot(Q[i], weightedSum(K, bb, sources(i))) / count(i) }
            let conservedSource = (0..<s).map { j in
                min(max(shiftedDot(K[j], weightedSum(Q, a, sinks(j))) / count(j), -1), 1)
            }
            let allocation = conservedSink.map { sigmoid(causal ? $0 : $0 * Double(l) / Double(s)) }
            let competition: [Double] = (0..<s).map { j in
                let denominator = (causal ? 0..<(j + 1) : 0..<s).reduce(0.0) { $0 + Foundation.exp(conservedSource[$1]) }
                return (causal ? Double(j + 1) : Double(s)) * Foundation.exp(conservedSource[j]) / denominator
            }
            for i in 0..<l {
                // A_i = alloc_i · (Q_i / I_i)ᵀ · Σ_j K_j ⊗ (comp_j v_j)
                for e in 0..<dh {
                    var total = 0.0
                    for j in sources(i) {
                        var qk = 0.0
                        for c in 0..<dh { qk += Q[i][c] * K[j][c] }
                        total += qk * competition[j] * V[j][e]
                    }
                    out[(b * l + i) * d + h * dh + e] = allocation[i] / I[i] * total
                }
            }
        }
    }
    return out
}
