import MPIComm

/// A failure every rank knows about, because the ranks agreed on it through a collective.
/// The command prints it once (on rank 0) and every rank exits cleanly — no `MPI_Abort` needed,
/// no rank left waiting.
public struct CollectiveFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Non-finite loss or gradients in more consecutive steps than `train.max_nan_skips` allows.
/// Every rank sees the same reduced gradients, so every rank throws it at the same step.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The text of an error on one line.
func oneLine(_ error: Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
}

extension Communicator {
    /// Runs `decide` on rank 0 only and gives every rank its result. If it throws, every rank
    /// throws the same `CollectiveFailure`. Rank 0 alone touches files this way, so the ranks
    /// can never disagree about what a file said.
    ///
    /// - Parameter agree: how the ranks combine their success flags `[1]` with a minimum (rank 0's
    ///   is 0 when `decide` threw, the others' 1); by default a blocking all-reduce. The trainer
    ///   passes one with its collective timeout, so the other ranks do not wait forever for a
    ///   rank 0 that died or was stopped inside `decide` (e.g. writing a checkpoint).
    func rootDecides(agreeingWith agree: ((UnsafeMutableBufferPointer<Int32>) throws -> Void)? = nil,
                     _ decide: () throws -> String) throws -> String {
        var succeeded: [Int32] = [1]
        var text = ""
        if isRoot {
            do { text = try decide() } catch {
                succeeded[0] = 0
                text = oneLine(error)
            }
        }
        try succeeded.withUnsafeMutableBufferPointer { flag in
            if let agree { try agree(flag) } else { try allReduce(flag, op: .min) }
        }
        text = try broadcast(text, root: 0)
        if succeeded[0] == 0 { throw CollectiveFailure(text) }
        return text
    }

    /// Runs `body` on every rank; if it throws on any rank, every rank throws a
    /// `CollectiveFailure` carrying the message of the lowest failing rank.
    func allSucceed<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var message = ""
        do { result = try body() } catch { message = oneLine(error) }
        let firstFailing = try allReduce(Int32(result == nil ? rank : size), op: .min)
        if firstFailing == Int32(size), let result { return result }
        let text = try broadcast(message, root: Int(firstFailing))
        throw CollectiveFailure(size > 1 && firstFailing != 0 ? "rank \(firstFailing): \(text)" : text)
    }
}
