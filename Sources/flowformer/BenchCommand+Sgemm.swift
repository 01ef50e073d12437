import ArgumentParser
import Benchmarks
import Training

/// `flowformer bench sgemm`: the Float GEMM speed that MFU is measured against.
struct BenchSgemmCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "Single-precision GEMM speed (square shapes and the LM config's Linear shapes).",
        discussion: """
            The peak at a thread count is the best GFLOP/s over square 512, 1024 and 2048 \
            products (fastest run) and over the GEMMs the model may use: OpenBLAS, and at one \
            thread under the x86-64-v4 kernels the project's AVX-512 GEMM. The LM shapes are the three products of each Linear layer \
            of the LM config (batch 8 × seq 1024 rows) in training.
            """
    )

    @OptionGroup var output: BenchOutputOptions

    @Option(help: ArgumentHelp("BLAS thread counts to measure, comma-separated.", valueName: "list"))
    var threads = "1,2"

    @Flag(inversion: .prefixedNo, help: "Also time the LM config's Linear-layer shapes.")
    var modelShapes = true

    func validate() throws { _ = try parsePositiveIntegers(threads, option: "--threads") }

    func execute() throws -> Int32 {
        var report = BenchReport(quick: output.quick)
        let (results, peaks) = try BenchSgemmCommand.measure(threadCounts: try parsePositiveIntegers(threads, option: "--threads"),
                                                             modelShapes: modelShapes, quick: output.quick)
        report.sgemm = results
        report.sgemmPeaks = peaks
        try report.emit(output)
        return ExitStatus.success
    }

    /// Square shapes at every thread count, and the LM shapes at the first one.
    static func measure(threadCounts: [Int], modelShapes: Bool, quick: Bool) throws -> ([GemmResult], [SgemmPeak]) {
        let sizes = quick ? [256] : SgemmBenchmark.squareSizes
        let squares = sizes.map { GemmShape.square($0) }
        let policy: RepeatPolicy = quick ? .quick : RepeatPolicy(warmup: 1, minRepeats: 5, maxRepeats: 30, budgetSeconds: 1)
        var results: [GemmResult] = []
        var peaks: [SgemmPeak] = []
        for (index, threads) in threadCounts.enumerated() {
            let measured = SgemmBenchmark.runUsed(shapes: squares, threads: threads, policy: policy)
            results += measured
            if let peak = SgemmBenchmark.peakGflops(measured, threads: threads) {
                peaks.append(SgemmPeak(threads: threads, gflops: peak))
            }
            if modelShapes && index == 0 {
                let rows = quick ? 256 : 8 * 1024  // batch 8 × seq 1024
                let shapes = GemmShape.linearLayer("lm q/k/v/out", rows: rows, inputs: 256, outputs: 256)
                    + GemmShape.linearLayer("lm fc1", rows: rows, inputs: 256, outputs: 1024)
                    + GemmShape.linearLayer("lm fc2", rows: rows, inputs: 1024, outputs: 256)
                results += SgemmBenchmark.runUsed(shapes: shapes, threads: threads, policy: policy)
            }
        }
        return (results, peaks)
    }
}
