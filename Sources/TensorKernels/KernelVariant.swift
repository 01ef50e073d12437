import _CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// Which build of the Float hot-loop kernels the model runs.
///
/// The package is compiled for the baseline of its architecture (on x86-64: SSE2), so the binary
/// runs on every node of a cluster. Two more builds of the hottest Float code are chosen at run
/// time by CPUID:
///
/// - `x86-64-v3`: the kernels that dominate the time outside matrix products (GELU, sigmoid,
///   LayerNorm, residual adds, bias gradients) compiled again for AVX2, 8 Float lanes instead of
///   SSE2's 4 (module `TensorKernelsAVX2`). Same source, bitwise the same numbers: Swift never
///   fuses a·b + c into one rounding and the vectoriser may not reorder floating-point sums.
/// - `x86-64-v4`: the above, plus the model's Linear-layer products through the project's
///   AVX-512 GEMM (module `TensorKernelsAVX512`) instead of OpenBLAS. A different summation than
///   OpenBLAS's, so results differ from the other two variants in the last bits (each within
///   Float rounding of the exact product; tested against naive products and the golden vectors).
///
/// Ranks on different CPUs stay in step whatever they run, because every rank applies the same
/// optimizer step to the same all-reduced gradient; a bitwise-exact resume needs the same variant
/// before and after (jobs/check-kernels.sh trains with generic and x86-64-v3 and compares the
/// checkpoints bitwise).
public enum KernelVariant: String, Sendable, CaseIterable {
    /// Baseline instructions only (always available).
    case generic
    /// AVX2 elementwise kernels: the x86-64-v3 level (AVX2, FMA, BMI; x86-64 CPUs since 2013–2015).
    case x86_64_v3 = "x86-64-v3"
    /// x86-64-v3 plus the AVX-512 GEMM: the x86-64-v4 level (AVX512F/BW/CD/DQ/VL).
    case x86_64_v4 = "x86-64-v4"

    /// The environment variable that overrides the choice: `auto` (the default), `generic`,
    /// `x86-64-v3` or `x86-64-v4`.
    public static let environmentVariable = "FLOWFORMER_KERNELS"

    /// True when this CPU and OS can run x86-64-v3 code (CPUID + XGETBV).
    public static let cpuSupportsX86_64_v3: Bool = flowformer_cpu_supports_x86_64_v3() != 0
    /// True when this CPU and OS can run x86-64-v4 code.
    public static let cpuSupportsX86_64_v4: Bool = flowformer_cpu_supports_x86_64_v4() != 0

    /// True when this CPU and OS can run the bf16 GEMM (x86-64-v4 and AVX512_BF16: VDPBF16PS).
    public static let cpuSupportsAVX512BF16: Bool = flowformer_cpu_supports_avx512_bf16() != 0

    /// The fastest variant this CPU supports.
    public static var best: KernelVariant {
        cpuSupportsX86_64_v4 ? .x86_64_v4 : cpuSupportsX86_64_v3 ? .x86_64_v3 : .generic
    }

    /// True when this process can run the variant.
    public var isSupported: Bool {
        switch self {
        case .generic: return true
        case .x86_64_v3: return Self.cpuSupportsX86_64_v3
        case .x86_64_v4: return Self.cpuSupportsX86_64_v4
        }
    }

    /// True when the AVX2 elementwise kernels run (v3 and v4).
    public var usesAVX2Kernels: Bool { self != .generic }
    /// True when the Linear layers' products run on the AVX-512 GEMM.
    public var usesAVX512Gemm: Bool { self == .x86_64_v4 }
    /// True when bf16 products (`train.precision: bf16`) run on the VDPBF16PS GEMM: x86-64-v4 on a
    /// CPU with AVX512_BF16. Otherwise they run portably (bf16-rounded operands, fp32 products).
    public var usesBFloat16Gemm: Bool { self == .x86_64_v4 && Self.cpuSupportsAVX512BF16 }

    /// The variant the model dispatches to. Starts as `best`; the command line sets it once at
    /// start-up from `FLOWFORMER_KERNELS` (`fromEnvironment()`), before any model exists.
    nonisolated(unsafe) public static var active: KernelVariant = best

    /// The variant named by `FLOWFORMER_KERNELS` (unset or `auto`: `best`).
    /// Throws `KernelVariantError` for an unknown name or a variant this CPU cannot run.
    public static func fromEnvironment() throws -> KernelVariant {
        guard let raw = getenv(environmentVariable).map({ String(cString: $0) }), !raw.isEmpty, raw != "auto" else {
            return best
        }
        guard let variant = KernelVariant(rawValue: raw) else {
            throw KernelVariantError(message: "\(environmentVariable)=\(raw) is not a kernel variant "
                + "(use auto, \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard variant.isSupported else {
            throw KernelVariantError(message: "\(environmentVariable)=\(raw): this CPU cannot run "
                + "\(raw) code; use auto or one of: "
                + allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", "))
        }
        return variant
    }
}

/// A bad `FLOWFORMER_KERNELS` value; the message is one line.
public struct KernelVariantError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
