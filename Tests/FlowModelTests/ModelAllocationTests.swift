import Foundation
import Testing
import TensorKernels
@testable import FlowModel
#if canImport(Glibc)
import Glibc
#endif

// No heap allocation in steady-state forward/backward, counted exactly: the test re-runs this
// test binary in a child process with glibc's malloc tracer (LD_PRELOAD=libc_malloc_debug.so,
// MALLOC_TRACE=file), where a probe test builds and warms up every model, then calls mtrace(),
// runs full and partial training steps and inference, and calls muntrace(). Every malloc,
// calloc, realloc and memalign in that window — Swift objects, arrays, closure contexts, raw
// buffers — is one line of the trace; the parent counts them.
//
// The models run with dropout p = 0 (training mode otherwise): with p > 0 each sample's mask
// generator is built by `CounterRandom(seed:streamWords:)`, whose stream hash iterates an array
// and allocates in unoptimised builds (not in release builds).

private let probeVariable = "FLOWMODEL_ALLOCATION_PROBE"
private let debugMallocLibrary = "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"

@Suite struct ModelAllocationTests {
    /// Runs the probe child in `mode` and returns the allocations it traced.
    func tracedAllocations(mode: String) throws -> Int {
        try #require(FileManager.default.fileExists(atPath: debugMallocLibrary), "glibc's \(debugMallocLibrary) is missing")
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowmodel-allocations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("malloc.trace")

        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "allocationProbe"]
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = debugMallocLibrary
        environment["MALLOC_TRACE"] = trace.path
        environment[probeVariable] = mode
        child.environment = environment
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        try #require(child.terminationStatus == 0, "probe child failed:\n\(log)")
        try #require(log.contains("allocationProbe"), "the probe test did not run:\n\(log)")

        let lines = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n")
        try #require(lines.first?.hasPrefix("= Start") == true, "no malloc trace was written")
        // "@ caller + address size" (malloc and friends), "@ caller > address size" (realloc).
        let allocations = lines.filter { $0.contains(" + ") || $0.contains(" > ") }
        if !allocations.isEmpty {
            print("allocations traced in \(mode) mode:\n" + allocations.prefix(20).joined(separator: "\n"))
        }
        return allocations.count
    }

    @Test func theTraceSeesAnAllocation() throws {
        #expect(try tracedAllocations(mode: "sanity") >= 1)
    }

    @Test func steadyStateForwardAndBackwardAllocateNothing() throws {
        #expect(try tracedAllocations(mode: "steady") == 0)
    }

    /// The child side; skipped unless the parent set the probe variable.
    @Test(.enabled(if: getenv(probeVariable) != nil))
    func allocationProbe() throws {
        let mode = String(cString: getenv(probeVariable))
        // libc's default mtrace is a no-op stub since glibc 2.34; the preloaded debug library
        // has the working one under the plain version GLIBC_2.2.5, which only dlvsym reaches.
        typealias VersionedSymbol = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>,
                                                    UnsafePointer<CChar>) -> UnsafeMutableRawPointer?
        let dlvsym = unsafeBitCast(try #require(dlsym(nil, "dlvsym")), to: VersionedSymbol.self)
        let library = try #require(dlopen(debugMallocLibrary, RTLD_NOW | RTLD_NOLOAD), "\(debugMallocLibrary) is not preloaded")
        let mtrace = unsafeBitCast(try #require(dlvsym(library, "mtrace", "GLIBC_2.2.5")),
                                   to: (@convention(c) () -> Void).self)
        let muntrace = unsafeBitCast(try #require(dlvsym(library, "muntrace", "GLIBC_2.2.5")),
                                     to: (@convention(c) () -> Void).self)
        let steps = allModelVariants.map { kind, attention in
            makeSteadyStateStep(config: tinyConfig(kind, attention))
        }
        for step in steps { step() }  // warm-up: lazy runtime metadata, BLAS buffers
        var sanity: [[Int]] = []
        usleep(200_000)               // let the runner finish reporting the test start
        mtrace()
        for i in 0..<steps.count { steps[i](); steps[i]() }  // no iterator: it allocates at -Onone
        if mode == "sanity" { sanity.append([Int](repeating: 1, count: 100)) }
        muntrace()
        #expect(sanity.count == (mode == "sanity" ? 1 : 0))
    }

    /// One round for a fresh Float model: a full and a partial training step (forward, backward
    /// with a gradient hook) and an inference forward, on inputs prepared here.
    func makeSteadyStateStep(config: ModelConfig) -> () -> Void {
        let model = FlowformerModel<Float>(config: config, maxBatch: 3, attentionChunk: 4)
        model.initializeParameters(seed: 1)
        let batch = TestBatch(config: config, samples: 3, seed: 2)
        let tokens = UnsafeMutablePointer<Int32>.allocate(capacity: max(batch.tokens.count, 1))
        tokens.initialize(from: batch.tokens, count: batch.tokens.count)
        let pixels = UnsafeMutablePointer<Float>.allocate(capacity: max(batch.pixels.count, 1))
        pixels.initialize(from: batch.pixels.map { Float($0) }, count: batch.pixels.count)
        let targets = UnsafeMutablePointer<Int32>.allocate(capacity: batch.targets.count)
        targets.initialize(from: batch.targets, count: batch.targets.count)
        let input: ModelInput<Float> = config.kind == .image ? .pixels(pixels) : .tokens(tokens)
        var reported = 0
        let hook: (Range<Int>) -> Void = { reported += $0.count }
        return {
            for n in stride(from: 3, through: 2, by: -1) {
                _ = model.forward(input, targets: targets, count: n,
                                  context: ForwardContext(seed: 1, step: 0, firstSampleIndex: 0, training: true))
                model.backward(lossScale: 0.5, onGradientsReady: hook)
            }
            _ = model.forward(input, targets: targets, count: 3, context: ForwardContext())
            precondition(reported > 0)
        }
    }
}
