import FlowModel
import Optimizers

/// One configuration key: its YAML name, how to read it into a `RunConfig`, how to write it back
/// as YAML text, and a one-line description for documentation and errors.
struct ConfigKey {
    let section: String
    let name: String
    /// The value's type as the README names it: integer, number, boolean, string, …
    let type: String
    let read: (inout RunConfig, ConfigValue) throws -> Void
    let write: (RunConfig) -> String

    var path: String { "\(section).\(name)" }
}

extension ConfigKey {
    static func integer(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, Int>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "integer",
                  read: { config, value in config[keyPath: keyPath] = try value.int() },
                  write: { String($0[keyPath: keyPath]) })
    }

    static func optionalInteger(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, Int?>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "integer or null",
                  read: { config, value in config[keyPath: keyPath] = try value.optionalInt() },
                  write: { $0[keyPath: keyPath].map { String($0) } ?? "null" })
    }

    static func number(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, Double>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "number",
                  read: { config, value in config[keyPath: keyPath] = try value.double() },
                  write: { yamlNumber($0[keyPath: keyPath]) })
    }

    static func boolean(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, Bool>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "boolean",
                  read: { config, value in config[keyPath: keyPath] = try value.bool() },
                  write: { $0[keyPath: keyPath] ? "true" : "false" })
    }

    static func string(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, String>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "string",
                  read: { config, value in config[keyPath: keyPath] = try value.string() },
                  write: { quoted($0[keyPath: keyPath]) })
    }

    static func strings(_ section: String, _ name: String, _ keyPath: WritableKeyPath<RunConfig, [String]>) -> ConfigKey {
        ConfigKey(section: section, name: name, type: "string or list of strings",
                  read: { config, value in config[keyPath: keyPath] = try value.strings() },
                  write: { config in
                      let list = config[keyPath: keyPath]
                      return list.count == 1 ? quoted(list[0]) : "[" + list.map(quoted).joined(separator: ", ") + "]"
                  })
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ section: String, _ name: String,
                                                            _ keyPath: WritableKeyPath<RunConfig, E>) -> ConfigKey
    where E.RawValue == String {
        ConfigKey(section: section, name: name, type: E.allCases.map(\.rawValue).joined(separator: " | "),
                  read: { config, value in config[keyPath: keyPath] = try value.enumeration(E.self) },
                  write: { $0[keyPath: keyPath].rawValue })
    }
}

/// A Double as YAML text that reads back to the same Double, and that YAML 1.1 tools (PyYAML)
/// also read as a float: Swift's shortest round-trip digits, with `.0` added where there is no
/// decimal point (`3e-05` → `3.0e-05`, `1` → `1.0`).
func yamlNumber(_ value: Double) -> String {
    var text = "\(value)"
    if text.contains(".") || !value.isFinite { return text }
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        text.insert(contentsOf: ".0", at: e)
    } else {
        text += ".0"
    }
    return text
}

extension RunConfig {
    /// The sections, in file order.
    public static let sections = ["model", "data", "train", "checkpoint"]

    /// The section whose keys are the architecture: on resume they come from the checkpoint, and
    /// an override that changes one of them is a conflict.
    public static let architectureSection = "model"

    /// Every key, in the order `yaml` writes them.
    static let keys: [ConfigKey] = [
        .choice("model", "kind", \.model.kind),
        .choice("model", "attention", \.model.attention),
        .integer("model", "d_model", \.model.dModel),
        .integer("model", "heads", \.model.heads),
        .integer("model", "layers", \.model.layers),
        .integer("model", "ff", \.model.ff),
        .number("model", "dropout", \.model.dropout),
        .integer("model", "seq_len", \.model.seqLen),
        .integer("model", "vocab_size", \.model.vocabSize),
        .integer("model", "num_classes", \.model.numClasses),
        .integer("model", "image_size", \.model.imageSize),
        .integer("model", "channels", \.model.channels),
        .integer("model", "patch", \.model.patch),
        .choice("model", "pool", \.model.pool),

        .strings("data", "train", \.data.train),
        .strings("data", "val", \.data.val),
        .strings("data", "test", \.data.test),
        .boolean("data", "allow_change", \.data.allowChange),

        .integer("train", "global_batch", \.train.globalBatch),
        .integer("train", "micro_batch", \.train.microBatch),
        .optionalInteger("train", "steps", \.train.steps),
        .optionalInteger("train", "epochs", \.train.epochs),
        .integer("train", "seed", \.train.seed),
        .choice("train", "optimizer", \.train.optimizer),
        .number("train", "lr", \.train.lr),
        .number("train", "weight_decay", \.train.weightDecay),
        ConfigKey(section: "train", name: "betas", type: "list of two numbers",
                  read: { config, value in (config.train.beta1, config.train.beta2) = try value.numberPair() },
                  write: { "[\(yamlNumber($0.train.beta1)), \(yamlNumber($0.train.beta2))]" }),
        .number("train", "eps", \.train.eps),
        .number("train", "momentum", \.train.momentum),
        .boolean("train", "nesterov", \.train.nesterov),
        .choice("train", "schedule", \.train.schedule),
        .integer("train", "warmup_steps", \.train.warmupSteps),
        .number("train", "min_lr", \.train.minLr),
        .number("train", "lr_gamma", \.train.lrGamma),
        .integer("train", "lr_step_size", \.train.lrStepSize),
        .number("train", "clip_grad_norm", \.train.clipGradNorm),
        .integer("train", "eval_every", \.train.evalEvery),
        .integer("train", "eval_batches", \.train.evalBatches),
        .integer("train", "log_every", \.train.logEvery),
        .integer("train", "threads", \.train.threads),
        .boolean("train", "overlap_comm", \.train.overlapComm),
        .number("train", "bucket_mb", \.train.bucketMb),
        .integer("train", "checksum_every", \.train.checksumEvery),
        .integer("train", "max_nan_skips", \.train.maxNanSkips),
        .boolean("train", "augment", \.train.augment),
        .boolean("train", "memory_check", \.train.memoryCheck),
        .boolean("train", "shard_optimizer", \.train.shardOptimizer),
        .boolean("train", "deterministic", \.train.deterministic),
        .choice("train", "precision", \.train.precision),
        .choice("train", "allreduce_dtype", \.train.allreduceDtype),

        .string("checkpoint", "dir", \.checkpoint.dir),
        .integer("checkpoint", "every", \.checkpoint.every),
        .integer("checkpoint", "keep", \.checkpoint.keep),
        .boolean("checkpoint", "keep_best", \.checkpoint.keepBest),
        .choice("checkpoint", "on_error", \.checkpoint.onError),
    ]

    /// Every key path (`section.key`), in file order.
    public static var keyPaths: [String] { keys.map(\.path) }

    /// Whether `keyPath` (`section.key`) is an architecture key (the whole `model:` section).
    public static func isArchitectureKey(_ keyPath: String) -> Bool {
        keyPath.hasPrefix(architectureSection + ".")
    }

    static func key(section: String, name: String) -> ConfigKey? {
        keys.first { $0.section == section && $0.name == name }
    }

    /// The key paths whose values differ between `self` and `other`, in file order — e.g.
    /// `changedKeys(comparedTo: checkpointConfig).filter(RunConfig.isArchitectureKey)` on resume.
    public func changedKeys(comparedTo other: RunConfig) -> [String] {
        Self.keys.filter { $0.write(self) != $0.write(other) }.map(\.path)
    }

    /// The fully resolved configuration as YAML, every key in a fixed order, values written so
    /// that parsing the text back (`RunConfig(yaml:)`) gives an equal `RunConfig`.
    public var yaml: String {
        var lines = ["# flowformer run configuration (fully resolved)"]
        for section in Self.sections {
            lines.append("\(section):")
            for key in Self.keys where key.section == section {
                lines.append("  \(key.name): \(key.write(self))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
