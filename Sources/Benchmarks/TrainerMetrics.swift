import Foundation

/// Throughput of the real trainer (`flowformer train`), read from the `metrics.jsonl` records it
/// writes every `log_every` steps: the end-to-end figure, with the trainer's own data-reader and
/// all-reduce wait shares.
public struct TrainerResult: Codable, Sendable, Equatable {
    public var label: String
    public var ranks: Int
    public var threadsPerRank: Int
    /// `train.overlap_comm`.
    public var overlap: Bool
    /// Training records used (the first, which includes start-up and warm-up, is left out).
    public var records: Int
    /// Medians over the records.
    public var samplesPerSecond: Double
    public var tokensPerSecond: Double
    /// Share of wall time `next()` on the data reader blocked.
    public var dataWaitShare: Double
    /// Share of wall time spent waiting for the gradient all-reduce.
    public var commWaitShare: Double
    /// Largest peak resident memory over the ranks, MiB, when the launcher could tell (else nil).
    public var peakResidentMebibytes: Double?

    /// Summarises the `"event": "train"` records of a metrics.jsonl text, skipping the first
    /// (start-up) record when there are several. Lines that do not parse are skipped, as the
    /// file's readers are told to.
    public static func summarise(metricsText: String, label: String, ranks: Int, threadsPerRank: Int,
                                 overlap: Bool) throws -> TrainerResult {
        var records: [[String: Any]] = []
        for line in metricsText.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["event"] as? String == "train" else { continue }
            records.append(object)
        }
        if records.count > 1 { records.removeFirst() }
        guard !records.isEmpty else { throw BenchError("\(label): metrics.jsonl has no training records") }
        func median(_ key: String) throws -> Double {
            let values = try records.map { record -> Double in
                guard let value = record[key] as? Double ?? (record[key] as? Int).map(Double.init) else {
                    throw BenchError("\(label): a metrics.jsonl training record has no number '\(key)'")
                }
                return value
            }
            return TimingSummary(samples: values).median
        }
        return TrainerResult(label: label, ranks: ranks, threadsPerRank: threadsPerRank, overlap: overlap,
                             records: records.count, samplesPerSecond: try median("samples_per_second"),
                             tokensPerSecond: try median("tokens_per_second"),
                             dataWaitShare: try median("data_wait_share"),
                             commWaitShare: try median("comm_wait_share"), peakResidentMebibytes: nil)
    }
}
