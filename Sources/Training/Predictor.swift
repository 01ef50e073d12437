#if canImport(Glibc)
import Glibc
#endif
import Datasets
import FlowModel
import HDF5IO
import MPIComm

/// What `flowformer predict` computed for every sample of a split, in dataset order, on rank 0.
public struct Predictions: Sendable {
    public let kind: ModelKind
    /// Samples of the split (every one predicted exactly once across ranks).
    public let samples: Int
    /// Classifiers: outputs per sample (C). LM: positions per sample (L).
    public let width: Int
    /// Classifiers: logits [N, C]. LM: empty.
    public let logits: [Float]
    /// Classifiers: argmax of each sample's logits (smallest index on ties) [N].
    public let predicted: [Int32]
    /// Classifiers: the file's labels [N].
    public let labels: [Int32]
    /// LM: next-token cross-entropy of every position, nats [N, L].
    public let tokenLoss: [Float]

    /// Classifiers: confusion[t·C + p] = samples of label t predicted as p; sums to N.   [C, C]
    public var confusion: [Int64] {
        var counts = [Int64](repeating: 0, count: width * width)
        for i in 0..<predicted.count { counts[Int(labels[i]) * width + Int(predicted[i])] += 1 }
        return counts
    }

    /// Classifiers: correct predictions / N.
    public var accuracy: Double {
        var correct = 0
        for i in 0..<predicted.count where predicted[i] == labels[i] { correct += 1 }
        return Double(correct) / Double(max(samples, 1))
    }

    /// Classifiers: per label, correct / samples with that label (NaN for a label with none).   [C]
    public var perClassAccuracy: [Double] {
        let counts = confusion
        return (0..<width).map { t in
            let row = counts[t * width ..< (t + 1) * width].reduce(0, +)
            return row == 0 ? .nan : Double(counts[t * width + t]) / Double(row)
        }
    }

    /// LM: each sample's mean token loss.   [N]
    public var sampleLoss: [Double] {
        (0..<samples).map { s in tokenLoss[s * width ..< (s + 1) * width].reduce(0.0) { $0 + Double($1) } / Double(width) }
    }

    /// LM: mean token loss over the split (the `eval` loss).
    public var meanLoss: Double { sampleLoss.reduce(0, +) / Double(max(samples, 1)) }
}

/// `flowformer predict`: a checkpoint's outputs on every sample of a split, spread over the ranks
/// like `eval` (the same partition), gathered on rank 0 and written to an HDF5 file.
public enum Predictor {
    /// Rank 0 reads the checkpoint and opens `output` (truncating it) before any work, so a bad
    /// path fails at once; every rank predicts its share; rank 0 gets everything and writes it.
    ///
    /// - Returns: the predictions (complete on rank 0 only), the run configuration and the step.
    public static func predict(checkpoint path: String, data: [String], output: String, batchSize: Int?,
                               communicator: Communicator) throws -> (predictions: Predictions, config: RunConfig, step: Int) {
        // Rank 0 writes under a temporary name and renames at the end: an earlier file at
        // `output` survives a failed run.
        let temporary = output + ".tmp-\(getpid())"
        var outputFile: HDF5File?
        defer {
            if let outputFile {   // still set: the run failed before the rename
                try? outputFile.close()
                unlink(temporary)
            }
        }
        let loaded = try CheckpointModel.load(path: path, batchSize: batchSize, communicator: communicator) {
            do { outputFile = try HDF5File(path: temporary, mode: .truncate) } catch {
                throw TrainingError("cannot write --out \(output): \(error)")
            }
        }
        let config = loaded.config, step = loaded.step, batch = loaded.batchSize, model = loaded.model
        let split = try loaded.openSplit(data, communicator: communicator)
        let kind = config.model.kind
        let length = config.model.seqLen
        let loader = try communicator.allSucceed {
            try EvaluationLoader(split: split, batchSize: batch, worldSize: communicator.size, rank: communicator.rank,
                                 sequenceLength: kind == .image ? nil : length)
        }
        let samples = try communicator.allReduce(Int64(loader.sampleCount), op: .sum)
        let n = Int(samples)
        let width = kind == .lm ? length : config.model.numClasses
        let vocab = config.model.vocabSize
        // Every rank fills the rows of its own samples; the sum over ranks gathers them.
        var values = [Double](repeating: 0, count: n * width)   // logits or token losses  [N, width]
        var labels = [Double](repeating: 0, count: kind == .lm ? 0 : n)
        while let batch = try loader.next() {
            let out: UnsafeBufferPointer<Float>
            switch kind {
            case .lm, .sequence: out = model.inferenceLogits(.tokens(batch.tokens.pointer), count: batch.count)
            case .image: out = model.inferenceLogits(.pixels(batch.pixels.pointer), count: batch.count)
            }
            for row in 0..<batch.count {
                let sample = batch.sampleIndex(row)
                if kind == .lm {
                    for i in 0..<length {
                        let logits = out.baseAddress! + (row * length + i) * vocab
                        let target = Int(batch.targets.pointer[row * length + i])
                        values[sample * length + i] = crossEntropy(logits, target: target, classes: vocab)
                    }
                } else {
                    for c in 0..<width { values[sample * width + c] = Double(out[row * width + c]) }
                    labels[sample] = Double(batch.labels.pointer[row])
                }
            }
        }
        try communicator.allReduce(&values, op: .sum)
        if kind != .lm { try communicator.allReduce(&labels, op: .sum) }

        let predictions: Predictions
        if kind == .lm {
            predictions = Predictions(kind: kind, samples: n, width: width, logits: [], predicted: [], labels: [],
                                      tokenLoss: values.map { Float($0) })
        } else {
            let logits = values.map { Float($0) }
            var predicted = [Int32](repeating: 0, count: n)
            for s in 0..<n {
                var best = 0
                for c in 1..<width where logits[s * width + c] > logits[s * width + best] { best = c }
                predicted[s] = Int32(best)
            }
            predictions = Predictions(kind: kind, samples: n, width: width, logits: logits, predicted: predicted,
                                      labels: labels.map { Int32($0) }, tokenLoss: [])
        }
        _ = try communicator.rootDecides {
            if let file = outputFile {
                try write(predictions, to: file, checkpoint: path, step: step)
                guard rename(temporary, output) == 0 else {
                    throw TrainingError("cannot write --out \(output): \(String(cString: strerror(errno)))")
                }
                outputFile = nil
            }
            return ""
        }
        return (predictions, config, step)
    }

    /// −log softmax(logits)[target], in Double.
    static func crossEntropy(_ logits: UnsafePointer<Float>, target: Int, classes: Int) -> Double {
        var maximum = Double(logits[0])
        for c in 1..<classes { maximum = max(maximum, Double(logits[c])) }
        var sum = 0.0
        for c in 0..<classes { sum += Double.exp(Double(logits[c]) - maximum) }
        return maximum + Double.log(sum) - Double(logits[target])
    }

    /// The file's layout (README of `flowformer predict`).
    static func write(_ p: Predictions, to file: HDF5File, checkpoint: String, step: Int) throws {
        let root = file.root
        try root.setAttribute("kind", string: p.kind.rawValue)
        try root.setAttribute("checkpoint", string: checkpoint)
        try root.setAttribute("step", Int64(step))
        try root.setAttribute("samples", Int64(p.samples))
        let rows = max(1, min(p.samples, 4096))
        if p.kind == .lm {
            try root.createDataset("token_loss", of: Float.self, shape: [p.samples, p.width], chunkRows: rows,
                                   gzipLevel: 4).write(p.tokenLoss)
            try root.createDataset("sample_loss", of: Double.self, shape: [p.samples], chunkRows: rows,
                                   gzipLevel: 4).write(p.sampleLoss)
            try root.setAttribute("loss", p.meanLoss)
        } else {
            try root.createDataset("logits", of: Float.self, shape: [p.samples, p.width], chunkRows: rows,
                                   gzipLevel: 4).write(p.logits)
            try root.createDataset("predictions", of: Int32.self, shape: [p.samples], chunkRows: rows,
                                   gzipLevel: 4).write(p.predicted)
            try root.createDataset("labels", of: Int32.self, shape: [p.samples], chunkRows: rows,
                                   gzipLevel: 4).write(p.labels)
            try root.createDataset("confusion", of: Int64.self, shape: [p.width, p.width]).write(p.confusion)
            try root.createDataset("per_class_accuracy", of: Double.self, shape: [p.width]).write(p.perClassAccuracy)
            try root.setAttribute("accuracy", p.accuracy)
        }
        try file.close()
    }
}
