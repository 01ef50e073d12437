import Datasets
import FlowModel

extension FlowformerModel where Scalar == Float {
    /// Forward of rows `first ..< first + count` of `batch`, with the inputs and targets its kind
    /// feeds the model — the one place a batch becomes model input:
    ///
    /// | data kind | model kind | input | targets |
    /// |---|---|---|---|
    /// | tokens | lm | `tokens` [n, L] | `targets` [n, L] (next tokens) |
    /// | sequences | sequence | `tokens` [n, L] | `labels` [n] |
    /// | images | image | `pixels` [n, H·W·C] | `labels` [n] |
    ///
    /// The row strides come from the batch's own buffer shapes; `DataCompatibility` has checked
    /// that they match the model's configuration.
    public func forward(_ batch: Batch, rows first: Int, count: Int, context: ForwardContext) -> LossSums {
        precondition(first >= 0 && count >= 1 && first + count <= batch.count,
                     "rows \(first) ..< \(first + count) are not in the batch's 0 ..< \(batch.count)")
        switch batch.kind {
        case .tokens:
            let length = batch.tokens.shape[1]
            return forward(.tokens(batch.tokens.pointer + first * length),
                           targets: batch.targets.pointer + first * length, count: count, context: context)
        case .sequences:
            let length = batch.tokens.shape[1]
            return forward(.tokens(batch.tokens.pointer + first * length),
                           targets: batch.labels.pointer + first, count: count, context: context)
        case .images:
            let pixels = batch.pixels.shape[1]
            return forward(.pixels(batch.pixels.pointer + first * pixels),
                           targets: batch.labels.pointer + first, count: count, context: context)
        }
    }
}
