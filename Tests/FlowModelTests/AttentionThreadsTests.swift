import Testing
import TensorKernels
@testable import FlowModel

/// The flow cores split their batch over worker threads; results must be bitwise the same for
/// any number of threads.
@Suite struct AttentionThreadsTests {
    /// forward output and dq, dk, dv of `core` with its pool on `threads` threads.
    private func run<Scalar: TensorScalar>(
        _ core: any AttentionCore<Scalar>, setThreads: (Int) -> Void, threads: Int, seed: UInt64
    ) -> [[Scalar]] {
        setThreads(threads)
        let shape = core.shape
        var random = SeededRandom(seed: seed)
        let q = Tensor<Scalar>(shape: [shape.queryElements], values: random.normals(shape.queryElements).map { Scalar($0) })
        let k = Tensor<Scalar>(shape: [shape.keyElements], values: random.normals(shape.keyElements).map { Scalar($0) })
        let v = Tensor<Scalar>(shape: [shape.keyElements], values: random.normals(shape.keyElements).map { Scalar($0) })
        let upstream = Tensor<Scalar>(shape: [shape.queryElements],
                                      values: random.normals(shape.queryElements).map { Scalar($0) })
        let out = Tensor<Scalar>(shape.queryElements)
        let dq = Tensor<Scalar>(shape.queryElements), dk = Tensor<Scalar>(shape.keyElements)
        let dv = Tensor<Scalar>(shape.keyElements)
        core.forward(queries: q.pointer, keys: k.pointer, values: v.pointer, output: out.pointer)
        core.backward(outputGradient: upstream.pointer, queryGradient: dq.pointer, keyGradient: dk.pointer,
                      valueGradient: dv.pointer)
        withExtendedLifetime((q, k, v, upstream)) {}
        return [out.array, dq.array, dk.array, dv.array]
    }

    private func check<Scalar: TensorScalar>(_: Scalar.Type) {
        let names = ["output", "dq", "dk", "dv"]
        for causal in [false, true] {
            // 5 batch elements: 2 and 3 threads split them unevenly.
            let shape = AttentionShape(batch: 5, length: 70, modelWidth: 16, heads: 2, causal: causal)
            let core = makeAttentionCore(.flow, shape: shape, scalar: Scalar.self, causalChunk: 16)
            let setThreads: (Int) -> Void = { threads in
                if let flow = core as? FlowAttention<Scalar> { flow.workspaces.threads = threads }
                if let flow = core as? CausalFlowAttention<Scalar> { flow.workspaces.threads = threads }
            }
            let single = run(core, setThreads: setThreads, threads: 1, seed: 5)
            for threads in [2, 3] {
                let multi = run(core, setThreads: setThreads, threads: threads, seed: 5)
                for (name, (a, b)) in zip(names, zip(single, multi)) {
                    let differing = a.indices.filter { a[$0] != b[$0] }
                    #expect(differing.isEmpty,
                            "\(Scalar.self) causal=\(causal): \(name) on \(threads) threads differs from 1 thread at \(differing.count) of \(a.count) elements, first \(differing.first ?? -1)")
                }
            }
        }
    }

    @Test func sameBitsOnOneTwoAndThreeThreads() {
        check(Float.self)
        check(Double.self)
    }
}
