import Foundation

/// `value` with `digits` digits after the point ("12.35"), without locale.
public func formatFixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    return String(format: "%.\(digits)f", value)
}

/// A plain-text table: a header row, a rule, and rows, columns padded to their widest cell.
/// Numbers are right-aligned, text left-aligned (a cell is a number when it parses as one, with
/// an optional trailing `×` or `%`).
public struct TextTable {
    public var title: String
    public var header: [String]
    public var rows: [[String]] = []

    public init(title: String, header: [String]) {
        self.title = title
        self.header = header
    }

    public mutating func add(_ row: [String]) {
        precondition(row.count == header.count, "TextTable \(title): row has \(row.count) cells, header \(header.count)")
        rows.append(row)
    }

    /// The table as lines joined by newlines, ending with one.
    public func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ cells: [String], alignNumbers: Bool) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return alignNumbers && TextTable.isNumeric(cell) ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var text = title + "\n"
        text += line(header, alignNumbers: false) + "\n"
        text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { text += line(row, alignNumbers: true) + "\n" }
        return text
    }

    static func isNumeric(_ cell: String) -> Bool {
        var core = Substring(cell)
        if core.hasSuffix("×") || core.hasSuffix("%") { core = core.dropLast() }
        return !core.isEmpty && Double(core) != nil
    }
}
