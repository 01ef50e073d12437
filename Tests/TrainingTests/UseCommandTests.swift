import Checkpoints
import FlowModel
import Foundation
import HDF5IO
import TestSupport
import Testing
import Training

extension EndToEnd {
    /// Using a trained model: `generate`, `predict` and `export` on checkpoints of real short runs.
    @Suite struct UseCommands {
        static func json(_ result: ProcessResult) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        }

        static func generate(_ checkpoint: String, _ arguments: [String]) throws -> ProcessResult {
            try ProcessRunner.run(try ProcessRunner.builtProduct("flowformer"),
                                  ["generate", "--checkpoint", checkpoint] + arguments)
        }

        /// Greedy generation equals the argmax of a full forward over the sequence so far, token
        /// after token (a full forward per token against the recurrent decoder); past seq_len it
        /// stops with a message.
        @Test func greedyGenerationIsTheArgmaxOfRepeatedFullForwards() throws {
            let run = try RunSetup("lm")
            #expect(try run.train(ranks: 0).status == 0)
            let checkpoint = try #require(try run.checkpoints()[10])
            let prompt: [Int32] = Array("And the".utf8).map { Int32($0) }
            let result = try Self.generate(checkpoint, ["--prompt", "And the", "--tokens", "20", "--temperature", "0", "--json"])
            #expect(result.status == 0, "\(result)")
            let object = try Self.json(result)
            #expect((object["prompt_tokens"] as? [Int])?.map { Int32($0) } == prompt)
            let generated = try #require(object["tokens"] as? [Int]).map { Int32($0) }
            #expect(generated.count == 20)
            #expect(object["text"] as? String == String(decoding: generated.map { UInt8($0) }, as: UTF8.self))

            let reader = try CheckpointReader(path: checkpoint)
            let config = try RunConfig(yaml: reader.configText).model
            let model = FlowformerModel<Float>(config: config, maxBatch: 1)
            try reader.readParameters(table: model.table, into: model.parameters.pointer)
            var sequence = prompt
            for token in generated {
                var input = sequence + [Int32](repeating: 0, count: config.seqLen - sequence.count)
                let logits = input.withUnsafeMutableBufferPointer { model.inferenceLogits(.tokens($0.baseAddress!), count: 1) }
                let row = Array(logits[(sequence.count - 1) * config.vocabSize ..< sequence.count * config.vocabSize])
                let best = row.max()!
                // The chosen token is a maximum of the full forward's logits (to Float rounding).
                let gap = Double(best - row[Int(token)])
                if !(gap <= 1e-5 * max(1, Double(abs(best)))) {
                    Issue.record("position \(sequence.count): generated \(token), full forward's argmax \(row.firstIndex(of: best)!) (gap \(gap))")
                }
                sequence.append(token)
            }

            // seq_len 32: a 7-token prompt leaves room for 26 generated tokens.
            let full = try Self.generate(checkpoint, ["--prompt", "And the", "--tokens", "40", "--temperature", "0", "--json"])
            #expect(full.status == 0, "\(full)")
            #expect((try Self.json(full)["tokens"] as? [Int])?.count == 26)
            #expect(full.stderr.contains("stopped after 26 of 40 tokens: the context is full"), "\(full)")
            let slid = try Self.generate(checkpoint, ["--prompt", "And the", "--tokens", "40", "--slide", "--json"])
            #expect((try Self.json(slid)["tokens"] as? [Int])?.count == 40, "\(slid)")

            // Same seed, same sample; another seed, another sample; the text streams the same bytes.
            let sample = { (seed: Int) in
                try Self.generate(checkpoint, ["--prompt", "And the", "--tokens", "24", "--temperature", "1",
                                               "--top-k", "40", "--seed", "\(seed)", "--json"])
            }
            let a = try Self.json(try sample(1))["tokens"] as? [Int]
            let b = try Self.json(try sample(1))["tokens"] as? [Int]
            let c = try Self.json(try sample(2))["tokens"] as? [Int]
            #expect(a != nil && a == b)
            #expect(a != c, "seeds 1 and 2 gave the same 24 tokens")
            let streamed = try Self.generate(checkpoint, ["--prompt", "And the", "--tokens", "24", "--temperature", "1",
                                                          "--top-k", "40", "--seed", "1"])
            let text = try #require(try Self.json(try sample(1))["text"] as? String)
            #expect(streamed.status == 0 && streamed.stdout.hasPrefix(text), "\(streamed)")

            // Bad input: one line, status 1 (2 for command-line usage).
            let outside = try Self.generate(checkpoint, ["--prompt-tokens", "65,256", "--tokens", "3"])
            #expect(outside.status == 1 && outside.stderrLines.count == 1, "\(outside)")
            #expect(outside.stderr.contains("token 256 at position 1 is outside the model's vocabulary"), "\(outside)")
            let twoPrompts = try Self.generate(checkpoint, ["--prompt", "a", "--prompt-tokens", "1", "--tokens", "3"])
            #expect(twoPrompts.status == 2 && twoPrompts.stderrLines.count == 1, "\(twoPrompts)")
            let missing = try Self.generate(checkpoint + ".missing", ["--prompt", "a", "--tokens", "3"])
            #expect(missing.status == 1 && missing.stderrLines.count == 1, "\(missing)")
        }

        /// `predict` on the Fashion-MNIST test split under mpirun -np 2: accuracy equals eval's,
        /// the confusion matrix sums to the sample count, and the file holds what was printed.
        /// `generate` refuses the classifier; `export` writes a file the safetensors package
        /// reads back equal to the checkpoint (and PyTorch's model reproduces predict's logits
        /// where PyTorch is installed).
        @Test func predictAndExportAClassifier() throws {
            let run = try RunSetup("image")
            #expect(try run.train(ranks: 0).status == 0)
            let checkpoint = try #require(try run.checkpoints()[10])
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            let test = try RealData.path("fashion-mnist-test.h5")
            let out = run.directory + "/predictions.h5"

            let predict = try ProcessRunner.mpirun(ranks: 2, flowformer, ["predict", "--checkpoint", checkpoint, "--data", test,
                                                                         "--out", out, "--json"])
            #expect(predict.status == 0, "\(predict)")
            let eval = try ProcessRunner.mpirun(ranks: 2, flowformer, ["eval", "--checkpoint", checkpoint, "--data", test, "--json"])
            let predicted = try Self.json(predict), evaluated = try Self.json(eval)
            #expect(predicted["samples"] as? Int == 10_000)
            let accuracy = try #require(predicted["accuracy"] as? Double)
            #expect(accuracy == evaluated["accuracy"] as? Double, "predict \(predict.stdout) eval \(eval.stdout)")
            let confusion = try #require(predicted["confusion"] as? [[Int]])
            #expect(confusion.count == 10 && confusion.allSatisfy { $0.count == 10 })
            #expect(confusion.flatMap { $0 }.reduce(0, +) == 10_000)
            #expect(Double((0..<10).map { confusion[$0][$0] }.reduce(0, +)) / 10_000 == accuracy)

            let file = try HDF5File(path: out, mode: .readOnly)
            let stored = try file.root.dataset("confusion").read(as: Int64.self)
            #expect(stored.map { Int($0) } == confusion.flatMap { $0 })
            #expect(try file.root.attribute("accuracy", as: Double.self) == accuracy)
            #expect(try file.root.dataset("logits").shape == [10_000, 10])
            let labels = try file.root.dataset("labels").read(as: Int32.self)
            let packed = try HDF5File(path: test, mode: .readOnly)
            #expect(labels == (try packed.root.dataset("labels").read(as: UInt8.self)).map { Int32($0) })
            try file.close()
            try packed.close()

            let classifier = try Self.generate(checkpoint, ["--prompt", "a", "--tokens", "3"])
            #expect(classifier.status == 1 && classifier.stderrLines.count == 1, "\(classifier)")
            #expect(classifier.stderr.contains("classifier, not a language model"), "\(classifier)")
            let lmData = try ProcessRunner.run(flowformer, ["predict", "--checkpoint", checkpoint, "--data",
                                                            try RealData.path("kjv-val.h5"), "--out", out])
            #expect(lmData.status == 1 && lmData.stderrLines.count == 1, "\(lmData)")
            #expect(try HDF5File(path: out, mode: .readOnly).root.exists("logits"), "a failed predict replaced the earlier file")
            let unwritable = try ProcessRunner.run(flowformer, ["predict", "--checkpoint", checkpoint, "--data", test,
                                                                "--out", "/nonexistent-dir/p.h5"])
            #expect(unwritable.status == 1 && unwritable.stderrLines.count == 1, "\(unwritable)")
            #expect(unwritable.stderr.contains("/nonexistent-dir/p.h5"), "\(unwritable)")

            try Self.exportAndCheck(checkpoint: checkpoint, predictions: out, data: test, directory: run.directory)
        }

        /// An LM on a tokens split: per-token losses whose mean is eval's loss; an LM given a
        /// labelled (image) split is refused; export round trip with per-token losses.
        @Test func predictAndExportALanguageModel() throws {
            let run = try RunSetup("lm", extra: "")
            #expect(try run.train(ranks: 0).status == 0)
            let checkpoint = try #require(try run.checkpoints()[10])
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            // A small token split (~8 KB of text → 128 windows of 32), packed by the KJV packer.
            let text = run.directory + "/small.txt"
            try String(repeating: "And God said, Let there be light: and there was light. ", count: 146)
                .write(toFile: text, atomically: true, encoding: .utf8)
            let pack = RealData.packageRoot.appendingPathComponent("datasets/pack.sh")
            let packed = try ProcessRunner.run(pack, ["kjv", "--text", text, "--out", run.directory, "--name", "small",
                                                      "--val-fraction", "0.5"])
            #expect(packed.status == 0, "\(packed)")
            let val = run.directory + "/small-val.h5"
            let out = run.directory + "/lm.h5"
            let predict = try ProcessRunner.mpirun(ranks: 2, flowformer, ["predict", "--checkpoint", checkpoint, "--data", val,
                                                                         "--out", out, "--json"])
            #expect(predict.status == 0, "\(predict)")
            let eval = try ProcessRunner.run(flowformer, ["eval", "--checkpoint", checkpoint, "--data", val, "--json"])
            let loss = try #require(try Self.json(predict)["loss"] as? Double)
            let evalLoss = try #require(try Self.json(eval)["loss"] as? Double)
            if !(abs(loss - evalLoss) <= 1e-6 * evalLoss) { Issue.record("predict loss \(loss), eval loss \(evalLoss)") }
            let file = try HDF5File(path: out, mode: .readOnly)
            let samples = try #require(try Self.json(predict)["samples"] as? Int)
            #expect(try file.root.dataset("token_loss").shape == [samples, 32])
            try file.close()

            let labelled = try ProcessRunner.run(flowformer, ["predict", "--checkpoint", checkpoint, "--data",
                                                              try RealData.path("fashion-mnist-test.h5"), "--out", out])
            #expect(labelled.status == 1 && labelled.stderrLines.count == 1, "\(labelled)")
            try Self.exportAndCheck(checkpoint: checkpoint, predictions: out, data: val, directory: run.directory)
        }

        /// `export`, then jobs/torch/check_export.py: the safetensors part always (numpy), the
        /// PyTorch part with jobs/bench/.venv's Python when that has torch.
        static func exportAndCheck(checkpoint: String, predictions: String, data: String, directory: String) throws {
            let flowformer = try ProcessRunner.builtProduct("flowformer")
            let model = directory + "/model.safetensors"
            let export = try ProcessRunner.run(flowformer, ["export", "--checkpoint", checkpoint, "--out", model])
            #expect(export.status == 0, "\(export)")
            let unwritable = try ProcessRunner.run(flowformer, ["export", "--checkpoint", checkpoint, "--out",
                                                                "/nonexistent-dir/model.safetensors"])
            #expect(unwritable.status == 1 && unwritable.stderrLines.count == 1, "\(unwritable)")

            let script = RealData.packageRoot.appendingPathComponent("jobs/torch/check_export.py").path
            let arguments = [script, "--safetensors", model, "--checkpoint", checkpoint, "--predictions", predictions,
                             "--data", data, "--samples", "16"]
            let python = try ProcessRunner.findInPath("python3")
            let check = try ProcessRunner.run(python, arguments, timeoutSeconds: 300)
            #expect(check.status == 0 && check.stdout.contains("equal the checkpoint's"), "\(check)")
            let venv = RealData.packageRoot.appendingPathComponent("jobs/bench/.venv/bin/python")
            let probe = try? ProcessRunner.run(venv, ["-c", "import torch, safetensors, h5py"])
            if probe?.status == 0 {
                let torch = try ProcessRunner.run(venv, arguments + ["--require-torch"], timeoutSeconds: 300)
                #expect(torch.status == 0 && torch.stdout.contains("equal flowformer predict's"), "\(torch)")
            }
        }
    }
}
