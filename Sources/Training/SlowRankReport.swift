/// Which rank holds the others back in a log window, from every rank's timings.
///
/// Each rank contributes one row `[compute, wait, fromLeft, fromRight]` (seconds in the window):
/// `compute` is the window's time outside the gradient reduction's wait and the data wait;
/// `wait` is the time blocked in the gradient reduction; `fromLeft` / `fromRight` are the transfer
/// times of the link probe from its ring neighbours (`Communicator.ringTransferSeconds`).
///
/// - Compute: the rank with the most compute is the one the others wait for; its lag is
///   `compute / median(the others' compute) − 1`.
/// - Link (3 or more ranks): a rank's link time is the sum of the four probe transfers that cross
///   its link (from and to each neighbour); a rank behind a slow link has all four slow, its
///   neighbours only two. Lag: `link / median(link) − 1`. With 2 ranks the one link is shared, so
///   no rank can be told from the other. Lags are relative to the median of the other ranks.
///
/// A lag is reported when it exceeds `threshold` (10%).
struct SlowRankReport: Equatable {
    static let fieldsPerRank = 4
    static let threshold = 0.10

    struct Finding: Equatable {
        var rank: Int
        /// Relative excess over the median, e.g. 0.35 for 35% slower.
        var lag: Double
    }

    /// The rank with the most compute, when its lag exceeds the threshold.
    var compute: Finding?
    /// The rank behind the slowest link, when its lag exceeds the threshold (3 or more ranks).
    var link: Finding?

    /// - Parameter rows: `[size, 4]` row-major, rank r's row at `4 r`.
    init(rows: [Double], size: Int) {
        precondition(rows.count == size * Self.fieldsPerRank, "need \(size) rows of \(Self.fieldsPerRank)")
        func row(_ r: Int) -> ArraySlice<Double> { rows[(r * Self.fieldsPerRank)..<((r + 1) * Self.fieldsPerRank)] }
        let compute = (0..<size).map { row($0)[row($0).startIndex] }
        self.compute = Self.worst(compute)
        if size >= 3 {
            let link = (0..<size).map { r -> Double in
                let own = row(r), left = row((r + size - 1) % size), right = row((r + 1) % size)
                // into r: own fromLeft + own fromRight; out of r: left's fromRight + right's fromLeft
                return own[own.startIndex + 2] + own[own.startIndex + 3]
                    + left[left.startIndex + 3] + right[right.startIndex + 2]
            }
            self.link = Self.worst(link)
        }
    }

    /// The largest value's rank and its excess over the median of the others, if above the threshold.
    static func worst(_ values: [Double]) -> Finding? {
        guard values.count >= 2, let top = values.indices.max(by: { values[$0] < values[$1] }) else { return nil }
        var others = values
        others.remove(at: top)
        let sorted = others.sorted()
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        guard median > 0, values[top].isFinite else { return nil }
        let lag = values[top] / median - 1
        return lag > threshold ? Finding(rank: top, lag: lag) : nil
    }
}
