/// A dataset that cannot be used as given: one line naming the file, the dataset inside it and,
/// where it applies, the row, e.g.
///
///     train.h5:/labels row 1234: label 11 ≥ num_classes 10
///     val-00001-of-00002.h5: image shape [32, 32, 3] differs from [28, 28, 1] in val-00000-of-00002.h5
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    /// The one-line message.
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// `file: what`.
    static func at(_ file: String, _ what: String) -> DatasetError {
        DatasetError("\(file): \(what)")
    }

    /// `file:/dataset row r: what` or `file:/dataset: what`.
    static func at(_ file: String, dataset: String, row: Int? = nil, _ what: String) -> DatasetError {
        DatasetError("\(file):/\(dataset)\(row.map { " row \($0)" } ?? ""): \(what)")
    }
}
