import Checkpoints
import FlowModel
import MPIComm
import Optimizers
import TensorKernels

/// Moves a sharded optimizer state between the ranks' shards and rank 0's one checkpoint file,
/// one (parameter entry, state) pair at a time, so rank 0 never holds more than the largest
/// entry (`scratch`, `[largest entry]`) — never the whole state.
///
/// Every rank walks the same list of pairs in the same order — every entry of the table, its
/// states in `optimizer.stateBuffers` order, which is the order `CheckpointWriter` writes them —
/// and takes part in one gather (save) or scatter (restore) per pair: rank r's piece is the part
/// of the entry inside its shard. Rank 0 must complete the whole list even when its file work
/// fails half-way (`finishGathers`), or the other ranks would wait in a collective forever.
///
/// Each gather and scatter waits at most the collective timeout; a rank that died or stopped
/// meanwhile ends the job through `abort` (the trainer's lost-rank report, status 76) instead of
/// leaving the others in the collective.
final class ShardedState {
    private let communicator: Communicator
    private let table: ParameterTable
    private let shards: [Range<Int>]
    private let states: [(name: String, buffer: Tensor<Float>)]
    /// Rank 0's buffer for one entry's state, `[largest entry]`; empty on the others.
    private let scratch: Tensor<Float>
    /// Each rank's piece of each entry, `[entries, size]`: its length, and where it goes in the
    /// entry. Kept for the life of the object: MPI reads them while a collective is in flight.
    private let pieceCounts: UnsafeMutablePointer<Int32>
    private let pieceDisplacements: UnsafeMutablePointer<Int32>
    private let timeoutSeconds: Double
    /// Ends the job after a gather or scatter failed or timed out. Until the trainer sets its
    /// lost-rank report (once it is fully built), one line and status 76.
    var abort: (MPIError) -> Never
    /// Gathers done so far in the current save (rank 0).
    private var gathered = 0

    init(communicator: Communicator, table: ParameterTable, shards: [Range<Int>], optimizer: any Optimizer,
         timeoutSeconds: Double) {
        self.communicator = communicator
        self.table = table
        self.shards = shards
        self.states = optimizer.stateBuffers
        self.timeoutSeconds = timeoutSeconds
        abort = { error in
            communicator.abort(message: "flowformer: rank \(communicator.rank): \(error); ending the job with exit status "
                               + "\(ExitStatus.lostRanks) (failed, resumable)", code: ExitStatus.lostRanks)
        }
        let largest = table.entries.map(\.count).max() ?? 0
        scratch = Tensor<Float>(shape: [communicator.isRoot ? largest : 0])
        let ranks = communicator.size
        pieceCounts = .allocate(capacity: table.entries.count * ranks)
        pieceDisplacements = .allocate(capacity: table.entries.count * ranks)
        for (index, entry) in table.entries.enumerated() {
            for (rank, owned) in shards.enumerated() {
                let lower = max(entry.offset, owned.lowerBound), upper = min(entry.offset + entry.count, owned.upperBound)
                pieceCounts[index * ranks + rank] = Int32(max(0, upper - lower))
                pieceDisplacements[index * ranks + rank] = Int32(max(0, min(lower, entry.offset + entry.count) - entry.offset))
            }
        }
    }

    deinit {
        pieceCounts.deallocate()
        pieceDisplacements.deallocate()
    }

    private var pairCount: Int { table.entries.count * states.count }
    private var shard: Range<Int> { shards[communicator.rank] }

    /// Runs one collective and waits for it within the timeout; an MPI failure ends the job.
    private func complete(_ start: () throws -> MPIRequest) throws {
        do {
            try start().wait(seconds: timeoutSeconds)
        } catch let error as MPIError {
            abort(error)
        }
    }

    /// Where this rank's piece of `entry` starts in its shard-local state buffers.
    private func localOffset(of entry: ParameterEntry) -> Int {
        min(max(entry.offset, shard.lowerBound), shard.upperBound) - shard.lowerBound
    }

    private func gather(pair index: Int) throws -> UnsafePointer<Float> {
        let entryIndex = index / states.count
        let entry = table.entries[entryIndex]
        let state = states[index % states.count]
        let pieces = entryIndex * communicator.size
        try complete {
            try communicator.gatherNonBlocking(send: state.buffer.pointer + localOffset(of: entry),
                                               receive: communicator.isRoot ? scratch.pointer : nil,
                                               counts: pieceCounts + pieces, displacements: pieceDisplacements + pieces,
                                               root: 0)
        }
        return UnsafePointer(scratch.pointer)
    }

    // MARK: save

    /// Rank 0, before writing: the save starts at the first pair.
    func beginGathers() { gathered = 0 }

    /// Rank 0: `CheckpointWriter`'s `fetchOptimizerState` — gathers the next pair, which must be
    /// (`name`, `entry`).
    func fetch(_ name: String, _ entry: ParameterEntry) throws -> UnsafePointer<Float> {
        precondition(gathered < pairCount && table.entries[gathered / states.count] == entry
                     && states[gathered % states.count].name == name,
                     "the checkpoint writer asked for \(name) of \(entry.name) out of order")
        defer { gathered += 1 }
        return try gather(pair: gathered)
    }

    /// Rank 0, after writing (done or failed): the gathers the writer did not ask for.
    func finishGathers() throws {
        while gathered < pairCount {
            _ = try gather(pair: gathered)
            gathered += 1
        }
    }

    /// Ranks other than 0: their part of every gather of a save.
    func serveGathers() throws {
        for index in 0 ..< pairCount { _ = try gather(pair: index) }
    }

    // MARK: restore

    /// Every rank: restores its shard of every state from `reader` (rank 0's; nil elsewhere),
    /// scattering entry by entry. A read error on rank 0 is returned (the scatters still
    /// complete, with zeros) for the caller to agree on.
    func restore(from reader: CheckpointReader?) throws -> String? {
        var failure: String?
        for index in 0 ..< pairCount {
            let entryIndex = index / states.count
            let entry = table.entries[entryIndex]
            let state = states[index % states.count]
            if let reader, failure == nil {
                do {
                    try reader.readOptimizerState(state.name, entry: entry, into: scratch.pointer)
                } catch {
                    failure = "\(error)"
                    scratch.zero()
                }
            }
            let pieces = entryIndex * communicator.size
            try complete {
                try communicator.scatterNonBlocking(send: communicator.isRoot ? UnsafePointer(scratch.pointer) : nil,
                                                    counts: pieceCounts + pieces, displacements: pieceDisplacements + pieces,
                                                    receive: state.buffer.pointer + localOffset(of: entry), root: 0)
            }
        }
        return failure
    }
}
