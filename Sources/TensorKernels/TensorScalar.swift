import _COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// The element types the kernels run on: `Float` for training, `Double` so that tests can check
/// gradients against finite differences and golden vectors tightly.
///
/// Each conformance routes the scalar maths (`exp`, `erf`, …) to libm and matrix products to the
/// matching BLAS routine (`sgemm` / `dgemm`). `fastExp` and `fastErf` are what the kernels call
/// inside their loops: branch-free polynomials for `Float` (see FastMath.swift) that vectorise
/// once inlined, libm for `Double` (where tests want the last digit).
public protocol TensorScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable
where Self.RawSignificand: FixedWidthInteger {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self

    /// eˣ for kernels. Float: `Float.polynomialExp` (≤ 2 ulp on [−87, 88], 0 below −103.9,
    /// +∞ above 88.72, NaN stays NaN); Double: libm `exp`.
    static func fastExp(_ x: Self) -> Self
    /// erf(x) for kernels. Float: `Float.polynomialErf` (absolute error ≤ 1.5·10⁻⁷);
    /// Double: libm `erf`.
    static func fastErf(_ x: Self) -> Self
    /// (erf(x), e^(−x²)) for kernels that need both (GELU's backward). Float:
    /// `Float.polynomialErfAndGaussian` (the Gaussian is exactly 0 for |x| > 6); Double: libm.
    static func fastErfAndGaussian(_ x: Self) -> (erf: Self, gaussian: Self)

    /// Row-major C = alpha·op(A)·op(B) + beta·C with BLAS leading dimensions.
    static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                         alpha: Self, a: UnsafePointer<Self>, lda: Int,
                         b: UnsafePointer<Self>, ldb: Int,
                         beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

@inline(__always)
private func blasTranspose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TensorScalar {
    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func erf(_ x: Float) -> Float { erff(x) }
    @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable @inline(__always) public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable @inline(__always) public static func fastExp(_ x: Float) -> Float { polynomialExp(x) }
    @inlinable @inline(__always) public static func fastErf(_ x: Float) -> Float { polynomialErf(x) }
    @inlinable @inline(__always) public static func fastErfAndGaussian(_ x: Float) -> (erf: Float, gaussian: Float) {
        polynomialErfAndGaussian(x)
    }

    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}

extension Double: TensorScalar {
    @inlinable @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable @inline(__always) public static func erf(_ x: Double) -> Double { Glibc.erf(x) }
    @inlinable @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inlinable @inline(__always) public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable @inline(__always) public static func fastExp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable @inline(__always) public static func fastErf(_ x: Double) -> Double { Glibc.erf(x) }
    @inlinable @inline(__always) public static func fastErfAndGaussian(_ x: Double) -> (erf: Double, gaussian: Double) {
        (Glibc.erf(x), Glibc.exp(-x * x))
    }

    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                b: UnsafePointer<Double>, ldb: Int,
                                beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}

/// Number of threads BLAS may use. Under `mpirun -np N` on N cores, keep it at 1 per rank.
public enum BLASThreads {
    /// Lets BLAS use `count` threads and records `count` as `requested`, the number of threads
    /// this process's compute may use (the flow attention cores split their batch over as many).
    public static func set(_ count: Int) {
        precondition(count >= 1, "BLAS thread count must be at least 1, got \(count)")
        openblas_set_num_threads(Int32(count))
        requestedCount = count
    }
    /// The threads BLAS uses now (OpenBLAS's own default, all cores, until `set` is called).
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// The count last passed to `set`, or 1 if it was never called: code outside BLAS that can
    /// use threads (the attention cores) uses this many, so that a process that asked for
    /// nothing stays on one thread.
    public static var requested: Int { requestedCount }
    private static var requestedCount = 1
}
