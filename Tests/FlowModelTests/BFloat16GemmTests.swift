import Testing
import TensorKernels
import TestSupport
@testable import FlowModel

// The bf16 GEMM (both paths: VDPBF16PS when the CPU has AVX512_BF16, and the portable one)
// against a naive Double product of the bf16-rounded operands, on shapes that hit every edge of
// the kernel's blocking: partial tiles (MR = 12, NR = 32), odd k (a zero-padded k-pair), several
// k blocks (KC = 512), row blocks (MC = 144) and column blocks (NC = 2048), all transposes,
// padded leading dimensions, alpha, beta and bias.

/// Deterministic values in [−1, 1) with full Float precision (so rounding to bf16 matters).
private func values(_ count: Int, seed: UInt64) -> [Float] { xorshiftFloats(count, seed: seed) }

struct BFloat16GemmCase: CustomTestStringConvertible, Sendable {
    var m: Int, n: Int, k: Int
    var transposeA = false, transposeB = false
    var alpha: Float = 1, beta: Float = 0
    var padding = 0
    var withBias = false
    var testDescription: String {
        "\(m)×\(n)×\(k) \(transposeA ? "Aᵀ" : "A")·\(transposeB ? "Bᵀ" : "B") α=\(alpha) β=\(beta) pad \(padding)"
            + (withBias ? " + bias" : "")
    }
}

private let cases: [BFloat16GemmCase] = {
    var list: [BFloat16GemmCase] = []
    for (m, n, k) in [(1, 1, 1), (12, 32, 2), (13, 33, 7), (11, 31, 513), (150, 70, 301), (145, 2100, 20),
                      (64, 96, 1030)] {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                list.append(BFloat16GemmCase(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB))
            }
        }
    }
    list.append(BFloat16GemmCase(m: 37, n: 45, k: 301, beta: 1, padding: 5))
    list.append(BFloat16GemmCase(m: 37, n: 45, k: 300, transposeA: true, transposeB: true, alpha: 0.5, beta: -2,
                                 padding: 3))
    list.append(BFloat16GemmCase(m: 30, n: 40, k: 0, beta: 0.5))
    list.append(BFloat16GemmCase(m: 150, n: 70, k: 300, transposeB: true, withBias: true))
    list.append(BFloat16GemmCase(m: 13, n: 33, k: 7, transposeB: true, padding: 2, withBias: true))
    list.append(BFloat16GemmCase(m: 30, n: 40, k: 10, alpha: 0, beta: 1))
    return list
}()

/// The paths this CPU can run.
private let paths: [BFloat16Gemm.Path] = KernelVariant.cpuSupportsAVX512BF16 ? [.vdpbf16ps, .portable] : [.portable]

private struct Operands {
    let g: BFloat16GemmCase
    let lda: Int, ldb: Int, ldc: Int
    var a: [Float], b: [Float], c: [Float], bias: [Float]

    init(_ g: BFloat16GemmCase) {
        self.g = g
        let (aRows, aColumns) = g.transposeA ? (g.k, g.m) : (g.m, g.k)
        let (bRows, bColumns) = g.transposeB ? (g.n, g.k) : (g.k, g.n)
        lda = aColumns + g.padding
        ldb = bColumns + g.padding
        ldc = g.n + g.padding
        a = values(max(aRows * lda, 1), seed: 1)
        b = values(max(bRows * ldb, 1), seed: 2)
        c = values(g.m * ldc, seed: 3)
        if g.beta == 0 { for i in c.indices { c[i] = .nan } }   // beta = 0 must ignore C
        bias = values(g.n, seed: 9)
    }

    /// The product with op(A) and/or op(B) stored as bf16 bit patterns (the rounded values, same
    /// leading dimensions) instead of Floats.
    func runStoredAsBFloat16(a aAsBits: Bool, b bAsBits: Bool, _ path: BFloat16Gemm.Path,
                             threads: Int = 1) -> [Float] {
        var out = c
        let aBits = a.map { BFloat16.bits(roundingToNearestEven: $0) }
        let bBits = b.map { BFloat16.bits(roundingToNearestEven: $0) }
        a.withUnsafeBufferPointer { aFloats in
            b.withUnsafeBufferPointer { bFloats in
                aBits.withUnsafeBufferPointer { aStored in
                    bBits.withUnsafeBufferPointer { bStored in
                        bias.withUnsafeBufferPointer { biasBuffer in
                            let aOperand: ProductOperand<Float> = aAsBits ? .bfloat16(aStored.baseAddress!)
                                                                          : .values(aFloats.baseAddress!)
                            let bOperand: ProductOperand<Float> = bAsBits ? .bfloat16(bStored.baseAddress!)
                                                                          : .values(bFloats.baseAddress!)
                            BFloat16Gemm.multiply(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n,
                                                  k: g.k, alpha: g.alpha, a: aOperand, lda: lda, b: bOperand,
                                                  ldb: ldb, beta: g.beta, c: &out, ldc: ldc,
                                                  bias: g.withBias ? biasBuffer.baseAddress : nil, threads: threads,
                                                  path: path)
                        }
                    }
                }
            }
        }
        return out
    }

    func run(_ path: BFloat16Gemm.Path, threads: Int = 1) -> [Float] {
        var out = c
        bias.withUnsafeBufferPointer { biasBuffer in
            BFloat16Gemm.multiply(transposeA: g.transposeA, transposeB: g.transposeB, m: g.m, n: g.n, k: g.k,
                                  alpha: g.alpha, a: a, lda: lda, b: b, ldb: ldb, beta: g.beta, c: &out, ldc: ldc,
                                  bias: g.withBias ? biasBuffer.baseAddress : nil, threads: threads, path: path)
        }
        return out
    }

    /// Exact (Double) alpha · Σ bf16(a)·bf16(b) + old C / bias at (i, j), and the fp32-accumulation
    /// bound: a k-term fp32 sum is within k·2⁻²⁴ of exact relative to Σ|terms| (products of two
    /// bf16 values are exact in fp32), plus the rounding of alpha, beta·C and the bias.
    func expected(_ i: Int, _ j: Int) -> (value: Double, bound: Double) {
        var sum = 0.0, magnitude = 0.0
        for p in 0..<g.k {
            let x = Double(BFloat16.rounded(g.transposeA ? a[p * lda + i] : a[i * lda + p]))
            let y = Double(BFloat16.rounded(g.transposeB ? b[j * ldb + p] : b[p * ldb + j]))
            sum += x * y
            magnitude += abs(x * y)
        }
        let old = g.withBias ? Double(bias[j]) : g.beta == 0 ? 0 : Double(g.beta) * Double(c[i * ldc + j])
        let bound = (Double(g.k) + 3) * 6e-8 * (abs(Double(g.alpha)) * magnitude + abs(old)) + 1e-30
        return (Double(g.alpha) * sum + old, bound)
    }
}

@Suite("bf16 GEMM against a naive product of the bf16-rounded operands")
struct BFloat16GemmTests {
    @Test(arguments: cases)
    func product(_ g: BFloat16GemmCase) {
        let operands = Operands(g)
        for path in paths {
            let got = operands.run(path)
            var worst = 0.0
            for i in 0..<g.m {
                for j in 0..<operands.ldc {
                    let value = got[i * operands.ldc + j]
                    if j >= g.n {   // padding columns stay untouched
                        let old = operands.c[i * operands.ldc + j]
                        #expect(value.bitPattern == old.bitPattern || (value.isNaN && old.isNaN))
                        continue
                    }
                    let (expected, bound) = operands.expected(i, j)
                    let error = abs(Double(value) - expected) / bound
                    if !(error <= worst) { worst = error }   // a NaN makes worst NaN, and the check fails
                }
            }
            #expect(worst <= 1, "\(path): error is \(worst)× the fp32-accumulation bound")
        }
    }

    @Test("the VDPBF16PS and portable paths agree within the bound",
          .enabled(if: KernelVariant.cpuSupportsAVX512BF16, "this CPU has no AVX512_BF16"))
    func pathsAgree() {
        for g in [BFloat16GemmCase(m: 150, n: 70, k: 301, transposeB: true),
                  BFloat16GemmCase(m: 96, n: 256, k: 1030, transposeA: true)] {
            let operands = Operands(g)
            let fast = operands.run(.vdpbf16ps), portable = operands.run(.portable)
            var worst = 0.0
            for i in 0..<g.m {
                for j in 0..<g.n {
                    let difference = abs(Double(fast[i * g.n + j]) - Double(portable[i * g.n + j]))
                    let error = difference / (2 * operands.expected(i, j).bound)
                    if !(error <= worst) { worst = error }
                }
            }
            #expect(worst <= 1, "\(g): paths differ by \(worst)× twice the bound")
            // The operands really are rounded: row 0 differs from the product of the unrounded
            // operands by more than the accumulation bound somewhere.
            var rounded = 0
            for j in 0..<g.n {
                var exact = 0.0
                for p in 0..<g.k {
                    exact += Double(g.transposeA ? operands.a[p * operands.lda] : operands.a[p])
                        * Double(g.transposeB ? operands.b[j * operands.ldb + p] : operands.b[p * operands.ldb + j])
                }
                if abs(Double(fast[j]) - exact) > operands.expected(0, j).bound { rounded += 1 }
            }
            #expect(rounded > 0)
        }
    }

    @Test("NaN and infinities in the operands reach C")
    func specialValues() {
        let m = 13, n = 33, k = 9
        for path in paths {
            for transposeA in [false, true] {
                var a = [Float](repeating: 0.5, count: m * k)
                let b = [Float](repeating: 0.25, count: k * n)
                // op(A)[0, 3] = +∞, op(A)[1, 4] = NaN, op(A)[2, 0] = −∞.
                func set(_ i: Int, _ p: Int, _ value: Float) { a[transposeA ? p * m + i : i * k + p] = value }
                set(0, 3, .infinity); set(1, 4, .nan); set(2, 0, -.infinity)
                var c = [Float](repeating: 0, count: m * n)
                BFloat16Gemm.multiply(transposeA: transposeA, transposeB: false, m: m, n: n, k: k, a: a,
                                      lda: transposeA ? m : k, b: b, ldb: n, beta: 0, c: &c, ldc: n, path: path)
                for j in 0..<n {
                    #expect(c[j] == .infinity, "\(path)")
                    #expect(c[n + j].isNaN, "\(path)")
                    #expect(c[2 * n + j] == -.infinity, "\(path)")
                    let finite = Double(c[3 * n + j]), exact = Double(k) * 0.125
                    #expect(abs(finite - exact) <= 1e-6 * exact, "\(path)")
                }
            }
        }
    }

    /// An operand stored as bf16 bits gives bitwise the product of the same operand stored as
    /// Floats (the GEMM rounds those to the same bits as it packs them), on every case above
    /// (every transpose, odd shapes and k, padding, alpha, beta, bias), on both paths.
    @Test(arguments: cases)
    func operandsStoredAsBFloat16(_ g: BFloat16GemmCase) {
        let operands = Operands(g)
        for path in paths {
            let reference = operands.run(path).map(\.bitPattern)
            for (aBits, bBits) in [(true, false), (false, true), (true, true)] {
                let stored = operands.runStoredAsBFloat16(a: aBits, b: bBits, path).map(\.bitPattern)
                #expect(stored == reference, "\(path), A as bf16: \(aBits), B as bf16: \(bBits)")
            }
        }
    }

    @Test("bf16-stored operands split over 2 and 3 threads give the one-thread result",
          .enabled(if: KernelVariant.cpuSupportsAVX512BF16, "this CPU has no AVX512_BF16"))
    func storedOperandsOnThreads() {
        for g in [BFloat16GemmCase(m: 200, n: 300, k: 257, transposeB: true),     // columns split
                  BFloat16GemmCase(m: 300, n: 40, k: 130, transposeA: true)] {    // rows split
            let operands = Operands(g)
            let one = operands.run(.vdpbf16ps).map(\.bitPattern)
            for threads in [2, 3] {
                #expect(operands.runStoredAsBFloat16(a: true, b: true, .vdpbf16ps, threads: threads)
                    .map(\.bitPattern) == one)
            }
        }
    }

    @Test("2 and 3 threads give bitwise the one-thread result",
          .enabled(if: KernelVariant.cpuSupportsAVX512BF16, "this CPU has no AVX512_BF16"))
    func threadsAreBitwiseEqual() {
        for g in [BFloat16GemmCase(m: 200, n: 300, k: 257, transposeB: true),
                  BFloat16GemmCase(m: 300, n: 40, k: 130, transposeA: true, withBias: false)] {
            let operands = Operands(g)
            let one = operands.run(.vdpbf16ps).map(\.bitPattern)
            #expect(operands.run(.vdpbf16ps, threads: 2).map(\.bitPattern) == one)
            #expect(operands.run(.vdpbf16ps, threads: 3).map(\.bitPattern) == one)
        }
    }
}
