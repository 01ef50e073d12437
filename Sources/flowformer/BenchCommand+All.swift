import ArgumentParser
import Benchmarks
import Training
import FlowModel
import TensorKernels

/// `flowformer bench all`: every measurement, one table per section, one JSON report.
struct BenchAllCommand: FlowformerCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run every benchmark (sgemm, attention grid, training throughput) and write one report.",
        discussion: """
            Takes under 10 minutes on this 2-core machine. Training runs are child processes \
            (`flowformer bench model`, under `mpirun -np 2` for two ranks), so each reports its \
            own peak resident memory.
            """
    )

    @OptionGroup var output: BenchOutputOptions

    @Option(help: ArgumentHelp("Longest L at which softmax attention runs.", valueName: "L"))
    var softmaxMaxLength = 8192

    func execute() throws -> Int32 {
        var report = BenchReport(quick: output.quick)
        benchProgress("sgemm …")
        let (gemms, peaks) = try BenchSgemmCommand.measure(threadCounts: [1, 2], modelShapes: true, quick: output.quick)
        report.sgemm = gemms
        report.sgemmPeaks = peaks

        let lengths = output.quick ? [256] : AttentionBenchmark.standardLengths
        BLASThreads.set(1)
        let attention = AttentionBenchmark.run(
            kinds: AttentionKind.allCases, causal: [false, true], lengths: lengths, batch: 1, dModel: 256,
            heads: 8, softmaxMaxLength: softmaxMaxLength, policy: output.quick ? .quick : .standard,
            progress: BenchAttentionCommand.reportProgress)
        report.attention = attention
        if let longest = lengths.max(), longest > 1024 {
            report.attentionScaling = AttentionBenchmark.scaling(attention, shortLength: 1024, longLength: longest)
        }
        try report.emit(output)
        return ExitStatus.success
    }
}
