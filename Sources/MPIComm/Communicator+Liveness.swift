#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import _CMPI

/// Which ranks still answer, after a collective stalled.
///
/// A collective that never completes says only that *some* rank did not contribute. To name it,
/// the waiting ranks ask each other point to point: `unansweredRanks(within:)` sends a probe
/// (tag `LivenessTags.probe`) to every other rank and collects replies (tag `LivenessTags.reply`).
/// A rank answers probes whenever it is itself waiting — `MPIRequest.wait(seconds:)` calls
/// `answerLivenessProbes()` once a wait has lasted `MPIRequest.probeAnswersAfter` — and while it
/// probes. A rank that is dead, frozen (SIGSTOP) or cut off does not answer.
///
/// Point-to-point messages on `MPI_COMM_WORLD` do not interfere with collectives in flight (MPI
/// keeps them in separate contexts). Sends are `MPI_Isend` + `MPI_Request_free`, so a probe to
/// an unreachable rank never blocks the sender.
enum LivenessTags {
    static let probe: Int32 = 30_901
    static let reply: Int32 = 30_902
}

/// The 4-byte payload of every probe and reply; sends read it after the call returns, so it
/// must outlive them (it lives for the whole process).
nonisolated(unsafe) private let livenessPayload: UnsafeMutablePointer<Int32> = {
    let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    pointer.initialize(to: 1)
    return pointer
}()

extension Communicator {
    /// Replies to every liveness probe that has arrived; never blocks. Errors are ignored: this
    /// runs only on the way to aborting or while waiting on a stalled collective.
    public func answerLivenessProbes() {
        Communicator.answerLivenessProbes(handle)
    }

    static func answerLivenessProbes(_ comm: MPI_Comm?) {
        var received: Int32 = 0
        for _ in 0..<64 {   // at most one probe per rank and round is expected; bound the loop anyway
            var flag: Int32 = 0
            var status = MPI_Status()
            guard MPI_Iprobe(ff_mpi_any_source(), LivenessTags.probe, comm, &flag, &status) == ff_mpi_success(),
                  flag != 0 else { return }
            let source = status.MPI_SOURCE
            guard MPI_Recv(&received, 1, ff_mpi_int32(), source, LivenessTags.probe, comm,
                           ff_mpi_status_ignore()) == ff_mpi_success() else { return }
            var reply: MPI_Request? = ff_mpi_request_null()
            if MPI_Isend(livenessPayload, 1, ff_mpi_int32(), source, LivenessTags.reply, comm, &reply) == ff_mpi_success() {
                MPI_Request_free(&reply)
            }
        }
    }

    /// Probes every other rank and returns, in increasing order, the ranks that did not reply
    /// within `seconds` (answering the others' probes meanwhile). Meant for the moment after a
    /// collective timed out, before aborting: it leaves requests to silent ranks pending.
    public func unansweredRanks(within seconds: Double) -> [Int] {
        guard size > 1 else { return [] }
        let peers = (0..<size).filter { $0 != rank }
        var replies = [MPI_Request?](repeating: ff_mpi_request_null(), count: peers.count)
        // [peers] receive buffers. A reply may still arrive after this returns (to a request left
        // pending), so they are freed only when every reply came.
        let replyBuffers = UnsafeMutablePointer<Int32>.allocate(capacity: peers.count)
        replyBuffers.initialize(repeating: 0, count: peers.count)
        var answered = [Bool](repeating: false, count: peers.count)
        for (index, peer) in peers.enumerated() {
            if MPI_Irecv(replyBuffers + index, 1, ff_mpi_int32(), Int32(peer), LivenessTags.reply,
                         handle, &replies[index]) != ff_mpi_success() {
                replies[index] = ff_mpi_request_null()
            }
            var probe: MPI_Request? = ff_mpi_request_null()
            if MPI_Isend(livenessPayload, 1, ff_mpi_int32(), Int32(peer), LivenessTags.probe, handle, &probe) == ff_mpi_success() {
                MPI_Request_free(&probe)
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .nanoseconds(Int64(seconds * 1e9))
        repeat {
            answerLivenessProbes()
            for index in peers.indices where !answered[index] && replies[index] != ff_mpi_request_null() {
                var flag: Int32 = 0
                if MPI_Test(&replies[index], &flag, ff_mpi_status_ignore()) == ff_mpi_success(), flag != 0 {
                    answered[index] = true
                }
            }
            if !answered.contains(false) { break }
            usleep(1_000)
        } while clock.now < deadline
        if !answered.contains(false) { replyBuffers.deallocate() }
        return peers.indices.filter { !answered[$0] }.map { peers[$0] }
    }
}
