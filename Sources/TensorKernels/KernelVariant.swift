import _CCPUFeatures
#if canImport(Glibc)
import Glibc
#endif

/// Which build of the Float hot-loop kernels the model runs.
///
/// The package is compiled for the baseline of its architecture (on x86-64: SSE2, no FMA), so the
/// binary runs on every node of a cluster. The Float kernels that dominate the time outside
/// matrix products (GELU, sigmoid, LayerNorm, the attention cores' loops) are compiled a second
/// time for the x86-64-v3 level (AVX2: 8 Float lanes instead of SSE2's 4) in the
/// `TensorKernelsAVX2` module, and the model picks one build at run time.
///
/// The two builds are the same source and compute bitwise the same numbers: Swift never fuses
/// a·b + c into one rounding and the vectoriser may not reorder floating-point sums, so 8 lanes
/// instead of 4 change the speed only. Ranks on different CPUs therefore stay in step, and a run
/// may resume on another node type bitwise (jobs/check-kernels.sh trains with both builds and
/// compares the checkpoints; Tests/TensorKernelsAVX2Tests compares every kernel).
public enum KernelVariant: String, Sendable, CaseIterable {
    /// Baseline instructions only (always available).
    case generic
    /// AVX2 kernels: the x86-64-v3 level (AVX2, FMA, BMI; x86-64 CPUs since about 2013–2015).
    case x86_64_v3 = "x86-64-v3"

    /// The environment variable that overrides the choice: `auto` (the default), `generic` or
    /// `x86-64-v3`.
    public static let environmentVariable = "FLOWFORMER_KERNELS"

    /// True when this CPU and OS can run the x86-64-v3 build (CPUID + XGETBV).
    public static let cpuSupportsX86_64_v3: Bool = flowformer_cpu_supports_x86_64_v3() != 0

    /// The fastest variant this CPU supports.
    public static var best: KernelVariant { cpuSupportsX86_64_v3 ? .x86_64_v3 : .generic }

    /// True when this process can run the variant.
    public var isSupported: Bool { self == .generic || Self.cpuSupportsX86_64_v3 }

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
                + "(use auto, \(allCases.map(\.rawValue).joined(separator: " or ")))")
        }
        guard variant.isSupported else {
            throw KernelVariantError(message: "\(environmentVariable)=\(raw): this CPU lacks AVX2/FMA "
                + "(x86-64-v3); use auto or generic")
        }
        return variant
    }
}

/// A bad `FLOWFORMER_KERNELS` value; the message is one line.
public struct KernelVariantError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
