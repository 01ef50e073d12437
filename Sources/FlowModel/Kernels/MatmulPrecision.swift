#if canImport(Glibc)
import Glibc
#endif

/// The arithmetic of the Linear layers' three products (forward x·Wᵀ, input gradient dy·W,
/// weight gradient dyᵀ·x): `train.precision`.
///
/// - `fp32`: Float operands and sums.
/// - `bf16`: both operands rounded to bfloat16 (nearest even), fp32 sums (`BFloat16Gemm`), as
///   PyTorch's CPU autocast does for `linear`. Everything else stays fp32: the master weights and
///   their gradients, the optimizer state, LayerNorm, the attention cores (their normalisers and
///   softmaxes), the loss.
///
/// A model sets it (`FlowformerModel.precision`) for the duration of its own `forward` and
/// `backward` on the calling thread (`current`), and `DispatchedKernels` reads it where Linear's
/// products are dispatched: so Linear itself does not change, models of different precision may
/// run on different threads at once (tests do), and only Float models are affected (Double ones,
/// used for gradient checks, always run exact Double products).
public enum MatmulPrecision: String, Sendable, CaseIterable, Codable {
    case fp32
    case bf16

    /// The precision of the Linear products the calling thread runs now (fp32 outside a bf16
    /// model's forward or backward).
    public static var current: MatmulPrecision {
        @inline(__always) get { pthread_getspecific(key) == nil ? .fp32 : .bf16 }
    }

    /// Runs `body` with `current` = `precision` on this thread, restoring the previous value.
    @inline(__always)
    public static func with<Result>(_ precision: MatmulPrecision, _ body: () throws -> Result) rethrows -> Result {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, precision == .bf16 ? UnsafeRawPointer(bitPattern: 1) : nil)
        defer { pthread_setspecific(key, previous) }
        return try body()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "MatmulPrecision: pthread_key_create failed (\(status))")
        return key
    }()
}
