import TensorKernels

/// Token embedding: a lookup table `embed.weight` [vocab, d_model].
///
///     forward:  out[r, :] = table[token[r], :]                 r over the n·L token rows
///     backward: dTable[token[r], :] += dOut[r, :]              (scatter-add, accumulates)
///
/// No gradient flows to the tokens (they are integers).
enum TokenEmbedding {
    /// - Parameters:
    ///   - tokens: [rows] token ids, each in 0 ..< vocab.
    ///   - table: [vocab, dModel].
    ///   - out: [rows, dModel], overwritten.
    public static func forward<Scalar: TensorScalar>(
        tokens: UnsafePointer<Int32>, table: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
        rows: Int, vocab: Int, dModel: Int
    ) {
        for r in 0..<rows {
            let token = Int(tokens[r])
            precondition(token >= 0 && token < vocab,
                         "token id \(token) at row \(r) is outside the vocabulary 0..<\(vocab)")
            copy(table + token &* dModel, into: out + r &* dModel, count: dModel)
        }
    }

    /// - Parameters:
    ///   - tokens: [rows], as given to `forward`.
    ///   - dOut: [rows, dModel] gradient of the loss with respect to `out`.
    ///   - dTable: [vocab, dModel], accumulated into.
    public static func backward<Scalar: TensorScalar>(
        tokens: UnsafePointer<Int32>, dOut: UnsafePointer<Scalar>, dTable: UnsafeMutablePointer<Scalar>,
        rows: Int, dModel: Int
    ) {
        for r in 0..<rows {
            let target = dTable + Int(tokens[r]) &* dModel
            add(target, dOut + r &* dModel, into: target, count: dModel)
        }
    }
}
