import Datasets
import FlowModel

/// The model and its data must agree (docs/FORMATS.md: "Dataset files", "Configuration"): kind, vocabulary, classes, image geometry,
/// sequence length. Checked before any work starts, with the key and the file in the message.
enum DataCompatibility {
    static func check(model: ModelConfig, split: DatasetSplit, key: String) throws {
        let name = split.displayName
        func fail(_ reason: String) throws -> Never { throw TrainingError("\(key) (\(name)): \(reason)") }
        switch model.kind {
        case .lm:
            guard split.kind == .tokens else {
                try fail("model.kind lm needs a 'tokens' dataset, the file's kind is '\(split.kind.rawValue)'")
            }
            guard split.vocabSize <= model.vocabSize else {
                try fail("the file's vocab_size \(split.vocabSize) exceeds model.vocab_size \(model.vocabSize)")
            }
        case .sequence:
            guard split.kind == .sequences else {
                try fail("model.kind sequence needs a 'sequences' dataset, the file's kind is '\(split.kind.rawValue)'")
            }
            guard split.vocabSize <= model.vocabSize else {
                try fail("the file's vocab_size \(split.vocabSize) exceeds model.vocab_size \(model.vocabSize)")
            }
            guard split.numClasses == model.numClasses else {
                try fail("the file's num_classes \(split.numClasses) differs from model.num_classes \(model.numClasses)")
            }
            guard split.fileSequenceLength == model.seqLen else {
                try fail("the file's sequences have length \(split.fileSequenceLength), model.seq_len is \(model.seqLen)")
            }
        case .image:
            guard split.kind == .images else {
                try fail("model.kind image needs an 'images' dataset, the file's kind is '\(split.kind.rawValue)'")
            }
            guard split.numClasses == model.numClasses else {
                try fail("the file's num_classes \(split.numClasses) differs from model.num_classes \(model.numClasses)")
            }
            guard split.imageHeight == model.imageSize, split.imageWidth == model.imageSize else {
                try fail("the file's images are \(split.imageHeight)×\(split.imageWidth), model.image_size is \(model.imageSize)")
            }
            guard split.imageChannels == model.channels else {
                try fail("the file's images have \(split.imageChannels) channel(s), model.channels is \(model.channels)")
            }
        }
    }
}
