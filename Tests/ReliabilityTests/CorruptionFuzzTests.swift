import Foundation
import Testing
import TestSupport

/// 200 seeded corruptions of a real dataset file and of a real checkpoint (truncation at random
/// offsets, byte flips in the header region and in the data, multi-byte flips, torn writes),
/// each opened and fully read by `flowformer check-file` in a child process. Every file must end
/// in a clean one-line error naming the file, or a load; never a crash or a hang.
///
/// One crash (or hang) is known and tolerated, and only when proven: libhdf5 1.10's global-heap
/// defect (`globalHeapRanges`). A case counts as that defect only if its changes inside the
/// global heap records crash or hang on their own and its other changes on their own do not.
///
/// On failure the message lists each bad case with its index and corruption; case i is
/// regenerated alone from (seed, i) by `corruptions(count:seed:fileSize:…)`, and the files are
/// kept in the directory the message names.
///
/// `RELIABILITY_FUZZ_CASES=N` and `RELIABILITY_FUZZ_SEED=S` in the environment run N cases from
/// another seed (for longer searches; the defaults are what CI runs).
@Suite struct CorruptionFuzzTests {
    static let cases = environmentInt("RELIABILITY_FUZZ_CASES") ?? 200
    /// Mixed into the fixed seeds of the two tests.
    static let seed = UInt64(environmentInt("RELIABILITY_FUZZ_SEED") ?? 0)

    /// A dataset may load after a corruption that changed nothing it reads (padding, unused
    /// header space) or something the format does not protect (dataset files carry no
    /// checksums) — but then every value the loaders hand out is within its guarantees, which
    /// check-file checks (`invalid` otherwise).
    @Test func corruptedDatasetFilesFailCleanlyOrLoadValidValues() throws {
        let directory = try temporaryDirectory("reliability")
        let pristinePath = directory + "/pristine.h5"
        try ImageDatasetFixture().write(to: pristinePath)
        let campaign = try Campaign(kind: "dataset", pristinePath: pristinePath, directory: directory,
                                    seed: 0x5EED_DA7A ^ Self.seed, count: Self.cases)
        let result = try campaign.run()

        var unchanged = 0, changed = 0
        var failures = result.failures
        for (index, outcome) in result.outcomes.enumerated() {
            switch outcome {
            case .loaded(let summary):
                if summary == result.pristineSummary { unchanged += 1 } else { changed += 1 }
            case .invalid:
                failures.append("case \(index) (\(campaign.plan[index])): \(outcome)")
            default:
                break
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.cases) corrupted dataset files (kept in \(directory)):\n\(failures.joined(separator: "\n"))")
        #expect(result.rejected > Self.cases / 2,
                "most corruptions must be detected: \(result.rejected) rejected, \(unchanged) loaded unchanged, \(changed) loaded changed")
        print("dataset corruptions: \(result.rejected) rejected, \(unchanged) loaded with identical contents, "
              + "\(changed) loaded with changed but valid contents, \(result.knownDefects.count) known libhdf5 global-heap crashes"
              + result.knownDefects.map { "\n  \($0)" }.joined())
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// A checkpoint may only load if everything loaded equals the original bit for bit:
    /// parameters, every optimizer moment, the configuration text, the trainer state and the
    /// training data record.
    @Test func corruptedCheckpointsFailCleanlyOrLoadBitwiseIdentical() throws {
        let directory = try temporaryDirectory("reliability")
        let fixture = CheckpointFixture()
        let pristinePath = try fixture.write(into: directory)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pristinePath)))
        let dataRanges = fixture.rawDataRanges(in: original)
        try #require(dataRanges.count == 3 * fixture.table.entries.count,
                     "each parameter and moment entry must be found once in the file")
        let campaign = try Campaign(kind: "checkpoint", pristinePath: pristinePath, directory: directory,
                                    seed: 0x5EED_C4E0 ^ Self.seed, count: Self.cases, dataRanges: dataRanges)
        let result = try campaign.run()

        // The reference summary must describe the buffers and the state that were written.
        let summary = result.pristineSummary
        #expect(summary.contains("model=\(CheckpointFixture.crcHex(fixture.parameters))"), "\(summary)")
        #expect(summary.contains("exp_avg=\(CheckpointFixture.crcHex(fixture.expAvg))"), "\(summary)")
        #expect(summary.contains("exp_avg_sq=\(CheckpointFixture.crcHex(fixture.expAvgSq))"), "\(summary)")
        let dataCRC = String(fixture.dataRecord.checksum(), radix: 16)
        #expect(summary.contains("data=" + String(repeating: "0", count: 8 - dataCRC.count) + dataCRC), "\(summary)")
        #expect(summary.hasPrefix("step=12 epoch=2 batch_in_epoch=7 samples_seen=48 seed=3735928559 world_size=2 best_step=8 "
                                   + "validation_loss=2.5 best_validation_loss=2.25 "), "\(summary)")

        var identical = 0
        var failures = result.failures
        for (index, outcome) in result.outcomes.enumerated() {
            switch outcome {
            case .loaded(let loaded) where loaded == summary:
                identical += 1
            case .loaded(let loaded):
                failures.append("case \(index) (\(campaign.plan[index])): loaded different contents without an error: \(loaded)")
            case .invalid:
                failures.append("case \(index) (\(campaign.plan[index])): \(outcome)")
            default:
                break
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.cases) corrupted checkpoints (kept in \(directory)):\n\(failures.joined(separator: "\n"))")
        #expect(result.rejected > Self.cases / 2,
                "most corruptions must be detected: \(result.rejected) rejected, \(identical) loaded identical")
        print("checkpoint corruptions: \(result.rejected) rejected, \(identical) loaded bitwise identical, "
              + "\(result.knownDefects.count) known libhdf5 global-heap crashes"
              + result.knownDefects.map { "\n  \($0)" }.joined())
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// The harness itself: a crash and a hang are attributed to the file they happened on, and
    /// the files after them are still checked.
    @Test func harnessAttributesCrashesAndHangsToTheirFile() throws {
        let directory = try temporaryDirectory("reliability")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = directory + "/good.h5"
        try ImageDatasetFixture(samples: 32).write(to: good)
        let paths = (0 ..< 6).map { directory + "/copy-\($0).h5" }
        for path in paths { try FileManager.default.copyItem(atPath: good, toPath: path) }
        try Data("not HDF5".utf8).write(to: URL(fileURLWithPath: paths[5]))

        var runner = try CheckFileRunner()
        runner.batchSize = 4
        runner.secondsPerBatch = 5
        runner.extraArguments = ["--inject-crash-on", paths[1], "--inject-hang-on", paths[3]]
        let (outcomes, _) = try runner.check(kind: "dataset", paths)
        #expect(outcomes[paths[0]]?.isLoaded == true, "\(String(describing: outcomes[paths[0]]))")
        #expect(outcomes[paths[1]].map { "\($0)" }?.hasPrefix("CRASHED: signal 11 (SIGSEGV)") == true,
                "\(String(describing: outcomes[paths[1]]))")
        #expect(outcomes[paths[2]]?.isLoaded == true, "\(String(describing: outcomes[paths[2]]))")
        #expect(outcomes[paths[3]].map { "\($0)" }?.hasPrefix("HUNG") == true, "\(String(describing: outcomes[paths[3]]))")
        #expect(outcomes[paths[4]]?.isLoaded == true, "\(String(describing: outcomes[paths[4]]))")
        #expect(outcomes[paths[5]]?.isRejected == true, "\(String(describing: outcomes[paths[5]]))")
    }
}

/// One fuzz campaign: the pristine file, `count` corrupted copies, every one checked in child
/// processes, and the common verdicts (no crash or hang unless proven to be the known libhdf5
/// defect; every error names its file; no stray stderr).
struct Campaign {
    let kind: String
    let pristinePath: String
    let directory: String
    let original: [UInt8]
    let plan: [Corruption]
    let paths: [String]
    let runner: CheckFileRunner

    init(kind: String, pristinePath: String, directory: String, seed: UInt64, count: Int,
         dataRanges: [Range<Int>] = []) throws {
        self.kind = kind
        self.pristinePath = pristinePath
        self.directory = directory
        original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pristinePath)))
        plan = corruptions(count: count, seed: seed, fileSize: original.count, dataRanges: dataRanges)
        var paths: [String] = []
        for (index, corruption) in plan.enumerated() {
            paths.append(try writeCorrupted(original, corruption, directory: directory, name: kind, index: index))
        }
        self.paths = paths
        runner = try CheckFileRunner()
    }

    struct Result {
        /// Outcome of case i.
        let outcomes: [FileOutcome]
        let pristineSummary: String
        let rejected: Int
        /// Crashes proven to be libhdf5's global-heap defect, one line each.
        let knownDefects: [String]
        /// Crashes, hangs and errors that do not name the file, one line each.
        let failures: [String]
    }

    func run() throws -> Result {
        let (byPath, stderr) = try runner.check(kind: kind, [pristinePath] + paths)
        let pristine = byPath[pristinePath]!
        #expect(pristine.isLoaded, "the uncorrupted file must load: \(pristine)")
        #expect(stderr.isEmpty, "check-file wrote to stderr:\n\(stderr)")

        var rejected = 0
        var knownDefects: [String] = [], failures: [String] = []
        for (index, path) in paths.enumerated() {
            let outcome = byPath[path]!
            let label = "case \(index) (\(plan[index]))"
            switch outcome {
            case .rejected(let message):
                rejected += 1
                if !message.contains(path) { failures.append("\(label): the error does not name the file: \(message)") }
            case .crashed, .hung:
                if try isGlobalHeapDefect(index) {
                    knownDefects.append("\(label): \(outcome)")
                } else {
                    failures.append("\(label): \(outcome)")
                }
            case .loaded, .invalid:
                break
            }
        }
        return Result(outcomes: paths.map { byPath[$0]! }, pristineSummary: pristineSummary(pristine),
                      rejected: rejected, knownDefects: knownDefects, failures: failures)
    }

    /// Whether case `index` crashed or hung because of libhdf5's global-heap defect alone: its
    /// changes inside `globalHeapRanges` crash or hang when applied alone to the pristine file,
    /// and its other changes applied alone do neither.
    private func isGlobalHeapDefect(_ index: Int) throws -> Bool {
        let corrupted = plan[index].apply(to: original)
        guard corrupted.count == original.count else { return false }   // truncations are not this defect
        let heap = globalHeapRanges(in: original)
        let inHeap = original.indices.filter { k in corrupted[k] != original[k] && heap.contains { $0.contains(k) } }
        guard !inHeap.isEmpty else { return false }
        var heapOnly = original, withoutHeap = corrupted
        for k in inHeap {
            heapOnly[k] = corrupted[k]
            withoutHeap[k] = original[k]
        }
        let heapOnlyPath = directory + "/\(kind)-\(index)-heap-only.h5"
        let withoutHeapPath = directory + "/\(kind)-\(index)-without-heap.h5"
        try Data(heapOnly).write(to: URL(fileURLWithPath: heapOnlyPath))
        try Data(withoutHeap).write(to: URL(fileURLWithPath: withoutHeapPath))
        var quickRunner = runner
        quickRunner.secondsPerBatch = 15
        let (outcomes, _) = try quickRunner.check(kind: kind, [heapOnlyPath, withoutHeapPath])
        func fails(_ path: String) -> Bool { outcomes[path].map { $0.isCrash || $0.isHang } ?? true }
        return fails(heapOnlyPath) && !fails(withoutHeapPath)
    }
}

/// The summary of a loaded outcome ("" otherwise).
func pristineSummary(_ outcome: FileOutcome) -> String {
    if case .loaded(let summary) = outcome { return summary }
    return ""
}

func environmentInt(_ name: String) -> Int? {
    ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
}
