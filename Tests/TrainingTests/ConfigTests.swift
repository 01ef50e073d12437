import FlowModel
import TensorKernels
import Foundation
import Optimizers
import Testing
@testable import Training
import TestSupport

/// A fresh directory per test (Swift Testing runs tests in parallel).
private func makeDirectory() throws -> URL { try temporaryDirectoryURL("config-tests", label: "") }

/// Writes `text` to `name` in a fresh directory and returns the path.
private func writeConfig(_ text: String, name: String = "run.yaml") throws -> String {
    let path = try makeDirectory().appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs `body`, expects a `ConfigError` of `kind` and returns its one-line message.
private func configError(_ kind: ConfigError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected a ConfigError(\(kind)), nothing was thrown", sourceLocation: sourceLocation)
        return ""
    } catch let error as ConfigError {
        #expect(error.kind == kind, "got \(error.debugDescription)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        return error.description
    } catch {
        Issue.record("expected a ConfigError, got \(error)", sourceLocation: sourceLocation)
        return ""
    }
}

private let minimal = """
    data:
      train: train.h5
    """

@Suite struct ConfigDefaultsTests {
    @Test func defaultsAreTheSpecExample() {
        let c = RunConfig()
        #expect(c.model.kind == .lm && c.model.attention == .flow)
        #expect(c.model.dModel == 256 && c.model.heads == 8 && c.model.layers == 4 && c.model.ff == 1024)
        #expect(c.model.seqLen == 1024 && c.model.vocabSize == 256 && c.model.numClasses == 10)
        #expect(c.model.imageSize == 28 && c.model.channels == 1 && c.model.patch == 4 && c.model.dropout == 0)
        #expect(c.train.globalBatch == 64 && c.train.microBatch == 16 && c.train.steps == 1000 && c.train.epochs == nil)
        #expect(c.train.seed == 0 && c.train.optimizer == .adamw && c.train.lr == 3e-4 && c.train.weightDecay == 0.1)
        #expect(c.train.beta1 == 0.9 && c.train.beta2 == 0.999 && c.train.eps == 1e-8)
        #expect(c.train.schedule == .cosine && c.train.warmupSteps == 100 && c.train.minLr == 3e-5)
        #expect(c.train.clipGradNorm == 1 && c.train.evalEvery == 200 && c.train.logEvery == 10)
        #expect(c.train.threads == 1 && c.train.overlapComm && c.train.bucketMb == 4)
        #expect(c.checkpoint.every == 200 && c.checkpoint.keep == 3 && !c.checkpoint.keepBest)
        #expect(c.data.train.isEmpty && c.data.val.isEmpty)
    }

    @Test func minimalFileKeepsDefaultsAndNamesTheRunDirectory() throws {
        let path = try writeConfig(minimal, name: "kjv-lm.yaml")
        let c = try RunConfig.load(file: path)
        var expected = RunConfig()
        expected.data.train = ["train.h5"]
        expected.checkpoint.dir = "runs/kjv-lm"
        #expect(c == expected)
    }

    @Test func emptyFileIsDefaultsAndThenNeedsTrainingData() throws {
        let path = try writeConfig("# nothing here\n")
        let message = configError(.invalidValue) { _ = try RunConfig.load(file: path) }
        #expect(message == "data.train: required: a file, a glob, or a list of files")
        let c = try RunConfig.load(file: path, overrides: ["data.train=x.h5"])
        #expect(c.data.train == ["x.h5"])
    }

    @Test func helpersDeriveScheduleOptimizerAndAccumulation() throws {
        var c = RunConfig()
        c.train.schedule = .linear
        c.train.optimizer = .sgd
        c.train.nesterov = true
        let schedule = c.train.learningRateSchedule(totalSteps: 500)
        #expect(schedule == LearningRateSchedule(kind: .linear, learningRate: 3e-4, minLearningRate: 3e-5,
                                                 warmupSteps: 100, totalSteps: 500, gamma: 0.1, stepSize: 0))
        var table = ParameterTable()
        table.append("w", shape: [2, 2], decays: true)
        let sgd = try #require(c.train.makeOptimizer(table: table) as? SGD)
        #expect(sgd.nesterov && sgd.momentum == 0.9 && sgd.weightDecay == 0.1)
        c.train.optimizer = .adamw
        let adamw = try #require(c.train.makeOptimizer(table: table) as? AdamW)
        #expect(adamw.beta2 == 0.999 && adamw.eps == 1e-8)
        #expect(c.train.accumulationSteps(worldSize: 2) == 2)
    }
}

@Suite struct ConfigFileTests {
    @Test func everySectionIsRead() throws {
        let path = try writeConfig("""
            model:
              kind: image
              attention: softmax
              d_model: 64
              heads: 4
              layers: 2
              ff: 128
              dropout: 0.1
              image_size: 28
              channels: 1
              patch: 7
              num_classes: 10
            data:
              train: [a.h5, "shards/b-*.h5"]
              val: val.h5
            train:
              global_batch: 128
              micro_batch: 32
              epochs: 3
              seed: 42
              optimizer: sgd
              lr: 1e-2            # YAML 1.1 would read this as a string; it is a number here
              weight_decay: 5.0e-4
              momentum: 0.8
              nesterov: yes
              schedule: step
              lr_gamma: 0.5
              lr_step_size: 1_000
              warmup_steps: 0
              augment: true
              betas: [0.9, 0.95]
            checkpoint:
              dir: runs/fmnist
              keep: 0
              keep_best: true
            """)
        let c = try RunConfig.load(file: path)
        #expect(c.model.kind == .image && c.model.attention == .softmax && c.model.dModel == 64 && c.model.patch == 7)
        #expect(c.model.dropout == 0.1)
        #expect(c.data.train == ["a.h5", "shards/b-*.h5"] && c.data.val == ["val.h5"] && c.data.test == [])
        #expect(c.train.epochs == 3 && c.train.steps == nil)     // epochs replaces the default steps
        #expect(c.train.optimizer == .sgd && c.train.lr == 0.01 && c.train.weightDecay == 5e-4)
        #expect(c.train.nesterov && c.train.momentum == 0.8 && c.train.lrStepSize == 1000 && c.train.lrGamma == 0.5)
        #expect(c.train.augment && c.train.beta2 == 0.95)
        #expect(c.checkpoint.dir == "runs/fmnist" && c.checkpoint.keep == 0 && c.checkpoint.keepBest)
    }

    @Test func overridesApplyAfterTheFileInOrder() throws {
        let path = try writeConfig("""
            data: {train: train.h5}
            train:
              lr: 0.001
              steps: 500
              warmup_steps: 10
            """)
        let c = try RunConfig.load(file: path, overrides: [
            "train.lr=0.002", "train.lr=0.005",        // the last one wins
            "model.heads=4",
            "data.val=[v1.h5, v2.h5]",
            "train.epochs=2",                          // replaces the file's steps
            "checkpoint.dir=out/my run",
        ])
        #expect(c.train.lr == 0.005)
        #expect(c.train.warmupSteps == 10)            // from the file, untouched
        #expect(c.model.heads == 4 && c.model.dModel == 256)
        #expect(c.data.val == ["v1.h5", "v2.h5"])
        #expect(c.train.epochs == 2 && c.train.steps == nil)
        #expect(c.checkpoint.dir == "out/my run")
        let back = try c.applying(overrides: ["train.steps=50", "data.val="])
        #expect(back.train.steps == 50 && back.train.epochs == nil && back.data.val.isEmpty)
    }

    @Test func overrideWorksWithoutAFile() throws {
        let c = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r"])
        #expect(c.data.train == ["t.h5"] && c.checkpoint.dir == "r")
        let message = configError(.invalidValue) { _ = try RunConfig.load(file: nil, overrides: ["data.train=t.h5"]) }
        #expect(message == "checkpoint.dir: required: the directory for checkpoints and metrics")
    }
}

@Suite struct ConfigErrorTests {
    @Test func missingFileAndDirectory() throws {
        let directory = try makeDirectory().path
        let missing = directory + "/nope.yaml"
        #expect(configError(.unreadableFile) { _ = try RunConfig.load(file: missing) }
                == "\(missing): cannot read the configuration file: no such file")
        #expect(configError(.unreadableFile) { _ = try RunConfig.load(file: directory) }
                == "\(directory): cannot read the configuration file: it is a directory")
    }

    @Test func notUTF8() throws {
        let path = try makeDirectory().appendingPathComponent("bad.yaml").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data([0x6D, 0x3A, 0xFF, 0xFE, 0x0A])))
        #expect(configError(.unreadableFile) { _ = try RunConfig.load(file: path) }
                == "\(path): the configuration file is not UTF-8 text")
    }

    @Test func yamlSyntaxErrorNamesFileAndLine() throws {
        let path = try writeConfig("data:\n  train: [a.h5, b.h5\ntrain:\n  lr: 1\n")
        let message = configError(.syntax) { _ = try RunConfig.load(file: path) }
        #expect(message.hasPrefix("\(path):3:"), "\(message)")
        #expect(message.contains("YAML syntax error: did not find expected ',' or ']'"), "\(message)")
        let tabs = try writeConfig("train:\n\tlr: 1\n")
        #expect(configError(.syntax) { _ = try RunConfig.load(file: tabs) }.hasPrefix("\(tabs):2:"))
    }

    @Test func unknownSectionAndKey() throws {
        let section = try writeConfig(minimal + "\ntrian:\n  lr: 1\n")
        #expect(configError(.unknownSection) { _ = try RunConfig.load(file: section) }
                == "\(section):3: trian: unknown section (did you mean train? sections are model, data, train, checkpoint)")
        let topLevel = try writeConfig(minimal + "\nlr: 0.1\n")
        #expect(configError(.unknownSection) { _ = try RunConfig.load(file: topLevel) }
                == "\(topLevel):3: lr: unknown section (did you mean train.lr? keys go inside their section: model, data, train, checkpoint)")
        let key = try writeConfig(minimal + "\ntrain:\n  global_bach: 8\n")
        #expect(configError(.unknownKey) { _ = try RunConfig.load(file: key) }
                == "\(key):4: train.global_bach: unknown key (did you mean train.global_batch?)")
        let far = try writeConfig(minimal + "\ncheckpoint:\n  frequency: 8\n")
        #expect(configError(.unknownKey) { _ = try RunConfig.load(file: far) }
                == "\(far):4: checkpoint.frequency: unknown key (checkpoint keys: dir, every, keep, keep_best, on_error)")
        let misplaced = try writeConfig(minimal + "\nmodel:\n  lr: 8\n")
        #expect(configError(.unknownKey) { _ = try RunConfig.load(file: misplaced) }
                == "\(misplaced):4: model.lr: unknown key (did you mean train.lr?)")
    }

    @Test func duplicateKey() throws {
        let path = try writeConfig(minimal + "\ntrain:\n  lr: 0.1\n  steps: 5\n  lr: 0.2\n")
        #expect(configError(.duplicateKey) { _ = try RunConfig.load(file: path) }
                == "\(path):6: train.lr: duplicate key (first on line 4)")
    }

    @Test func wrongTypes() throws {
        func message(_ yaml: String, prefix: String = minimal + "\n") -> String {
            // Strip the temporary path so the expectations read as what a user sees for run.yaml.
            let text = configError(.wrongType) { _ = try RunConfig.load(file: try writeConfig(prefix + yaml)) }
            guard let colon = text.range(of: "run.yaml") else { return text }
            return String(text[colon.lowerBound...])
        }
        #expect(message("train:\n  global_batch: abc") == #"run.yaml:4: train.global_batch: expected an integer, got "abc""#)
        #expect(message("train:\n  global_batch: 2.5") == #"run.yaml:4: train.global_batch: expected an integer, got "2.5""#)
        #expect(message("train:\n  lr: fast") == #"run.yaml:4: train.lr: expected a number, got "fast""#)
        #expect(message("train:\n  lr: .inf") == #"run.yaml:4: train.lr: expected a number, got ".inf""#)
        #expect(message("train:\n  nesterov: maybe") == #"run.yaml:4: train.nesterov: expected true or false, got "maybe""#)
        #expect(message("checkpoint:\n  dir: [a, b]") == "run.yaml:4: checkpoint.dir: expected a string, got a list")
        #expect(message("checkpoint:\n  dir:") == "run.yaml:4: checkpoint.dir: expected a string, got null")
        #expect(message("data:\n  train: t.h5\n  val: {a: 1}", prefix: "") == "run.yaml:3: data.val: expected a string or a list of strings, got a mapping")
        #expect(message("data:\n  train: t.h5\n  val: [a.h5, [b.h5]]", prefix: "") == "run.yaml:3: data.val[1]: expected a string, got a list")
        #expect(message("model:\n  kind: vit") == #"run.yaml:4: model.kind: expected one of lm, image, sequence, got "vit""#)
        #expect(message("model:\n  attention: [flow]") == "run.yaml:4: model.attention: expected one of flow, softmax, linear, got a list")
        #expect(message("train:\n  optimizer: adam") == #"run.yaml:4: train.optimizer: expected one of adamw, sgd, got "adam""#)
        #expect(message("train:\n  schedule: exp") == #"run.yaml:4: train.schedule: expected one of constant, cosine, linear, step, inverse_sqrt, got "exp""#)
        #expect(message("train:\n  betas: [0.9]") == "run.yaml:4: train.betas: expected a list of two numbers, got a list of 1")
        #expect(message("train:\n  betas: [0.9, x]") == #"run.yaml:4: train.betas[1]: expected a number, got "x""#)
        #expect(message("train: 5") == #"run.yaml:3: train: expected a mapping of train keys, got "5""#)
        #expect(message("train:\n  precision: fp16") == #"run.yaml:4: train.precision: expected one of fp32, bf16, got "fp16""#)
        #expect(message("train:\n  allreduce_dtype: int8") == #"run.yaml:4: train.allreduce_dtype: expected one of fp32, bf16, got "int8""#)
    }

    @Test func precisionKeysReadAndRoundTrip() throws {
        let path = try writeConfig(minimal + "\ntrain:\n  precision: bf16\n  allreduce_dtype: bf16\n")
        let config = try RunConfig.load(file: path)
        #expect(config.train.precision == .bf16)
        #expect(config.train.allreduceDtype == .bf16)
        #expect(RunConfig().train.precision == .fp32 && RunConfig().train.allreduceDtype == .fp32)
        let again = try RunConfig.load(file: try writeConfig(config.yaml, name: "again.yaml"))
        #expect(again == config)
    }

    @Test func wholeFileNotAMapping() throws {
        let path = try writeConfig("- a\n- b\n")
        #expect(configError(.wrongType) { _ = try RunConfig.load(file: path) }
                == "\(path):1: expected a mapping of sections (model, data, train, checkpoint), got a list")
    }

    @Test func overrideErrors() throws {
        let path = try writeConfig(minimal)
        func message(_ kind: ConfigError.Kind, _ override: String) -> String {
            configError(kind) { _ = try RunConfig.load(file: path, overrides: [override]) }
        }
        #expect(message(.malformedOverride, "train.lr") == "--set train.lr: expected section.key=value (e.g. train.lr=0.001)")
        #expect(message(.malformedOverride, "lr=0.1")
                == "--set lr: expected section.key=value with one of the sections model, data, train, checkpoint (e.g. train.lr=0.001)")
        #expect(message(.unknownSection, "optim.lr=0.1") == "--set optim.lr: unknown section (sections are model, data, train, checkpoint)")
        #expect(message(.unknownKey, "train.learning_rate=0.1").hasPrefix("--set train.learning_rate: unknown key (train keys: global_batch, micro_batch,"))
        #expect(message(.wrongType, "train.global_batch=abc") == #"--set train.global_batch: expected an integer, got "abc""#)
        #expect(message(.wrongType, "model.kind=") == "--set model.kind: expected one of lm, image, sequence, got null")
        #expect(message(.syntax, "data.train=[a.h5")
                == #"--set data.train: YAML syntax error in the value "[a.h5": did not find expected ',' or ']' (while parsing a flow sequence)"#)
    }

    @Test func invalidValuesAndCombinations() throws {
        let path = try writeConfig(minimal)
        func message(_ overrides: String...) -> String {
            configError(.invalidValue) { _ = try RunConfig.load(file: path, overrides: overrides) }
        }
        #expect(message("model.heads=6") == "--set model.heads: heads 6 must divide d_model 256 (heads could be 1, 2, 4, 8, 16, 32, 64, 128, 256)")
        #expect(message("model.d_model=100") == "--set model.d_model: heads 8 must divide d_model 100 (heads could be 1, 2, 4, 5, 10, 20, 25, 50, 100)")
        #expect(message("train.global_batch=0") == "--set train.global_batch: must be >= 1, got 0")
        #expect(message("train.micro_batch=0") == "--set train.micro_batch: must be >= 1, got 0")
        #expect(message("train.micro_batch=24") == "--set train.micro_batch: micro_batch 24 must divide global_batch 64 (micro_batch could be 1, 2, 4, 8, 16, 32, 64)")
        #expect(message("train.lr=0") == "--set train.lr: must be > 0, got 0.0")
        #expect(message("train.min_lr=0.1") == "--set train.min_lr: min_lr 0.1 must be in [0, lr 0.0003]")
        #expect(message("train.warmup_steps=2000") == "--set train.warmup_steps: warmup_steps 2000 exceeds steps 1000")
        #expect(try RunConfig.load(file: path, overrides: ["train.steps=100", "train.warmup_steps=100"]).train.warmupSteps == 100)
        #expect(message("model.kind=image", "model.patch=5") == "--set model.patch: patch 5 must divide image_size 28 (patch could be 1, 2, 4, 7, 14, 28)")
        #expect(message("model.kind=image", "model.num_classes=1") == "--set model.num_classes: must be >= 2, got 1")
        #expect(message("model.dropout=1") == "--set model.dropout: must be in [0, 1), got 1.0")
        #expect(message("train.betas=[0.9, 1.0]") == "--set train.betas: each beta must be in [0, 1), got [0.9, 1.0]")
        #expect(message("train.optimizer=sgd", "train.nesterov=true", "train.momentum=0") == "--set train.nesterov: Nesterov momentum needs train.momentum > 0")
        #expect(message("train.augment=true") == "--set train.augment: augmentation (random crop and flip) is only for model.kind image, not lm")
        #expect(message("train.steps=") == "--set train.steps: one of train.steps or train.epochs is required")
        #expect(message("train.log_every=0") == "--set train.log_every: must be >= 1, got 0")

        // Attributed to the file line that set the key.
        let file = try writeConfig(minimal + "\nmodel:\n  d_model: 250\n")
        #expect(configError(.invalidValue) { _ = try RunConfig.load(file: file) }
                == "\(file):4: model.d_model: heads 8 must divide d_model 250 (heads could be 1, 2, 5, 10, 25, 50, 125, 250)")
        let both = try writeConfig(minimal + "\ntrain:\n  steps: 10\n  epochs: 2\n")
        #expect(configError(.invalidValue) { _ = try RunConfig.load(file: both) }
                == "\(both):5: train.epochs: train.steps and train.epochs are exclusive: give one of them")
    }

    @Test func worldSizeDivisibility() throws {
        var c = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r"])
        try c.validate(worldSize: 1)
        try c.validate(worldSize: 4)            // 64 = 4 × 16
        #expect(configError(.worldSize) { try c.validate(worldSize: 3) }
                == "train.global_batch: 64 samples do not split into 3 ranks × micro_batch 16 (global_batch must be a multiple of 3 × 16 = 48); use global_batch 48 or 96, or a world size dividing 64 (1, 2, 4, 8, 16, 32, 64)")
        #expect(configError(.worldSize) { try c.validate(worldSize: 8) }
                == "train.global_batch: 64 samples do not split into 8 ranks × micro_batch 16 (global_batch must be a multiple of 8 × 16 = 128); use global_batch 128, or micro_batch one of 1, 2, 4, 8")
        c.train.globalBatch = 96
        c.train.microBatch = 8
        #expect(configError(.worldSize) { try c.validate(worldSize: 5) }.contains("use global_batch 80 or 120"))
        try c.validate(worldSize: 6)
        #expect(c.train.accumulationSteps(worldSize: 6) == 2)
    }
}

@Suite struct ConfigSerialisationTests {
    /// A configuration with every key away from its default, and awkward strings.
    func unusual() -> RunConfig {
        var c = RunConfig()
        c.model.kind = .sequence
        c.model.attention = .linear
        c.model.dModel = 96; c.model.heads = 3; c.model.layers = 7; c.model.ff = 333; c.model.dropout = 0.125
        c.model.seqLen = 4096; c.model.vocabSize = 17; c.model.numClasses = 11
        c.model.imageSize = 32; c.model.channels = 3; c.model.patch = 8
        c.model.pool = .cls
        c.data.train = ["a: b.h5", "#hash.h5", "quote\"s and \\ back", "tab\there", "ünï.h5"]
        c.data.val = ["single.h5"]
        c.data.test = ["x.h5", "y.h5"]
        c.data.allowChange = true
        var t = c.train
        t.globalBatch = 96; t.microBatch = 12; t.steps = nil; t.epochs = 9; t.seed = 123456789
        t.optimizer = .sgd; t.lr = 3e-5; t.weightDecay = 0; t.beta1 = 0.85; t.beta2 = 0.9999; t.eps = 1e-12
        t.momentum = 0.95; t.nesterov = true; t.schedule = .inverseSqrt; t.warmupSteps = 7; t.minLr = 1e-7
        t.lrGamma = 0.3; t.lrStepSize = 11; t.clipGradNorm = 0; t.evalEvery = 0; t.evalBatches = 5; t.logEvery = 1
        t.threads = 2; t.overlapComm = false; t.bucketMb = 0.5; t.checksumEvery = 0; t.maxNanSkips = 4
        t.augment = false; t.deterministic = true; t.precision = .bf16
        t.memoryCheck = false   // allreduce_dtype bf16 and shard_optimizer exclude deterministic: they stay default
        c.train = t
        c.checkpoint.dir = "runs/'weird' dir: yes"; c.checkpoint.every = 0; c.checkpoint.keep = 1; c.checkpoint.keepBest = true
        c.checkpoint.onError = .continue
        return c
    }

    @Test func allowChangeDefaultsToFalseAndIsADataKey() throws {
        let plain = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r"])
        #expect(plain.data.allowChange == false)
        #expect(plain.yaml.contains("\n  allow_change: false\n"), "\(plain.yaml)")
        let allowed = try plain.applying(overrides: ["data.allow_change=true"])
        #expect(allowed.data.allowChange && !RunConfig.isArchitectureKey("data.allow_change"))
        #expect(allowed.changedKeys(comparedTo: plain) == ["data.allow_change"])
        let message = configError(.wrongType) { _ = try plain.applying(overrides: ["data.allow_change=sometimes"]) }
        #expect(message.contains("data.allow_change"), "\(message)")
    }

    @Test func poolDefaultsToMeanAndClsNeedsASequenceModel() throws {
        let plain = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r"])
        #expect(plain.model.pool == .mean)
        let cls = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r", "model.kind=sequence", "model.pool=cls"])
        #expect(cls.model.pool == .cls && cls.model.tokensPerSample == cls.model.seqLen + 1)
        let message = configError(.invalidValue) {
            _ = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=r", "model.kind=image", "model.pool=cls"])
        }
        #expect(message.contains("model.pool") && message.contains("sequence only"), "\(message)")
    }

    @Test func roundTripGivesAnEqualConfig() throws {
        let c = unusual()
        let text = c.yaml
        let back = try RunConfig(yaml: text, label: "roundtrip")
        #expect(back == c, "\(text)")
        #expect(back.yaml == text)
        #expect(c.changedKeys(comparedTo: back).isEmpty)
        // Every key differs from the default, so every key is written and differs.
        // augment, allreduce_dtype and shard_optimizer stay default (the last two exclude deterministic).
        #expect(RunConfig().changedKeys(comparedTo: c).count == RunConfig.keyPaths.count - 3)
        let defaults = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=d"])
        #expect(try RunConfig(yaml: defaults.yaml) == defaults)
    }

    @Test func yamlHasStableOrderAndReadableNumbers() throws {
        var c = RunConfig()
        c.data.train = ["t.h5"]
        c.checkpoint.dir = "runs/x"
        let lines = c.yaml.split(separator: "\n").map(String.init)
        let keyLines = lines.filter { $0.hasPrefix("  ") }.map { $0.dropFirst(2).split(separator: ":")[0] }
        #expect(keyLines.map(String.init) == RunConfig.keyPaths.map { String($0.split(separator: ".")[1]) })
        #expect(lines.filter { !$0.hasPrefix(" ") && !$0.hasPrefix("#") } == ["model:", "data:", "train:", "checkpoint:"])
        #expect(lines.contains("  min_lr: 3.0e-05"))
        #expect(lines.contains("  lr: 0.0003"))
        #expect(lines.contains("  dropout: 0.0"))
        #expect(lines.contains("  betas: [0.9, 0.999]"))
        #expect(lines.contains("  epochs: null"))
        #expect(lines.contains("  train: \"t.h5\""))
        #expect(lines.contains("  val: []"))
        #expect(yamlNumber(1e-8) == "1.0e-08" && yamlNumber(25) == "25.0" && yamlNumber(0.1) == "0.1")
    }

    @Test func architectureKeysAreTheModelSection() throws {
        #expect(RunConfig.isArchitectureKey("model.d_model"))
        #expect(!RunConfig.isArchitectureKey("train.lr"))
        #expect(RunConfig.keyPaths.filter(RunConfig.isArchitectureKey).count == 14)
        let saved = try RunConfig.load(file: nil, overrides: ["data.train=t.h5", "checkpoint.dir=d"])
        let resumed = try saved.applying(overrides: ["model.layers=6", "train.lr=0.001"])
        #expect(resumed.changedKeys(comparedTo: saved) == ["model.layers", "train.lr"])
        #expect(resumed.changedKeys(comparedTo: saved).filter(RunConfig.isArchitectureKey) == ["model.layers"])
        #expect(try ConfigOverride(parsing: "model.heads=4").keyPath == "model.heads")
        #expect(try ConfigOverride(parsing: "data.train=a=b.h5").value == "a=b.h5")
    }
}
