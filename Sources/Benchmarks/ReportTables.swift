import Foundation

/// The text tables `flowformer bench` prints, one per section of a `BenchReport`.
public enum ReportTables {
    public static func sgemm(_ results: [GemmResult]) -> String {
        var table = TextTable(title: "sgemm (Float): GFLOP/s = 2·m·n·k / time",
                              header: ["shape", "m", "n", "k", "op", "GEMM", "threads", "median GFLOP/s", "best GFLOP/s"])
        for result in results {
            let shape = result.shape
            let op = (shape.transposeA ? "Aᵀ" : "A") + "·" + (shape.transposeB ? "Bᵀ" : "B")
            table.add([shape.name, "\(shape.m)", "\(shape.n)", "\(shape.k)", op, result.implementation.rawValue,
                       "\(result.threads)",
                       formatFixed(result.medianGflops, digits: 1), formatFixed(result.bestGflops, digits: 1)])
        }
        return table.render()
    }

    public static func sgemmPeaks(_ peaks: [SgemmPeak]) -> String {
        var table = TextTable(title: "sgemm peak (best square shape and GEMM, fastest run)", header: ["threads", "GFLOP/s"])
        for peak in peaks { table.add(["\(peak.threads)", formatFixed(peak.gflops, digits: 1)]) }
        return table.render()
    }

    /// One row per length, one column per (kind, causal): forward+backward milliseconds (median).
    public static func attention(_ results: [AttentionResult]) -> String {
        var columns: [(kind: String, causal: Bool)] = []
        for result in results where !columns.contains(where: { $0.kind == result.kind && $0.causal == result.causal }) {
            columns.append((result.kind, result.causal))
        }
        let lengths = Array(Set(results.map(\.length))).sorted()
        let first = results.first
        let title = "attention core forward+backward, ms (median; "
            + (first.map { "batch \($0.batch), d_model \($0.dModel), \($0.heads) heads" } ?? "") + ")"
        var table = TextTable(title: title,
                              header: ["L"] + columns.map { $0.kind + ($0.causal ? " causal" : "") })
        for length in lengths {
            let cells = columns.map { column -> String in
                guard let result = results.first(where: {
                    $0.kind == column.kind && $0.causal == column.causal && $0.length == length
                }) else { return "" }
                if let ms = result.forwardBackwardMilliseconds { return formatFixed(ms, digits: ms < 100 ? 2 : 0) }
                return "skipped"
            }
            table.add(["\(length)"] + cells)
        }
        return table.render()
    }

    public static func attentionScaling(_ scaling: [AttentionScaling]) -> String {
        guard let first = scaling.first else { return "" }
        var table = TextTable(title: "attention scaling t(L=\(first.longLength)) / t(L=\(first.shortLength)) "
                                  + "(linear cost: \(formatFixed(first.lengthRatio, digits: 0))×)",
                              header: ["kind", "causal", "time ratio"])
        for entry in scaling {
            table.add([entry.kind, entry.causal ? "yes" : "no", formatFixed(entry.timeRatio, digits: 1) + "×"])
        }
        return table.render()
    }

    public static func models(_ results: [ModelResult]) -> String {
        var table = TextTable(
            title: "training step (forward + backward + all-reduce + AdamW); times are medians per step",
            header: ["run", "ranks×threads", "batch", "T", "step s", "samples/s", "tokens/s", "GFLOP/s", "MFU",
                     "fwd s", "bwd s", "comm wait s", "adamw s", "data wait s", "peak RSS MiB", "CPU use", "data"])
        for result in results {
            table.add([result.label, "\(result.ranks)×\(result.threadsPerRank)", "\(result.globalBatch)",
                       "\(result.tokensPerSample)", formatFixed(result.step.median, digits: 3),
                       formatFixed(result.samplesPerSecond, digits: 1), formatFixed(result.tokensPerSecond, digits: 0),
                       formatFixed(result.achievedGflops, digits: 1),
                       result.mfu.map { formatFixed($0 * 100, digits: 1) + "%" } ?? "",
                       formatFixed(result.forwardSeconds, digits: 3), formatFixed(result.backwardSeconds, digits: 3),
                       formatFixed(result.commWaitSeconds, digits: 4), formatFixed(result.optimizerSeconds, digits: 4),
                       formatFixed(result.dataWaitSeconds, digits: 4),
                       formatFixed(result.peakResidentMebibytes, digits: 0),
                       formatFixed(result.cpuUtilisation * 100, digits: 0) + "%",
                       result.data == "synthetic" ? "in memory" : (result.data as NSString).lastPathComponent])
        }
        return table.render()
    }

    public static func trainer(_ results: [TrainerResult]) -> String {
        var table = TextTable(title: "flowformer train (KJV, LM config), medians of metrics.jsonl records",
                              header: ["run", "ranks×threads", "overlap", "samples/s", "tokens/s", "data wait",
                                       "comm wait", "records"])
        for result in results {
            table.add([result.label, "\(result.ranks)×\(result.threadsPerRank)", result.overlap ? "yes" : "no",
                       formatFixed(result.samplesPerSecond, digits: 2), formatFixed(result.tokensPerSecond, digits: 0),
                       formatFixed(result.dataWaitShare * 100, digits: 1) + "%",
                       formatFixed(result.commWaitShare * 100, digits: 1) + "%", "\(result.records)"])
        }
        return table.render()
    }

    /// Every section present in `report`, separated by blank lines.
    public static func all(_ report: BenchReport) -> String {
        var sections: [String] = []
        if let sgemm = report.sgemm, !sgemm.isEmpty { sections.append(ReportTables.sgemm(sgemm)) }
        if let peaks = report.sgemmPeaks, !peaks.isEmpty { sections.append(sgemmPeaks(peaks)) }
        if let attention = report.attention, !attention.isEmpty { sections.append(ReportTables.attention(attention)) }
        if let scaling = report.attentionScaling, !scaling.isEmpty { sections.append(attentionScaling(scaling)) }
        if let models = report.models, !models.isEmpty { sections.append(ReportTables.models(models)) }
        if let trainer = report.trainer, !trainer.isEmpty { sections.append(ReportTables.trainer(trainer)) }
        sections.append("peak resident memory of this process: "
                        + formatFixed(report.peakResidentMebibytes, digits: 0) + " MiB\n")
        return sections.joined(separator: "\n")
    }
}
