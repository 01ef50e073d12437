import Foundation
import HDF5IO
import Testing
import TensorKernels
@testable import FlowModel

/// The golden files (or those of `$FLOWFORMER_GOLDEN_DIR`): the upstream Flow-Attention
/// module run in float64 on fixed inputs. Each file is run through `MultiHeadAttention` with a
/// flow core and every tensor compared as max|port − file| / max|file|.
enum GoldenFiles {
    /// `$FLOWFORMER_GOLDEN_DIR`; else `<package root>/../shared/golden` when that exists (the
    /// reference set the project is built against); else the copy of that set kept in
    /// `Tests/FlowModelTests/Golden`, so a clone on its own still runs the golden tests.
    static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["FLOWFORMER_GOLDEN_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let packageRoot = testDirectory.deletingLastPathComponent().deletingLastPathComponent()
        let shared = packageRoot.appendingPathComponent("../shared/golden").standardizedFileURL
        if FileManager.default.fileExists(atPath: shared.path) { return shared }
        return testDirectory.appendingPathComponent("Golden")
    }

    static var paths: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".h5") }.sorted().map { directory.appendingPathComponent($0).path }
    }
}

/// Everything one golden file holds that the comparison needs, as Double arrays.
struct GoldenCase {
    static let projections = ["query_projection", "key_projection", "value_projection", "out_projection"]

    let name: String
    let causal: Bool
    let shape: AttentionShape
    let inputWidth: Int, outputWidth: Int
    let file: HDF5File

    init(path: String) throws {
        file = try HDF5File(path: path, mode: .readOnly)
        name = URL(fileURLWithPath: path).lastPathComponent
        let root = file.root
        causal = try root.attribute("causal", as: Int.self) != 0
        let (batch, l, s) = (try root.attribute("batch", as: Int.self), try root.attribute("L", as: Int.self),
                             try root.attribute("S", as: Int.self))
        inputWidth = try root.attribute("d_input", as: Int.self)
        outputWidth = try root.attribute("d_output", as: Int.self)
        shape = AttentionShape(batch: batch, queryLength: l, keyLength: s,
                               modelWidth: try root.attribute("d_model", as: Int.self),
                               heads: try root.attribute("n_heads", as: Int.self), causal: causal)
    }

    func read(_ path: String, shape expected: [Int]? = nil) throws -> [Double] {
        let dataset = try file.root.dataset(path)
        if let expected { try dataset.requireShape(expected) }
        return try dataset.read(as: Double.self)
    }
}

/// The port's results on one golden case in `Scalar`, converted to Double for comparison.
struct GoldenRun {
    var tensors: [String: [Double]] = [:]
    var conservedSource: [Double] = []

    init<Scalar: TensorScalar>(_ golden: GoldenCase, as _: Scalar.Type, chunk: Int) throws {
        let shape = golden.shape
        let (b, l, s, din, dout) = (shape.batch, shape.queryLength, shape.keyLength, golden.inputWidth, golden.outputWidth)
        var table = ParameterTable()
        var layers = [Linear]()
        for name in GoldenCase.projections {
            let isOut = name == "out_projection"
            layers.append(Linear.append(to: &table, name: name, inFeatures: isOut ? shape.modelWidth : din,
                                        outFeatures: isOut ? dout : shape.modelWidth))
        }
        let parameters = Tensor<Scalar>(table.count)
        for entry in table.entries {
            let values = try golden.read("params/\(entry.name)", shape: entry.shape)
            for (e, value) in values.enumerated() { parameters[entry.offset + e] = Scalar(value) }
        }
        func load(_ path: String, _ dims: [Int]) throws -> Tensor<Scalar> {
            Tensor(shape: dims, values: try golden.read(path, shape: dims).map { Scalar($0) })
        }
        let queries = try load("inputs/queries", [b, l, din])
        let keys = try load("inputs/keys", [b, s, din])
        let values = try load("inputs/values", [b, s, din])
        let upstream = try load("R", [b, l, dout])

        let core = makeAttentionCore(.flow, shape: shape, scalar: Scalar.self, causalChunk: chunk)
        let module = MultiHeadAttention(query: layers[0], key: layers[1], value: layers[2], out: layers[3], core: core)
        let output = Tensor<Scalar>(b, l, dout)
        module.forward(queries: queries.pointer, keys: keys.pointer, values: values.pointer,
                       parameters: parameters.pointer, output: output.pointer)
        let gradients = Tensor<Scalar>(table.count)
        let dq = Tensor<Scalar>(b, l, din), dk = Tensor<Scalar>(b, s, din), dv = Tensor<Scalar>(b, s, din)
        module.backward(outputGradient: upstream.pointer, queries: queries.pointer, keys: keys.pointer,
                        values: values.pointer, parameters: parameters.pointer, gradients: gradients.pointer,
                        queryGradient: dq.pointer, keyGradient: dk.pointer, valueGradient: dv.pointer)

        func doubles(_ t: Tensor<Scalar>) -> [Double] { t.array.map { Double($0) } }
        tensors["output"] = doubles(output)
        tensors["grad/queries"] = doubles(dq)
        tensors["grad/keys"] = doubles(dk)
        tensors["grad/values"] = doubles(dv)
        if l == s {
            tensors["grad/x"] = (0..<dq.count).map { Double(dq[$0]) + Double(dk[$0]) + Double(dv[$0]) }
        }
        for entry in table.entries {
            tensors["grad/\(entry.name)"] = entry.range.map { Double(gradients[$0]) }
        }
        if let flow = core as? FlowAttention<Scalar> {
            tensors["intermediates/sink_allocation"] = doubles(flow.allocation)
            tensors["intermediates/source_competition"] = doubles(flow.competition)
            conservedSource = doubles(flow.conservedSource)
        } else if let flow = core as? CausalFlowAttention<Scalar> {
            tensors["intermediates/sink_allocation"] = doubles(flow.allocation)
            tensors["intermediates/source_competition"] = doubles(flow.competition)
            conservedSource = doubles(flow.conservedSource)
        }
        tensors["intermediates/conserved_source_unclamped"] = conservedSource
    }

    /// Compares every tensor that the file also holds; returns (name, error) pairs.
    func errors(against golden: GoldenCase) throws -> [(String, Double)] {
        var result = [(String, Double)]()
        for (path, values) in tensors.sorted(by: { $0.key < $1.key }) where golden.file.root.exists(path) {
            let expected = try golden.read(path)
            guard expected.count == values.count else {
                result.append(("\(path) has \(expected.count) elements in the file, \(values.count) in the port", .infinity))
                continue
            }
            result.append((path, relativeError(values, expected)))
        }
        return result
    }
}

@Suite struct GoldenFlowAttentionTests {
    @Test func goldenFilesArePresent() {
        #expect(GoldenFiles.paths.count > 0, "no *.h5 golden files in \(GoldenFiles.directory.path)")
    }

    /// float64 port: every tensor within 1e-10, for the default chunk and a chunk that does not
    /// divide L.
    @Test(arguments: GoldenFiles.paths)
    func double(path: String) throws {
        let golden = try GoldenCase(path: path)
        for chunk in golden.causal ? [defaultCausalChunk, 3] : [defaultCausalChunk] {
            let run = try GoldenRun(golden, as: Double.self, chunk: chunk)
            let errors = try run.errors(against: golden)
            #expect(errors.count >= 13, "\(golden.name): only \(errors.count) tensors compared")
            for (tensor, error) in errors {
                #expect(error < 1e-10, "\(golden.name) (Double, chunk \(chunk)): \(tensor) relative error \(error)")
            }
        }
    }

    /// float32 port: every tensor within 1e-5 (the upstream code itself in float32 lands 1e-7–1e-6
    /// away), gradients included.
    ///
    /// The golden inputs keep every conserved source Ô at least 1e-4 from the clamp bounds, except
    /// causal position 1, where Ô_1 = 1 + ε·Σ(K_1 + ε)·(1 − 1/I_1) lies within ~1e-5 of +1 by
    /// construction, so Float may clamp it where Double does not (causal_qkv.h5 has Ô_1 = 1 + 7e-8,
    /// which Float rounds to exactly 1: unclamped). That decision only gates dÔ_1, and
    /// ∂Ô_1/∂(inputs) is O(ε) because Ô_1 − 1 is, so the gradients still agree to ~1e-6. The test
    /// therefore requires identical clamp decisions everywhere but at causal position 1, and the
    /// 1e-5 bound on every tensor.
    @Test(arguments: GoldenFiles.paths)
    func float(path: String) throws {
        let golden = try GoldenCase(path: path)
        let run = try GoldenRun(golden, as: Float.self, chunk: defaultCausalChunk)
        let reference = try GoldenRun(golden, as: Double.self, chunk: defaultCausalChunk)
        let positions = golden.shape.keyLength
        func clampSide(_ x: Double) -> Int { x > 1 ? 1 : x < -1 ? -1 : 0 }
        let flips = (0..<run.conservedSource.count).filter { e in
            !(golden.causal && e % positions == 0)
                && clampSide(run.conservedSource[e]) != clampSide(reference.conservedSource[e])
        }
        #expect(flips.isEmpty, "\(golden.name): Float clamps conserved source [B·H·S index] \(flips.prefix(4)) differently from Double")
        for (tensor, error) in try run.errors(against: golden) {
            #expect(error < 1e-5, "\(golden.name) (Float): \(tensor) relative error \(error)")
        }
    }
}

/// The golden files' bf16 check (`train.precision: bf16`): the four projections' products take
/// bf16-rounded operands (relative error ≤ 2⁻⁹ each) while the flow core stays fp32. Every
/// tensor within 2 % of the file (max|port − file| / max|file|; measured ≤ 0.7 %), and farther from it than the
/// fp32 port is, so the rounding really happened.
@Suite("golden files in bf16")
struct GoldenBFloat16Tests {
    @Test(arguments: GoldenFiles.paths)
    func bfloat16(path: String) throws {
        let golden = try GoldenCase(path: path)
        let fp32 = try GoldenRun(golden, as: Float.self, chunk: defaultCausalChunk)
        let bf16 = try MatmulPrecision.with(.bf16) { try GoldenRun(golden, as: Float.self, chunk: defaultCausalChunk) }
        let fp32Errors = Dictionary(uniqueKeysWithValues: try fp32.errors(against: golden))
        var worst = 0.0
        for (tensor, error) in try bf16.errors(against: golden) {
            #expect(error <= 2e-2, "\(golden.name) (bf16): \(tensor) relative error \(error)")
            worst = max(worst, error.isNaN ? .infinity : error)
        }
        let worstFp32 = fp32Errors.values.max() ?? .infinity
        #expect(worst > worstFp32, "\(golden.name): bf16 is no farther from the file than fp32 (\(worst) vs \(worstFp32)): are the products rounded?")
    }
}
