import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// `train.deterministic: true`: the same bits on any number of ranks — the final parameters
    /// and optimizer state, and every metrics record (losses, accuracies, gradient norms,
    /// evaluations), with dropout, augmentation, gradient accumulation, small overlapped buckets
    /// and clipping on.
    @Suite struct Determinism {
        /// Global batch 24 in micro-batches of 2: every W in 1, 2, 3, 4, 6 holds whole micro-batches
        /// (6 ranks: 2 each; 1 rank: 12). Evaluation every 10 steps, a checkpoint every 10.
        static func arguments(_ kind: String) throws -> [String] {
            var arguments = ["train.deterministic=true", "train.global_batch=24", "train.micro_batch=2",
                             "train.steps=20", "model.dropout=0.1", "train.bucket_mb=0.001",
                             "train.eval_every=10", "train.eval_batches=4", "checkpoint.every=10",
                             "data.val=\(try RealData.path(kind == "image" ? "fashion-mnist-val.h5" : "kjv-val.h5"))"]
            if kind == "image" { arguments.append("train.augment=true") }
            return arguments.flatMap { ["--set", $0] }
        }

        /// The metrics.jsonl records without what depends on the clock, the world size or the run
        /// directory: throughput and wait shares, the slow-rank report (timings), and the end-of-run
        /// memory record (resident memory per rank).
        static func comparableRecords(_ run: RunSetup) throws -> [NSDictionary] {
            let volatile: Set<String> = ["samples_per_second", "tokens_per_second", "data_wait_share", "comm_wait_share",
                                         "world_size", "path",
                                         "slowest_rank", "slowest_host", "slowest_lag",
                                         "slow_link_rank", "slow_link_host", "slow_link_lag"]
            return try run.metrics().filter { $0["event"] as? String != "memory" }.map { record in
                NSDictionary(dictionary: record.filter { !volatile.contains($0.key) })
            }
        }

        @Test(arguments: ["lm", "image"])
        func sameBitsOnOneTwoThreeFourAndSixRanks(_ kind: String) throws {
            let reference = try RunSetup(kind)
            let single = try reference.train(ranks: 1, try Self.arguments(kind))
            #expect(single.status == 0, "\(single)")
            let expectedState = try checkpointContents(try #require(try reference.checkpoints()[20]))
            let expectedRecords = try Self.comparableRecords(reference)
            #expect(expectedState.count > 10)
            #expect(expectedRecords.filter { $0["event"] as? String == "train" }.count == 20)
            #expect(expectedRecords.filter { $0["event"] as? String == "eval" }.count == 2)

            // Three ranks also without overlap: one all-reduce after backward, the same sums.
            for (ranks, overlap) in [(2, true), (3, false), (4, true), (6, true)] {
                let run = try RunSetup(kind)
                let result = try run.train(ranks: ranks, try Self.arguments(kind) + ["--set", "train.overlap_comm=\(overlap)"])
                #expect(result.status == 0, "np=\(ranks): \(result)")
                let state = try checkpointContents(try #require(try run.checkpoints()[20]))
                #expect(state == expectedState, "np=\(ranks): /model or /optimizer differ from np=1 (\(differingNames(state, expectedState)))")
                let records = try Self.comparableRecords(run)
                #expect(records == expectedRecords, "np=\(ranks): metrics records differ from np=1: \(firstDifference(records, expectedRecords))")
            }
        }

        /// Stopped at step 7 on 3 ranks, resumed on 2 and finished: bitwise the uninterrupted
        /// 1-rank run (the checkpoint carries the fixed-point exponents).
        @Test func stopOnThreeRanksResumeOnTwoEqualsOneRank() throws {
            let straight = try RunSetup("lm")
            #expect(try straight.train(ranks: 1, try Self.arguments("lm")).status == 0)
            let run = try RunSetup("lm")
            let first = try run.train(ranks: 3, try Self.arguments("lm") + ["--stop-at-step", "7"])
            #expect(first.status == 75, "\(first)")
            let second = try run.train(ranks: 2, try Self.arguments("lm"))
            #expect(second.status == 0, "\(second)")
            #expect(second.stdout.contains("resuming from"), "\(second)")

            let expected = try checkpointContents(try #require(try straight.checkpoints()[20]))
            let resumed = try checkpointContents(try #require(try run.checkpoints()[20]))
            #expect(resumed == expected, "resumed run differs: \(differingNames(resumed, expected))")
            // flowformer eval of the final checkpoint: the same numbers on 1 and 3 ranks (batches of
            // 50 do not split evenly over 3 ranks).
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            var evaluations: [[String]] = []
            for ranks in [1, 3] {
                let evaluation = try ProcessRunner.mpirun(
                    ranks: ranks, oversubscribe: ranks > 2, flowformer,
                    ["eval", "--checkpoint", try #require(try straight.checkpoints()[20]),
                     "--data", try RealData.path("kjv-val.h5"), "--batch", "50", "--json"], timeoutSeconds: 300)
                #expect(evaluation.status == 0, "\(evaluation)")
                evaluations.append(evaluation.stdoutLines)
            }
            #expect(evaluations[0].count == 1 && evaluations[0] == evaluations[1], "eval on 1 and 3 ranks: \(evaluations)")

            let training: (NSDictionary) -> Bool = { ["train", "eval", "redo", "skip"].contains($0["event"] as? String ?? "") }
            let a = try Self.comparableRecords(run).filter(training)
            let b = try Self.comparableRecords(straight).filter(training)
            #expect(a == b, "records differ: \(firstDifference(a, b))")
        }

        /// A NaN in one rank's gradient: detected while quantising (never converted to an
        /// integer), every rank skips the step, and which rank (of how many) saw it makes no
        /// difference to the final bits.
        @Test func nonFiniteGradientIsSkippedAlikeOnAnyNumberOfRanks() throws {
            var finals: [[String: [UInt32]]] = []
            for (ranks, rank) in [(2, 1), (3, 0)] {
                let run = try RunSetup("lm")
                let result = try run.train(ranks: ranks, try Self.arguments("lm") + [
                    "--set", "train.max_nan_skips=1", "--inject-fault", "nan-grad-at-step-4-rank-\(rank)",
                ])
                #expect(result.status == 0, "\(result)")
                #expect(result.stdoutLines.filter { $0.contains("non-finite") }
                        == ["step 4: non-finite gradients; skipped (1 in a row, limit 1)"], "\(result)")
                finals.append(try checkpointContents(try #require(try run.checkpoints()[20])))
            }
            #expect(finals[0] == finals[1], "the skipped step left different states on 2 and 3 ranks")
        }
    }
}

/// Names of the datasets whose bits differ between two checkpoint contents.
func differingNames(_ a: [String: [UInt32]], _ b: [String: [UInt32]]) -> String {
    let names = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    return names.isEmpty ? "none" : names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " …" : "")
}

/// The first pair of records that differ, for a message.
func firstDifference(_ a: [NSDictionary], _ b: [NSDictionary]) -> String {
    for (x, y) in zip(a, b) where x != y { return "\(x) vs \(y)" }
    return a.count == b.count ? "none" : "\(a.count) records vs \(b.count)"
}
