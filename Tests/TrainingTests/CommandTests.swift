import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The command line end to end: configuration errors stop before any work with one line and
    /// status 1 (2 for command-line usage); `eval` and `inspect` on a real checkpoint; the
    /// cross-rank parameter checksum.
    @Suite struct Commands {
        /// Each case: extra arguments → a fragment of the one-line error.
        static let configurationErrors: [([String], String)] = [
            (["--set", "train.bogus=1"], "train.bogus"),
            (["--set", "train.global_batch=abc"], "expected an integer"),
            (["--set", "model.heads=3"], "heads"),
            (["--set", "model.vocab_size=100"], "vocab_size 256 exceeds model.vocab_size 100"),
            (["--set", "model.kind=image", "--set", "model.num_classes=10"], "needs an 'images' dataset"),
            (["--set", "data.train=/nonexistent/train.h5"], "/nonexistent/train.h5"),
            (["--set", "train.micro_batch=5"], "micro_batch"),
        ]

        @Test(arguments: configurationErrors)
        func configurationErrorsStopBeforeAnyWork(arguments: [String], fragment: String) throws {
            let run = try RunSetup("lm")
            let result = try run.train(ranks: 2, arguments, timeout: 120)
            #expect(result.status == 1 && !result.timedOut, "\(result)")
            #expect(result.flowformerLines.count == 1, "exactly one line from the trainer: \(result)")
            #expect(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"), "\(result)")
        }

        /// FLOWFORMER_STATUS_FILE: rank 0 alone records the status it exits with, for a
        /// configuration error (1) and for a completed run (0); absent, nothing is written.
        @Test func rankZeroRecordsItsExitStatus() throws {
            let run = try RunSetup("lm")
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            let directory = (run.configPath as NSString).deletingLastPathComponent
            let statusFile = directory + "/status"
            for (arguments, expected) in [(["--set", "train.bogus=1"], "1\n"), ([], "0\n")] {
                try? FileManager.default.removeItem(atPath: statusFile)
                let result = try ProcessRunner.mpirun(ranks: 2, flowformer, ["train", "--config", run.configPath] + arguments,
                                                      environment: ["FLOWFORMER_STATUS_FILE": statusFile],
                                                      timeoutSeconds: 300)
                #expect(result.status == Int32(expected.dropLast())!, "\(result)")
                #expect((try? String(contentsOfFile: statusFile, encoding: .utf8)) == expected, "\(arguments): \(result)")
            }
            let others = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(!others.contains { $0.hasSuffix(".tmp") }, "no temporary status files left: \(others)")
        }

        @Test func missingConfigFileAndBadUsage() throws {
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            let missing = try ProcessRunner.run(flowformer, ["train", "--config", "/nonexistent/run.yaml"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.stderrLines.count == 1 && missing.stderr.contains("/nonexistent/run.yaml"), "\(missing)")
            let usage = try ProcessRunner.run(flowformer, ["train", "--config", "x.yaml", "--resume", "a.h5", "--no-resume"])
            #expect(usage.status == 2, "\(usage)")
            #expect(usage.stderrLines.count == 1, "\(usage)")
        }

        @Test func evalAndInspectReadARealCheckpoint() throws {
            let run = try RunSetup("image")
            #expect(try run.train(ranks: 0).status == 0)
            let checkpoint = try #require(try run.checkpoints()[10])
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            let test = try RealData.path("fashion-mnist-test.h5")

            let json = try ProcessRunner.run(flowformer, ["eval", "--checkpoint", checkpoint, "--data", test, "--json"])
            #expect(json.status == 0, "\(json)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["samples"] as? Int == 10_000)
            let loss = try #require(object["loss"] as? Double)
            let accuracy = try #require(object["accuracy"] as? Double)
            #expect(loss.isFinite && loss > 0 && accuracy >= 0 && accuracy <= 1)

            // Two ranks evaluate disjoint halves; the reduced result is the same.
            let split = try ProcessRunner.mpirun(ranks: 2, flowformer, ["eval", "--checkpoint", checkpoint, "--data", test, "--json"])
            #expect(split.status == 0, "\(split)")
            let splitObject = try #require(try JSONSerialization.jsonObject(with: Data(split.stdout.utf8)) as? [String: Any])
            #expect(splitObject["samples"] as? Int == 10_000)
            #expect(abs((splitObject["loss"] as? Double ?? .nan) - loss) < 1e-9 * max(loss, 1))
            #expect(splitObject["accuracy"] as? Double == accuracy)

            let inspect = try ProcessRunner.run(flowformer, ["inspect", checkpoint])
            #expect(inspect.status == 0, "\(inspect)")
            // One line per trainer-state field: the key padded to the longest key (best_validation_loss), the value.
            for (key, value) in [("step", "10"), ("epoch", "0"), ("batch_in_epoch", "10"), ("best_step", "-")] {
                let line = "  " + key.padding(toLength: "best_validation_loss".count, withPad: " ", startingAt: 0) + "  " + value + "\n"
                #expect(inspect.stdout.contains(line), "\(inspect)")
            }
            #expect(inspect.stdout.contains("patch_embed.weight"), "\(inspect)")
            #expect(inspect.stdout.contains("all checksums verified"), "\(inspect)")

            let wrongData = try ProcessRunner.run(flowformer, ["eval", "--checkpoint", checkpoint, "--data", try RealData.path("kjv-val.h5")])
            #expect(wrongData.status == 1 && wrongData.stderrLines.count == 1, "\(wrongData)")
        }

        /// A rank whose parameters drift from rank 0's is caught by the next cross-rank checksum
        /// (train.checksum_every = 5 in the test configuration), and the message names it.
        @Test func parameterChecksumNamesTheRankThatDiffers() throws {
            let run = try RunSetup("lm")
            let result = try run.train(ranks: 3, ["--inject-fault", "desync-params-at-step-3-rank-2"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("parameters differ across ranks at step 5: rank(s) 2 disagree with rank 0"), "\(result)")
            #expect(try run.checkpoints().isEmpty, "nothing may be saved from diverged ranks")
        }
    }
}
