#if arch(x86_64)
import Foundation
import Testing
import TensorKernels
import TensorKernelsAVX2
import TestSupport

// Each AVX2 build of a kernel against the baseline build of the same kernel. Swift never fuses
// a·b + c into one rounding and the vectoriser may not reorder floating-point sums, so the two
// builds must agree to the last bit — on every length (vector body and scalar tail) and in
// place. Accuracy against naive references is TensorKernelsTests' job; this proves the AVX2
// build computes exactly what those tests checked.

/// Lengths around the 4- and 8-lane vector widths and the 8-lane sums, plus a long buffer.
private let lengths = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1000, 4099]

/// Deterministic values spread over [−scale, scale], with a few exact zeros and large values
/// that reach the saturated branches of σ, exp and erf.
private func values(_ count: Int, seed: UInt64, scale: Float = 6) -> [Float] {
    var stream = XorShift64(seed: seed)
    return (0..<count).map { i in
        let unit = Float(stream.next() >> 40) / Float(1 << 24)   // [0, 1)
        switch i % 97 {
        case 0: return 0
        case 1: return 95
        case 2: return -120
        default: return (unit * 2 - 1) * scale
        }
    }
}

/// True when the two arrays hold the same bit patterns.
private func bitwiseEqual(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

@Suite("AVX2 kernels equal the baseline build bitwise",
       .enabled(if: KernelVariant.cpuSupportsX86_64_v3, "this CPU cannot run x86-64-v3 code"))
struct AVX2KernelTests {
    @Test("gelu with derivative, out of place and with the derivative over x", arguments: lengths)
    func gelu(count: Int) {
        let x = values(count, seed: 1)
        var baseY = [Float](repeating: 0, count: count), baseSlope = baseY
        var fastY = baseY, fastSlope = baseY
        TensorKernels.gelu(x, into: &baseY, derivative: &baseSlope, count: count)
        AVX2Kernels.gelu(x, into: &fastY, derivative: &fastSlope, count: count)
        #expect(bitwiseEqual(baseY, fastY))
        #expect(bitwiseEqual(baseSlope, fastSlope))

        var inPlace = x, inPlaceY = [Float](repeating: 0, count: count)
        inPlace.withUnsafeMutableBufferPointer { buffer in
            AVX2Kernels.gelu(buffer.baseAddress!, into: &inPlaceY, derivative: buffer.baseAddress!, count: count)
        }
        #expect(bitwiseEqual(inPlaceY, baseY))
        #expect(bitwiseEqual(inPlace, baseSlope))
    }

    @Test("gelu stored as bf16, with its derivative", arguments: lengths)
    func geluIntoBFloat16(count: Int) {
        let x = values(count, seed: 11)
        var baseBits = [UInt16](repeating: 0, count: count), fastBits = baseBits
        var baseSlope = [Float](repeating: 0, count: count), fastSlope = baseSlope
        TensorKernels.gelu(x, intoBFloat16: &baseBits, derivative: &baseSlope, count: count)
        AVX2Kernels.gelu(x, intoBFloat16: &fastBits, derivative: &fastSlope, count: count)
        #expect(baseBits == fastBits)
        #expect(bitwiseEqual(baseSlope, fastSlope))
    }

    @Test("sigmoid, out of place and in place", arguments: lengths)
    func sigmoid(count: Int) {
        let x = values(count, seed: 2, scale: 20)
        var base = [Float](repeating: 0, count: count), fast = base
        TensorKernels.sigmoid(x, into: &base, count: count)
        AVX2Kernels.sigmoid(x, into: &fast, count: count)
        #expect(bitwiseEqual(base, fast))
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { AVX2Kernels.sigmoid($0.baseAddress!, into: $0.baseAddress!, count: count) }
        #expect(bitwiseEqual(inPlace, base))
    }

    @Test("add and multiply, out of place and in place", arguments: lengths)
    func addAndMultiply(count: Int) {
        let a = values(count, seed: 3), b = values(count, seed: 4)
        for (name, base, fast) in [
            ("add", TensorKernels.add as (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
             AVX2Kernels.add as (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void),
            ("multiply", TensorKernels.multiply, AVX2Kernels.multiply),
        ] {
            var expected = [Float](repeating: 0, count: count), got = expected
            base(a, b, &expected, count)
            fast(a, b, &got, count)
            #expect(bitwiseEqual(expected, got), "\(name)")
            var inPlace = a
            inPlace.withUnsafeMutableBufferPointer { fast($0.baseAddress!, b, $0.baseAddress!, count) }
            #expect(bitwiseEqual(inPlace, expected), "\(name) in place")
        }
    }

    @Test("sumOverRows, written and accumulated", arguments: [(1, 1), (3, 7), (64, 9), (100, 192), (37, 1024)])
    func sumOverRows(shape: (rows: Int, cols: Int)) {
        let x = values(shape.rows * shape.cols, seed: 5)
        let start = values(shape.cols, seed: 6)
        for accumulate in [false, true] {
            var base = start, fast = start
            TensorKernels.sumOverRows(x, rows: shape.rows, cols: shape.cols, into: &base, accumulate: accumulate)
            AVX2Kernels.sumOverRows(x, rows: shape.rows, cols: shape.cols, into: &fast, accumulate: accumulate)
            #expect(bitwiseEqual(base, fast), "accumulate \(accumulate)")
        }
    }

    @Test("layerNorm forward and backward", arguments: [(1, 1), (3, 7), (5, 8), (17, 33), (64, 192), (9, 1000)])
    func layerNorm(shape: (rows: Int, cols: Int)) {
        let (rows, cols) = shape
        let x = values(rows * cols, seed: 7), weight = values(cols, seed: 8), bias = values(cols, seed: 9)
        var baseY = [Float](repeating: 0, count: rows * cols), fastY = baseY
        var baseMean = [Float](repeating: 0, count: rows), baseRstd = baseMean, fastMean = baseMean, fastRstd = baseMean
        TensorKernels.layerNorm(x, weight: weight, bias: bias, into: &baseY, mean: &baseMean, rstd: &baseRstd,
                                rows: rows, cols: cols, epsilon: 1e-5)
        AVX2Kernels.layerNorm(x, weight: weight, bias: bias, into: &fastY, mean: &fastMean, rstd: &fastRstd,
                              rows: rows, cols: cols, epsilon: 1e-5)
        #expect(bitwiseEqual(baseY, fastY))
        #expect(bitwiseEqual(baseMean, fastMean))
        #expect(bitwiseEqual(baseRstd, fastRstd))

        // Stored as bf16: the AVX2 build gives the baseline's Float output rounded.
        var bits = [UInt16](repeating: 0, count: rows * cols), row = [Float](repeating: 0, count: cols)
        var bitsMean = [Float](repeating: 0, count: rows), bitsRstd = bitsMean
        AVX2Kernels.layerNorm(x, weight: weight, bias: bias, intoBFloat16: &bits, rowScratch: &row, mean: &bitsMean,
                              rstd: &bitsRstd, rows: rows, cols: cols, epsilon: 1e-5)
        #expect(bits == baseY.map { BFloat16.bits(roundingToNearestEven: $0) })
        #expect(bitwiseEqual(bitsMean, baseMean) && bitwiseEqual(bitsRstd, baseRstd))

        let dy = values(rows * cols, seed: 10)
        let startWeightGradient = values(cols, seed: 11), startBiasGradient = values(cols, seed: 12)
        var baseDx = [Float](repeating: 0, count: rows * cols), fastDx = baseDx
        var baseDw = startWeightGradient, baseDb = startBiasGradient
        var fastDw = startWeightGradient, fastDb = startBiasGradient
        TensorKernels.layerNormBackward(outputGradient: dy, input: x, weight: weight, mean: baseMean, rstd: baseRstd,
                                        inputGradient: &baseDx, weightGradient: &baseDw, biasGradient: &baseDb,
                                        rows: rows, cols: cols)
        AVX2Kernels.layerNormBackward(outputGradient: dy, input: x, weight: weight, mean: baseMean, rstd: baseRstd,
                                      inputGradient: &fastDx, weightGradient: &fastDw, biasGradient: &fastDb,
                                      rows: rows, cols: cols)
        #expect(bitwiseEqual(baseDx, fastDx))
        #expect(bitwiseEqual(baseDw, fastDw))
        #expect(bitwiseEqual(baseDb, fastDb))

        // In place (dx over dy), as the model calls it.
        var inPlace = dy, inPlaceDw = startWeightGradient, inPlaceDb = startBiasGradient
        inPlace.withUnsafeMutableBufferPointer { buffer in
            AVX2Kernels.layerNormBackward(outputGradient: buffer.baseAddress!, input: x, weight: weight,
                                          mean: baseMean, rstd: baseRstd, inputGradient: buffer.baseAddress!,
                                          weightGradient: &inPlaceDw, biasGradient: &inPlaceDb, rows: rows, cols: cols)
        }
        #expect(bitwiseEqual(inPlace, baseDx))
    }
}

@Suite("kernel variant selection")
struct KernelVariantTests {
    @Test("FLOWFORMER_KERNELS: unset and auto pick the best, names are checked")
    func environment() throws {
        defer { unsetenv(KernelVariant.environmentVariable) }
        unsetenv(KernelVariant.environmentVariable)
        #expect(try KernelVariant.fromEnvironment() == KernelVariant.best)
        setenv(KernelVariant.environmentVariable, "auto", 1)
        #expect(try KernelVariant.fromEnvironment() == KernelVariant.best)
        setenv(KernelVariant.environmentVariable, "generic", 1)
        #expect(try KernelVariant.fromEnvironment() == .generic)
        setenv(KernelVariant.environmentVariable, "x86-64-v3", 1)
        if KernelVariant.cpuSupportsX86_64_v3 {
            #expect(try KernelVariant.fromEnvironment() == .x86_64_v3)
        } else {
            #expect(throws: KernelVariantError.self) { try KernelVariant.fromEnvironment() }
        }
        setenv(KernelVariant.environmentVariable, "avx512", 1)
        let error = #expect(throws: KernelVariantError.self) { try KernelVariant.fromEnvironment() }
        #expect(error?.message == "FLOWFORMER_KERNELS=avx512 is not a kernel variant (use auto, generic, x86-64-v3, x86-64-v4)")
    }

    @Test("the CPU check agrees with /proc/cpuinfo's flags")
    func cpuidAgreesWithKernel() throws {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try #require(text.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let required = ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "xsave", "sse4_2", "popcnt"]
        #expect(KernelVariant.cpuSupportsX86_64_v3 == required.allSatisfy(flags.contains),
                "cpuid says \(KernelVariant.cpuSupportsX86_64_v3); /proc/cpuinfo lacks \(required.filter { !flags.contains($0) })")
    }
}
#endif
