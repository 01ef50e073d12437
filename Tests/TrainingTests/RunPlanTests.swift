import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The run plan printed at start (and by `--dry-run`): its memory estimate against the
    /// measured peak resident memory, and the refusal of a run that cannot fit.
    @Suite struct RunPlanChecks {
        /// Planned bytes per rank within 15 % of the largest rank's measured peak RSS (`VmHWM`,
        /// reported by the run itself at the end) — for the LM, the image model and a larger LM.
        @Test(arguments: ["lm", "image", "larger", "larger-sharded"])
        func estimateMatchesThePeakResidentMemory(kind: String) throws {
            let run = try RunSetup(kind.hasPrefix("larger") ? "lm" : kind)
            let larger = ["--set", "model.d_model=256", "--set", "model.heads=4", "--set", "model.layers=6",
                          "--set", "model.ff=1024", "--set", "model.seq_len=128", "--set", "train.global_batch=4",
                          "--set", "train.steps=2", "--set", "train.warmup_steps=1"]
            let sharded = kind == "larger-sharded" ? ["--set", "train.shard_optimizer=true"] : []
            let result = try run.train(ranks: 2, kind.hasPrefix("larger") ? larger + sharded : [])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("run plan: ") && result.stdout.contains("activations saved for backward"), "\(result)")
            let record = try #require(try run.metrics().first { $0["event"] as? String == "memory" }, "no memory record")
            let peak = try #require(record["peak_rss_bytes"] as? Int)
            let planned = try #require(record["planned_bytes"] as? Int)
            let ratio = Double(peak) / Double(planned)
            #expect(ratio >= 0.85 && ratio <= 1.15, "\(kind): peak RSS \(peak) B, planned \(planned) B, ratio \(ratio)")
        }

        /// d_model 8192, 48 layers (≈ 39 G parameters): refused before any allocation with one
        /// line giving the need and what is available, status 1 from every rank, no crash trace.
        @Test func oversizedRunIsRefusedWithItsFigures() throws {
            let run = try RunSetup("lm")
            let result = try run.train(ranks: 2, ["--set", "model.d_model=8192", "--set", "model.heads=64",
                                                  "--set", "model.layers=48", "--set", "model.ff=32768",
                                                  "--set", "model.seq_len=1024", "--set", "train.micro_batch=2"],
                                       timeout: 120)
            #expect(result.status == 1, "\(result)")
            #expect(result.flowformerLines.count == 1, "\(result)")
            let line = result.flowformerLines.first ?? ""
            #expect(line.contains("GiB per rank") && line.contains("available") && line.contains("to fit:")
                    && line.contains("train.memory_check: false"), "\(result)")
            #expect(!result.showsACrash, "\(result)")
            #expect(result.stdout.contains("DOES NOT FIT"), "\(result)")
            #expect(try run.checkpoints().isEmpty)
        }

        /// `--dry-run` checks the validation split against the model as a real start does.
        @Test func dryRunChecksTheValidationSplit() throws {
            let run = try RunSetup("image")
            let result = try run.train(ranks: 2, ["--dry-run", "--set", "data.val=\(try RealData.path("kjv-val.h5"))"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("data.val"), "\(result)")
            #expect(!result.showsACrash, "\(result)")
            #expect(!FileManager.default.fileExists(atPath: run.runDirectory))
        }

        /// `--dry-run` prints the plan and exits 0 without creating the run directory.
        @Test func dryRunPrintsThePlanAndTouchesNothing() throws {
            let run = try RunSetup("image")
            let result = try run.train(ranks: 2, ["--dry-run"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("run plan: ") && result.stdout.contains("2 rank(s), 2 on this node")
                    && result.stdout.contains(": fits"), "\(result)")
            #expect(!result.stdout.contains("step 1/"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: run.runDirectory))
        }
    }
}
