// Single-precision matrix product for CPUs with AVX-512 (the x86-64-v4 level), built with
// `-Xcc -march=x86-64-v4` (Package.swift) and used by the model's Linear layers when
// `KernelVariant.active` is `.x86_64_v4` (FlowModel/Kernels/DispatchedKernels.swift).
//
// Why a GEMM of our own: this machine's OpenBLAS (0.3.21) runs its Haswell (AVX2) kernels, which
// reach about 125 GFLOP/s on one core; its own AVX-512 kernels are not trusted on every CPU in
// this version. On a core with full-width AVX-512 units the same arithmetic can go about twice as
// fast, and this file reaches that with one register-blocked kernel (README "Performance").
//
// The method is the usual blocked GEMM (Goto; BLIS):
//
//     C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C        row-major, op = identity or ᵀ
//
//     for jc in 0..<n step NC                      B block: KC × NC, packed once, reused for all of m
//       for pc in 0..<k step KC
//         pack op(B)[pc..<pc+KC, jc..<jc+NC] into NR-column panels   [⌈NC/NR⌉][KC][NR]
//         for ic in 0..<m step MC                  A block: MC × KC, stays in L2
//           (alpha ≠ 1 only: pack alpha · op(A) block into MR-row panels [⌈MC/MR⌉][KC][MR])
//           for each NR panel of B, for each MR rows of A:
//             C tile [MR, NR] (+)= A rows · B panel        the micro-kernel: 24 zmm accumulators
//
// A is read where it is (`MatrixA`): op(A) = A gives 12 row pointers, op(A) = Aᵀ
// a strided panel; reading A costs what packing it would, and its 12 rows stay in cache for every
// B panel. B panels are zero-padded to whole NR and a partial bottom tile of A is copied into a
// zero-padded panel, so the micro-kernel always computes a full tile; tiles on the right or
// bottom edge of C go through a scratch tile and only their valid part is written. The first k
// block of a product with beta = 0 stores instead of adding (plus the bias, when given). Every element of C is summed over k in the same order (KC blocks in sequence, each a
// straight sum in one register lane) whatever m, n and the tile position: a row's result does
// not depend on how many rows the product has, so ranks that split a batch differently compute
// the same numbers.
//
// Nothing here calls another module's generic code, so this object defines only its own symbols
// (jobs/check-kernels.sh checks it): all AVX-512 code stays inside it.
#if arch(x86_64)
#if canImport(Glibc)
import Glibc
#endif

/// A 16-lane Float vector: one zmm register.
typealias Lanes = SIMD16<Float>

public enum AVX512Gemm {
    /// Rows of C per micro-tile.
    public static let mr = 12
    /// Columns of C per micro-tile: two 16-lane vectors.
    public static let nr = 32
    /// Depth of one packed block (k step): a B panel (KC × NR) is 32 KiB and an A panel
    /// (KC × MR) 12 KiB, together inside a 48 KiB L1.
    static let kc = 256
    /// Rows of A per packed block: MC × KC = 144 KiB, inside L2.
    static let mc = 144
    /// Columns of B per packed block: KC × NC = 2 MiB.
    static let nc = 2048

    /// C = alpha · op(A) · op(B) + beta · C, row-major with leading dimensions (as BLAS sgemm with
    /// CblasRowMajor). op(A) is [m, k]: A itself ([m, k], lda ≥ k) or, with `transposeA`, Aᵀ of
    /// A stored [k, m] (lda ≥ m); likewise op(B) [k, n]. beta = 0 ignores C's old contents
    /// (NaN included). With `bias` [n] (beta must be 0), C = alpha · op(A) · op(B) + bias, the
    /// bias added to every row as the first k block is stored (a Linear layer's forward without
    /// a separate pass over C). Thread-safe: each thread packs into its own buffers.
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                             bias: UnsafePointer<Float>? = nil) {
        precondition(bias == nil || beta == 0, "AVX512Gemm.sgemm: a bias needs beta = 0")
        if m <= 0 || n <= 0 { return }
        if k <= 0 || alpha == 0 {
            scaleC(c, m: m, n: n, ldc: ldc, beta: beta)
            if let bias {
                for i in 0..<m {
                    let row = c + i &* ldc
                    var j = 0
                    while j < n { row[j] = bias[j]; j &+= 1 }
                }
            }
            return
        }
        if beta != 0 && beta != 1 { scaleC(c, m: m, n: n, ldc: ldc, beta: beta) }
        let buffers = PackingBuffers.forCurrentThread()
        var jc = 0
        while jc < n {
            let ncBlock = min(nc, n &- jc)
            var pc = 0
            while pc < k {
                let kcBlock = min(kc, k &- pc)
                packB(b, ldb: ldb, transposed: transposeB, depthStart: pc, depth: kcBlock,
                      columnStart: jc, columns: ncBlock, into: buffers.packedB)
                // The first k block overwrites C when beta is 0; every other adds.
                let overwrite = pc == 0 && beta == 0
                var ic = 0
                while ic < m {
                    let mcBlock = min(mc, m &- ic)
                    let block: MatrixA
                    if alpha == 1 {
                        // op(A) read in place: element (i, p) of the block at i·rowStride + p·depthStride.
                        block = transposeA
                            ? MatrixA(base: a + (pc &* lda &+ ic), rowStride: 1, depthStride: lda)
                            : MatrixA(base: a + (ic &* lda &+ pc), rowStride: lda, depthStride: 1)
                    } else {
                        packA(a, lda: lda, transposed: transposeA, alpha: alpha, rowStart: ic, rows: mcBlock,
                              depthStart: pc, depth: kcBlock, into: buffers.packedA)
                        block = MatrixA(base: buffers.packedA, rowStride: 1, depthStride: mr, packed: true)
                    }
                    multiplyBlock(rows: mcBlock, columns: ncBlock, depth: kcBlock, a: block,
                                  packedB: buffers.packedB, c: c + (ic &* ldc &+ jc), ldc: ldc,
                                  overwrite: overwrite, bias: overwrite ? bias.map { $0 + jc } : nil,
                                  edgePanel: buffers.edgePanel,
                                  scratchTile: buffers.scratchTile)
                    ic &+= mcBlock
                }
                pc &+= kcBlock
            }
            jc &+= ncBlock
        }
    }

    /// C[m, n] = beta · C (beta = 0 writes zeros, whatever C held).
    static func scaleC(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, beta: Float) {
        for i in 0..<m {
            let row = c + i &* ldc
            var j = 0
            if beta == 0 {
                while j < n { row[j] = 0; j &+= 1 }
            } else {
                while j < n { row[j] = beta * row[j]; j &+= 1 }
            }
        }
    }

    /// Packs op(B)[depthStart ..< +depth, columnStart ..< +columns] into ⌈columns/NR⌉ panels, each
    /// [depth][NR] (row p of a panel: NR consecutive columns), zero beyond `columns`.
    static func packB(_ b: UnsafePointer<Float>, ldb: Int, transposed: Bool, depthStart: Int, depth: Int,
                      columnStart: Int, columns: Int, into packed: UnsafeMutablePointer<Float>) {
        var panelStart = 0
        var panel = packed
        while panelStart < columns {
            let width = min(nr, columns &- panelStart)
            let column0 = columnStart &+ panelStart
            if !transposed {
                // op(B) = B [k, n]: a panel row is `width` consecutive floats of a B row.
                for p in 0..<depth {
                    let source = b + ((depthStart &+ p) &* ldb &+ column0)
                    let target = panel + p &* nr
                    if width == nr {
                        let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(target)
                        out.storeBytes(of: raw.loadUnaligned(as: Lanes.self), as: Lanes.self)
                        (out + 64).storeBytes(of: (raw + 64).loadUnaligned(as: Lanes.self), as: Lanes.self)
                    } else {
                        var r = 0
                        while r < width { target[r] = source[r]; r &+= 1 }
                        while r < nr { target[r] = 0; r &+= 1 }
                    }
                }
            } else {
                // op(B) = Bᵀ with B stored [n, k]: column j of op(B) is row j of B, contiguous in p.
                for r in 0..<nr {
                    let target = panel + r
                    if r < width {
                        let source = b + ((column0 &+ r) &* ldb &+ depthStart)
                        var p = 0
                        while p < depth { target[p &* nr] = source[p]; p &+= 1 }
                    } else {
                        var p = 0
                        while p < depth { target[p &* nr] = 0; p &+= 1 }
                    }
                }
            }
            panelStart &+= nr
            panel += depth &* nr
        }
    }

    /// Packs alpha · op(A)[rowStart ..< +rows, depthStart ..< +depth] into ⌈rows/MR⌉ panels,
    /// each [depth][MR] (column p of a panel: MR consecutive rows), zero beyond `rows`.
    static func packA(_ a: UnsafePointer<Float>, lda: Int, transposed: Bool, alpha: Float, rowStart: Int,
                      rows: Int, depthStart: Int, depth: Int, into packed: UnsafeMutablePointer<Float>) {
        var panelStart = 0
        var panel = packed
        while panelStart < rows {
            let height = min(mr, rows &- panelStart)
            let row0 = rowStart &+ panelStart
            if !transposed {
                // op(A) = A [m, k]: row r of the panel is contiguous in p.
                for r in 0..<mr {
                    let target = panel + r
                    if r < height {
                        let source = a + ((row0 &+ r) &* lda &+ depthStart)
                        var p = 0
                        if alpha == 1 {
                            while p < depth { target[p &* mr] = source[p]; p &+= 1 }
                        } else {
                            while p < depth { target[p &* mr] = alpha * source[p]; p &+= 1 }
                        }
                    } else {
                        var p = 0
                        while p < depth { target[p &* mr] = 0; p &+= 1 }
                    }
                }
            } else {
                // op(A) = Aᵀ with A stored [k, m]: the MR rows at depth p are contiguous in A.
                for p in 0..<depth {
                    let source = a + ((depthStart &+ p) &* lda &+ row0)
                    let target = panel + p &* mr
                    var r = 0
                    if alpha == 1 {
                        while r < height { target[r] = source[r]; r &+= 1 }
                    } else {
                        while r < height { target[r] = alpha * source[r]; r &+= 1 }
                    }
                    while r < mr { target[r] = 0; r &+= 1 }
                }
            }
            panelStart &+= mr
            panel += depth &* mr
        }
    }

    /// Where the rows of an A block are: element (i, p) of op(A) restricted to the block is at
    /// base + i·rowStride + p·depthStride. op(A) itself is read in place (A [m, k]: rowStride lda,
    /// depthStride 1; Aᵀ of A [k, m]: rowStride 1, depthStride lda); only alpha ≠ 1 packs it
    /// (`packed`: whole MR-row panels of [depth][MR], rowStride 1, depthStride MR).
    struct MatrixA {
        var base: UnsafePointer<Float>
        var rowStride: Int
        var depthStride: Int
        var packed = false

        init(base: UnsafePointer<Float>, rowStride: Int, depthStride: Int, packed: Bool = false) {
            self.base = base
            self.rowStride = rowStride
            self.depthStride = depthStride
            self.packed = packed
        }
    }

    /// C block [rows, columns] (+)= A block · packed B block, one micro-tile at a time.
    ///
    /// A full tile reads its 12 rows of A in place (no copy: reading A is what packing it would
    /// cost, and the 12 rows stay in cache for every B panel). The bottom tile, when it has fewer
    /// than 12 rows, is first copied into a zero-padded panel so that the kernel never reads past A.
    static func multiplyBlock(rows: Int, columns: Int, depth: Int, a: MatrixA,
                              packedB: UnsafePointer<Float>,
                              c: UnsafeMutablePointer<Float>, ldc: Int, overwrite: Bool,
                              bias: UnsafePointer<Float>?, edgePanel: UnsafeMutablePointer<Float>,
                              scratchTile: UnsafeMutablePointer<Float>) {
        let fullRows = a.packed ? rows : rows / mr * mr
        if fullRows < rows {
            // The partial bottom tile's rows, zero-padded to MR: [depth][MR].
            let height = rows &- fullRows
            for p in 0..<depth {
                let target = edgePanel + p &* mr
                let source = a.base + (fullRows &* a.rowStride &+ p &* a.depthStride)
                var r = 0
                while r < height { target[r] = source[r &* a.rowStride]; r &+= 1 }
                while r < mr { target[r] = 0; r &+= 1 }
            }
        }
        var j = 0
        var panelB = packedB
        while j < columns {
            let width = min(nr, columns &- j)
            var i = 0
            while i < rows {
                let height = min(mr, rows &- i)
                let tile = c + (i &* ldc &+ j)
                let direct = width == nr && height == mr
                let target = direct ? tile : scratchTile
                let targetStride = direct ? ldc : nr
                let store = direct ? overwrite : true
                let tileBias = direct ? bias.map { $0 + j } : nil
                if a.packed {
                    microKernel(depth: depth, a: a.base + i &* depth, rowStride: 1, depthStride: mr,
                                b: panelB, c: target, ldc: targetStride, overwrite: store, bias: tileBias)
                } else if i >= fullRows {
                    microKernel(depth: depth, a: edgePanel, rowStride: 1, depthStride: mr,
                                b: panelB, c: target, ldc: targetStride, overwrite: store, bias: tileBias)
                } else if a.depthStride == 1 {
                    microKernel(depth: depth, a: a.base + i &* a.rowStride, rowStride: a.rowStride, depthStride: 1,
                                b: panelB, c: target, ldc: targetStride, overwrite: store, bias: tileBias)
                } else {
                    microKernel(depth: depth, a: a.base + i, rowStride: 1, depthStride: a.depthStride,
                                b: panelB, c: target, ldc: targetStride, overwrite: store, bias: tileBias)
                }
                if !direct {
                    // Edge tile: write the valid part of the scratch tile.
                    for r in 0..<height {
                        let source = scratchTile + r &* nr, destination = tile + r &* ldc
                        var col = 0
                        if overwrite, let bias {
                            let columnBias = bias + j
                            while col < width { destination[col] = source[col] + columnBias[col]; col &+= 1 }
                        } else if overwrite {
                            while col < width { destination[col] = source[col]; col &+= 1 }
                        } else {
                            while col < width { destination[col] += source[col]; col &+= 1 }
                        }
                    }
                }
                i &+= mr
            }
            j &+= nr
            panelB += depth &* nr
        }
    }

    /// C tile [12, 32] (+)= A rows · B panel [depth][32], with A's element (r, p) at
    /// a + r·rowStride + p·depthStride: 24 accumulators of 16 lanes; per step of p, two B loads,
    /// 12 broadcasts and 24 fused multiply-adds. Always inlined with one of the strides a constant,
    /// so each call site compiles to its own loop.
    @inline(__always)
    static func microKernel(depth: Int, a: UnsafePointer<Float>, rowStride: Int, depthStride: Int,
                            b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, overwrite: Bool,
                            bias: UnsafePointer<Float>?) {
        var c00 = Lanes(), c01 = Lanes(), c10 = Lanes(), c11 = Lanes(), c20 = Lanes(), c21 = Lanes()
        var c30 = Lanes(), c31 = Lanes(), c40 = Lanes(), c41 = Lanes(), c50 = Lanes(), c51 = Lanes()
        var c60 = Lanes(), c61 = Lanes(), c70 = Lanes(), c71 = Lanes(), c80 = Lanes(), c81 = Lanes()
        var c90 = Lanes(), c91 = Lanes(), ca0 = Lanes(), ca1 = Lanes(), cb0 = Lanes(), cb1 = Lanes()
        let r1 = rowStride, r2 = rowStride &* 2, r3 = rowStride &* 3
        var ap = a, bp = b
        var p = 0
        while p < depth {
            let b0 = UnsafeRawPointer(bp).load(as: Lanes.self)
            let b1 = UnsafeRawPointer(bp + 16).load(as: Lanes.self)
            let a4 = ap + r2 &* 2, a8 = ap + r2 &* 4
            var s = Lanes(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = Lanes(repeating: ap[r1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = Lanes(repeating: ap[r2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = Lanes(repeating: ap[r3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = Lanes(repeating: a4[0]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = Lanes(repeating: a4[r1]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = Lanes(repeating: a4[r2]); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = Lanes(repeating: a4[r3]); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            s = Lanes(repeating: a8[0]); c80 = c80.addingProduct(s, b0); c81 = c81.addingProduct(s, b1)
            s = Lanes(repeating: a8[r1]); c90 = c90.addingProduct(s, b0); c91 = c91.addingProduct(s, b1)
            s = Lanes(repeating: a8[r2]); ca0 = ca0.addingProduct(s, b0); ca1 = ca1.addingProduct(s, b1)
            s = Lanes(repeating: a8[r3]); cb0 = cb0.addingProduct(s, b0); cb1 = cb1.addingProduct(s, b1)
            ap += depthStride
            bp += 32
            p &+= 1
        }
        storeRow(c, ldc: ldc, row: 0, c00, c01, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 1, c10, c11, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 2, c20, c21, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 3, c30, c31, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 4, c40, c41, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 5, c50, c51, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 6, c60, c61, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 7, c70, c71, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 8, c80, c81, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 9, c90, c91, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 10, ca0, ca1, overwrite: overwrite, bias: bias)
        storeRow(c, ldc: ldc, row: 11, cb0, cb1, overwrite: overwrite, bias: bias)
    }

    /// C[row, 0..<32] = (or +=) the two accumulators; `bias` (32 values) is added when overwriting.
    @inline(__always)
    static func storeRow(_ c: UnsafeMutablePointer<Float>, ldc: Int, row: Int, _ left: Lanes, _ right: Lanes,
                         overwrite: Bool, bias: UnsafePointer<Float>?) {
        let target = UnsafeMutableRawPointer(c + row &* ldc)
        if overwrite, let bias {
            let biasRaw = UnsafeRawPointer(bias)
            target.storeBytes(of: left + biasRaw.loadUnaligned(as: Lanes.self), as: Lanes.self)
            (target + 64).storeBytes(of: right + (biasRaw + 64).loadUnaligned(as: Lanes.self), as: Lanes.self)
        } else if overwrite {
            target.storeBytes(of: left, as: Lanes.self)
            (target + 64).storeBytes(of: right, as: Lanes.self)
        } else {
            target.storeBytes(of: target.loadUnaligned(as: Lanes.self) + left, as: Lanes.self)
            (target + 64).storeBytes(of: (target + 64).loadUnaligned(as: Lanes.self) + right, as: Lanes.self)
        }
    }
}
#endif
