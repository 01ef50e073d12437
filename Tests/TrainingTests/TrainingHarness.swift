import Foundation
import HDF5IO
import TestSupport
import Testing

/// Real data for the end-to-end training tests: Fashion-MNIST and the King James Bible, packed
/// once per test process by the project's own packers from the Debian packages.
enum RealData {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding fashion-mnist-{train,val,test}.h5 and kjv-{train,val}.h5.
    static let directory: Result<String, ProcessRunnerError> = {
        guard let out = try? temporaryDirectory("flowformer-training-tests-data", label: "") else {
            return .failure(ProcessRunnerError("cannot make a directory for the packed data"))
        }
        let pack = packageRoot.appendingPathComponent("datasets/pack.sh")
        for name in ["fashion-mnist", "kjv"] {
            guard let result = try? ProcessRunner.run(pack, [name, "--out", out], timeoutSeconds: 300),
                  result.status == 0 else {
                return .failure(ProcessRunnerError("datasets/pack.sh \(name) failed"))
            }
        }
        return .success(out)
    }()

    static func path(_ file: String) throws -> String { try directory.get() + "/" + file }
}

/// One end-to-end run directory with its configuration file, removed when the setup is released
/// (set FLOWFORMER_KEEP_TEST_RUNS=1 to keep them for a post-mortem).
final class RunSetup {
    let directory: String
    let configPath: String

    /// A tiny model on real data; `kind` is "image" (Fashion-MNIST) or "lm" (KJV bytes).
    /// `trainSamples` (image only): train on the first that many Fashion-MNIST images alone.
    init(_ kind: String, label: String = #function, extra: String = "", trainSamples: Int? = nil) throws {
        directory = NSTemporaryDirectory() + "flowformer-run-\(label.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configPath = directory + "/run.yaml"
        let model: String
        let data: String
        if kind == "image" {
            model = """
                model: {kind: image, attention: flow, d_model: 16, heads: 2, layers: 1, ff: 32, \
                image_size: 28, channels: 1, patch: 7, num_classes: 10}
                """
            var train = try RealData.path("fashion-mnist-train.h5")
            if let trainSamples {
                train = directory + "/train-subset.h5"
                try RealData.writeFashionMNISTSubset(samples: trainSamples, to: train)
            }
            data = "data: {train: \(train), val: []}"
        } else {
            model = """
                model: {kind: lm, attention: flow, d_model: 16, heads: 2, layers: 2, ff: 32, seq_len: 32, vocab_size: 256}
                """
            data = "data: {train: \(try RealData.path("kjv-train.h5")), val: []}"
        }
        let text = """
            \(model)
            \(data)
            train: {global_batch: 12, micro_batch: 2, steps: 10, seed: 3, optimizer: adamw, lr: 3.0e-3, \
            weight_decay: 0.1, schedule: cosine, warmup_steps: 3, min_lr: 1.0e-4, clip_grad_norm: 1.0, \
            eval_every: 0, log_every: 1, checksum_every: 5}
            checkpoint: {dir: \(directory)/run, every: 0, keep: 100}
            \(extra)
            """
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        if ProcessInfo.processInfo.environment["FLOWFORMER_KEEP_TEST_RUNS"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    var runDirectory: String { directory + "/run" }

    /// `flowformer train` under `mpirun -np ranks` (or alone when ranks == 0).
    func train(ranks: Int, _ arguments: [String] = [], timeout: Double = 300) throws -> ProcessResult {
        let flowformer = try ProcessRunner.builtProduct("flowformer")
        let args = ["train", "--config", configPath] + arguments
        if ranks == 0 { return try ProcessRunner.run(flowformer, args, timeoutSeconds: timeout) }
        return try ProcessRunner.mpirun(ranks: ranks, oversubscribe: ranks > 2, flowformer, args,
                                        timeoutSeconds: timeout)
    }

    func start(ranks: Int, _ arguments: [String] = []) throws -> LaunchedProcess {
        let flowformer = try ProcessRunner.builtProduct("flowformer")
        return try ProcessRunner.startMPI(ranks: ranks, oversubscribe: ranks > 2, flowformer,
                                          ["train", "--config", configPath] + arguments)
    }

    /// The training loss logged at each step (metrics.jsonl "train" records), by step.
    func losses() throws -> [Int: Double] {
        var result: [Int: Double] = [:]
        for record in try metrics() where record["event"] as? String == "train" {
            if let step = record["step"] as? Int, let loss = record["loss"] as? Double { result[step] = loss }
        }
        return result
    }

    func metrics() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Checkpoint files of the run, by step.
    func checkpoints() throws -> [Int: String] {
        var result: [Int: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: runDirectory)
        where name.hasPrefix("checkpoint-") && name.hasSuffix(".h5") {
            if let step = Int(name.dropFirst("checkpoint-".count).dropLast(3)) { result[step] = runDirectory + "/" + name }
        }
        return result
    }
}

/// The checkpoint at step 10 of an lm run on `ranks` ranks with `train.overlap_comm` true, then
/// false, and 1 KiB gradient buckets (many buckets, started while backward runs): the two
/// checkpoints' contents (`checkpointContents`), for tests that the reduction's result does not
/// depend on overlap.
func finalCheckpointsWithOverlapOnAndOff(ranks: Int, _ arguments: [String] = [],
                                         label: String = #function) throws -> [[String: [UInt32]]] {
    var finals: [[String: [UInt32]]] = []
    for overlap in [true, false] {
        let run = try RunSetup("lm", label: label)
        let result = try run.train(ranks: ranks, arguments + ["--set", "train.overlap_comm=\(overlap)",
                                                              "--set", "train.bucket_mb=0.001"])
        #expect(result.status == 0, "overlap \(overlap): \(result)")
        finals.append(try checkpointContents(try #require(try run.checkpoints()[10])))
    }
    return finals
}

/// Every float32 dataset under /model and /optimizer of a checkpoint, by path, as raw bits.
func checkpointContents(_ path: String) throws -> [String: [UInt32]] {
    let file = try HDF5File(path: path, mode: .readOnly)
    var result: [String: [UInt32]] = [:]
    func walk(_ group: HDF5Group, _ prefix: String) throws {
        for name in try group.memberNames() {
            let childPath = prefix + "/" + name
            if let dataset = try? group.dataset(name) {
                result[childPath] = try dataset.read(as: Float.self).map(\.bitPattern)
            } else {
                try walk(try group.group(name), childPath)
            }
        }
    }
    try walk(try file.root.group("model"), "/model")
    try walk(try file.root.group("optimizer"), "/optimizer")
    return result
}

/// max over `steps` of |a − b| / |b|: ∞ when a step is missing, NaN when a loss is NaN (so
/// `difference <= bound` fails).
func relativeDifference(_ a: [Int: Double], _ b: [Int: Double], steps: ClosedRange<Int>) -> Double {
    var worst = 0.0
    for step in steps {
        guard let x = a[step], let y = b[step] else { return .infinity }
        worst = largerError(worst, abs(x - y) / max(abs(y), 1e-12))
    }
    return worst
}

/// The largest over the `/model` tensors of max|a − b| / max|b| (tensors as `checkpointContents`
/// returns them): ∞ when the tensors differ in names or sizes, NaN when a value is NaN.
func parameterDifference(_ a: [String: [UInt32]], _ b: [String: [UInt32]]) -> Double {
    guard Set(a.keys) == Set(b.keys), a.keys.contains(where: { $0.hasPrefix("/model/") }) else { return .infinity }
    var worst = 0.0
    for (name, x) in a where name.hasPrefix("/model/") {
        guard let y = b[name], y.count == x.count else { return .infinity }
        var difference = 0.0, magnitude = 0.0
        for (p, q) in zip(x, y) {
            let u = Double(Float(bitPattern: p)), v = Double(Float(bitPattern: q))
            difference = largerError(difference, abs(u - v))
            magnitude = largerError(magnitude, abs(v))
        }
        worst = largerError(worst, magnitude == 0 ? difference : difference / magnitude)
    }
    return worst
}

extension RealData {
    /// A Fashion-MNIST training split of its first `samples` images (same attributes), written
    /// to `file`: small enough that a run of a few steps crosses epoch boundaries.
    static func writeFashionMNISTSubset(samples: Int, to file: String) throws {
        let source = try HDF5File(path: try path("fashion-mnist-train.h5"), mode: .readOnly)
        let images = try source.root.dataset("images")   // uint8 [N, 28, 28]
        let pixels = try images.readRows(0 ..< samples, as: UInt8.self)
        let labels = try source.root.dataset("labels").readRows(0 ..< samples, as: UInt8.self)   // [samples]
        let subset = try HDF5File(path: file, mode: .truncate)
        try subset.root.setAttribute("kind", string: "images")
        try subset.root.setAttribute("format_version", Int64(1))
        try subset.root.setAttribute("num_classes", try source.root.attribute("num_classes", as: Int64.self))
        try subset.root.setAttribute("mean", array: try source.root.attributeArray("mean", as: Double.self))
        try subset.root.setAttribute("std", array: try source.root.attributeArray("std", as: Double.self))
        try subset.root.createDataset("images", of: UInt8.self, shape: [samples] + images.shape.dropFirst(),
                                      chunkRows: samples).write(pixels)
        try subset.root.createDataset("labels", of: UInt8.self, shape: [samples], chunkRows: samples).write(labels)
        try subset.close()
    }
}
