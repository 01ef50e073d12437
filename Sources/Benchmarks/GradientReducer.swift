import MPIComm
import TensorKernels

/// Sums the gradient buffer over ranks, the two ways a data-parallel trainer can:
///
/// - overlap: `hook` is passed to `FlowformerModel.backward`; each range it reports (a block's
///   gradients, final once reported) starts a non-blocking all-reduce at once, and every call
///   polls the requests already started (MPI progresses a shared-memory reduction only inside
///   MPI calls). `finishStep` waits for the rest.
/// - no overlap: `hook` is nil and `finishStep` runs one blocking all-reduce of the whole buffer.
///
/// With one rank both do nothing. The time spent in `finishStep` is the step's comm wait.
final class GradientReducer {
    let gradients: Tensor<Float>  // [parameters]
    let world: Communicator
    let overlap: Bool
    private var pending: [MPIRequest] = []
    private var firstError: Error?

    init(gradients: Tensor<Float>, world: Communicator, overlap: Bool) {
        self.gradients = gradients
        self.world = world
        self.overlap = overlap
    }

    /// The backward hook (nil unless overlapping across several ranks).
    var hook: ((Range<Int>) -> Void)? {
        guard overlap && world.size > 1 else { return nil }
        return { [unowned self] range in self.start(range) }
    }

    func beginStep() throws {
        precondition(pending.isEmpty, "GradientReducer: a step began before the previous one finished")
        firstError = nil
    }

    private func start(_ range: Range<Int>) {
        guard firstError == nil, !range.isEmpty else { return }
        do {
            for request in pending where !request.isComplete { _ = try request.test() }
            let slice = UnsafeMutableBufferPointer(start: gradients.pointer + range.lowerBound, count: range.count)
            pending.append(try world.allReduceNonBlocking(slice, op: .sum))
        } catch {
            firstError = error
        }
    }

    /// Completes the reduction of this step's gradients.
    func finishStep() throws {
        defer { pending.removeAll(keepingCapacity: true) }
        if let firstError { throw firstError }
        guard world.size > 1 else { return }
        if overlap {
            for request in pending { try request.wait() }
        } else {
            try world.allReduce(gradients.buffer, op: .sum)
        }
    }
}
