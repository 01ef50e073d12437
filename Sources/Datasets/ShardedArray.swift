import HDF5IO

/// One dataset (`images`, `labels` or `tokens`) of a split seen as a single array whose rows are
/// the rows of its shard files one after another.
///
/// `read(rows:into:)` reads any row range with one hyperslab read per shard it touches.
final class ShardedArray {
    struct Shard {
        let file: String          // the path as given, for messages
        let dataset: HDF5Dataset
        let firstRow: Int         // row of the whole array where this shard starts
        let rowCount: Int
    }

    let name: String              // dataset name inside each file, e.g. "labels"
    let shards: [Shard]
    let rowShape: [Int]           // extents after the first axis, the same in every shard
    let rowElements: Int          // product of rowShape
    let rowCount: Int             // rows of all shards together

    init(name: String, datasets: [(file: String, dataset: HDF5Dataset)]) {
        precondition(!datasets.isEmpty, "ShardedArray needs at least one shard")
        self.name = name
        var shards: [Shard] = []
        var row = 0
        for (file, dataset) in datasets {
            shards.append(Shard(file: file, dataset: dataset, firstRow: row, rowCount: dataset.rowCount))
            row += dataset.rowCount
        }
        self.shards = shards
        rowShape = Array(datasets[0].dataset.shape.dropFirst())
        rowElements = rowShape.reduce(1, *)
        rowCount = row
    }

    /// Index of the shard holding `row` (binary search on first rows).
    func shardIndex(containing row: Int) -> Int {
        precondition(row >= 0 && row < rowCount, "row \(row) is not in 0..<\(rowCount) of \(name)")
        var low = 0, high = shards.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if shards[middle].firstRow <= row { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The file and the row inside it that hold global row `row` (for messages).
    func locate(_ row: Int) -> (file: String, row: Int) {
        let shard = shards[shardIndex(containing: row)]
        return (shard.file, row - shard.firstRow)
    }

    /// Reads global rows `rows` into `destination` ([rows.count, rowElements], HDF5 converting
    /// the stored type to `T`), crossing shard boundaries as needed.
    func read<T: HDF5Scalar>(rows: Range<Int>, into destination: UnsafeMutablePointer<T>) throws {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount,
                     "rows \(rows) are not inside 0..<\(rowCount) of \(name)")
        guard !rows.isEmpty else { return }
        var index = shardIndex(containing: rows.lowerBound)
        var row = rows.lowerBound
        var out = destination
        while row < rows.upperBound {
            let shard = shards[index]
            let end = min(rows.upperBound, shard.firstRow + shard.rowCount)
            if end > row {
                try shard.dataset.readRows((row - shard.firstRow) ..< (end - shard.firstRow), into: out)
                out += (end - row) * rowElements
                row = end
            }
            index += 1
        }
    }
}
