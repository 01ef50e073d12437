import Foundation
import TensorKernels
import Training

/// Facts about the machine a report was measured on.
public struct MachineInfo: Codable, Sendable, Equatable {
    /// `model name` of /proc/cpuinfo.
    public var cpu: String
    /// Online processors.
    public var cores: Int
    /// `OPENBLAS_CORETYPE` if set (it selects OpenBLAS's kernels).
    public var openblasCoretype: String?
    /// 1-minute load average when the report started: > 0 means other work shared the cores.
    public var loadAverage: Double?
    /// The build of the Float kernels the model ran (`KernelVariant`: generic or x86-64-v3).
    public var kernels: String?

    public static func current() -> MachineInfo {
        var cpu = "unknown"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var load: Double?
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
           let first = text.split(separator: " ").first {
            load = Double(first)
        }
        return MachineInfo(cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                           openblasCoretype: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"],
                           loadAverage: load, kernels: KernelVariant.active.rawValue)
    }
}

/// The best single-precision GEMM speed at one BLAS thread count.
public struct SgemmPeak: Codable, Sendable, Equatable {
    public var threads: Int
    public var gflops: Double

    public init(threads: Int, gflops: Double) {
        self.threads = threads
        self.gflops = gflops
    }
}

/// Everything one `flowformer bench …` invocation measured; the JSON it writes (`--json`).
/// Sections that were not run are absent. Times are seconds unless a name says otherwise.
public struct BenchReport: Codable, Sendable {
    /// Version of this layout; bumped when a field changes meaning.
    public var formatVersion = 1
    public var machine: MachineInfo
    /// Whether `--quick` (smoke-test sizes and single runs) was on: such figures are not results.
    public var quick: Bool
    public var sgemm: [GemmResult]?
    public var sgemmPeaks: [SgemmPeak]?
    public var attention: [AttentionResult]?
    /// t(16384)/t(1024) (or the longest/shortest measured) per kind.
    public var attentionScaling: [AttentionScaling]?
    public var models: [ModelResult]?
    /// The real trainer (`flowformer train` on the KJV split), end to end.
    public var trainer: [TrainerResult]?
    /// This process's peak resident memory at the end, MiB.
    public var peakResidentMebibytes: Double

    public init(machine: MachineInfo = .current(), quick: Bool) {
        self.machine = machine
        self.quick = quick
        self.peakResidentMebibytes = mebibytes(ResidentMemory.peakBytes())
    }

    /// Pretty-printed JSON with snake_case keys, sorted.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> BenchReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(BenchReport.self, from: data)
    }

    /// Writes `jsonData()` to `path` atomically.
    public func write(to path: String) throws {
        do {
            try jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw BenchError("cannot write the JSON report \(path): \(error.localizedDescription)")
        }
    }
}

/// A benchmark that could not run or report: one line naming what and where.
public struct BenchError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}
