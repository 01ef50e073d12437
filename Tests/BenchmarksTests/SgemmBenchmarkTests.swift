import Testing
import TensorKernels
@testable import Benchmarks

@Suite struct SgemmBenchmarkTests {
    @Test func linearLayerShapesHaveTheLayersFlops() {
        let shapes = GemmShape.linearLayer("fc", rows: 10, inputs: 3, outputs: 7)
        #expect(shapes.count == 3)
        for shape in shapes { #expect(shape.flops == 2 * 10 * 3 * 7) }
        #expect(shapes[0].transposeB && !shapes[0].transposeA)
        #expect(shapes[2].transposeA && shapes[2].m == 7 && shapes[2].n == 3 && shapes[2].k == 10)
    }

    @Test func resultsConvertTimesToGflopsAndPeakUsesSquaresOnly() {
        let shapes = [GemmShape.square(64), GemmShape(name: "flat", m: 64, n: 8, k: 64)]
        let results = SgemmBenchmark.run(shapes: shapes, threads: 1, policy: .quick)
        #expect(results.count == 2)
        for result in results {
            #expect(result.threads == 1)
            #expect(abs(result.bestGflops - result.shape.flops / result.seconds.min / 1e9) <= 1e-9 * result.bestGflops)
            #expect(result.bestGflops >= result.medianGflops)
        }
        #expect(SgemmBenchmark.peakGflops(results, threads: 1) == results[0].bestGflops)
        #expect(SgemmBenchmark.peakGflops(results, threads: 2) == nil)
    }

    @Test func theAVX512GemmIsMeasuredWhereTheModelWouldUseIt() {
        let shapes = [GemmShape.square(64)]
        let used = SgemmBenchmark.runUsed(shapes: shapes, threads: 1, policy: .quick)
        #expect(used.map(\.implementation) == GemmImplementation.used(threads: 1))
        #expect(GemmImplementation.used(threads: 2) == [.openBLAS])
        if KernelVariant.active.usesAVX512Gemm {
            #expect(used.contains { $0.implementation == .avx512 && $0.bestGflops > 0 })
        }
        if KernelVariant.active.usesBFloat16Gemm {
            #expect(used.contains { $0.implementation == .bf16 && $0.bestGflops > 0 })
        }
        // The bf16 GEMM is not an fp32 GEMM: the peak that MFU divides by ignores it.
        let fp32Best = used.filter { $0.implementation != .bf16 }.map(\.bestGflops).max()
        #expect(SgemmBenchmark.peakGflops(used, threads: 1) == fp32Best)
    }
}
