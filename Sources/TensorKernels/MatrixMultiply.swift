/// Matrix products through BLAS, row-major.
///
///     C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C[m, n]
///
/// op(A) is A [m, k] or, with `transposeA`, Aᵀ where A is stored [k, m]; likewise for B.
/// Leading dimensions default to the packed row length and may be larger (strided views, e.g.
/// one head's columns inside a [L, d_model] matrix).
@inlinable
public func matmul<Scalar: TensorScalar>(
    _ a: UnsafePointer<Scalar>, transposeA: Bool = false,
    _ b: UnsafePointer<Scalar>, transposeB: Bool = false,
    into c: UnsafeMutablePointer<Scalar>,
    m: Int, n: Int, k: Int,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
    alpha: Scalar = 1, beta: Scalar = 0
) {
    if m == 0 || n == 0 { return }
    let lda = lda ?? (transposeA ? m : k)
    let ldb = ldb ?? (transposeB ? k : n)
    let ldc = ldc ?? n
    if k == 0 {
        // BLAS would leave C scaled by beta; make that explicit so it holds for every BLAS.
        for i in 0..<m { let row = c + i &* ldc; for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] } }
        return
    }
    Scalar.blasGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                    alpha: alpha, a: a, lda: max(lda, 1), b: b, ldb: max(ldb, 1),
                    beta: beta, c: c, ldc: max(ldc, 1))
}

/// `count` independent products, the i-th on A + i·strideA, B + i·strideB, C + i·strideC
/// (strides in elements), each as in `matmul`.
@inlinable
public func batchedMatmul<Scalar: TensorScalar>(
    count: Int,
    _ a: UnsafePointer<Scalar>, strideA: Int, transposeA: Bool = false,
    _ b: UnsafePointer<Scalar>, strideB: Int, transposeB: Bool = false,
    into c: UnsafeMutablePointer<Scalar>, strideC: Int,
    m: Int, n: Int, k: Int,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
    alpha: Scalar = 1, beta: Scalar = 0
) {
    for i in 0..<count {
        matmul(a + i &* strideA, transposeA: transposeA, b + i &* strideB, transposeB: transposeB,
               into: c + i &* strideC, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
               alpha: alpha, beta: beta)
    }
}
