import Foundation
import Testing
import TensorKernels

/// Mean cross-entropy and its gradient (softmax − onehot)/N in Double, from the definitions.
private func referenceCrossEntropy(_ z: [Double], _ targets: [Int32], rows: Int, classes: Int) -> (Double, [Double]) {
    var loss = 0.0
    var gradient = [Double](repeating: 0, count: rows * classes)
    for i in 0..<rows {
        let row = Array(z[(i * classes)..<((i + 1) * classes)])
        let m = row.max()!
        let sumExp = row.reduce(0) { $0 + Foundation.exp($1 - m) }
        let t = Int(targets[i])
        loss += Foundation.log(sumExp) + m - row[t]
        for j in 0..<classes {
            gradient[i * classes + j] = (Foundation.exp(row[j] - m) / sumExp - (j == t ? 1 : 0)) / Double(rows)
        }
    }
    return (loss / Double(rows), gradient)
}

@Suite struct CrossEntropyTests {
    private func problem(rows: Int, classes: Int, seed: UInt64) -> ([Double], [Int32]) {
        var generator = TestInputs(seed: seed)
        let logits = generator.array(rows * classes, -6, 6)
        let targets = (0..<rows).map { _ in Int32(generator.next() % UInt64(classes)) }
        return (logits, targets)
    }

    private func check<Scalar: TensorScalar>(_ type: Scalar.Type) {
        for (rows, classes) in oddShapes {
            let (logits, targets) = problem(rows: rows, classes: classes, seed: UInt64(rows * 100 + classes))
            let z = Tensor<Scalar>(shape: [rows, classes], doubles: logits)
            let dz = Tensor<Scalar>(shape: [rows, classes])
            let (expectedLoss, expectedGradient) = referenceCrossEntropy(z.doubles, targets, rows: rows, classes: classes)
            let loss = targets.withUnsafeBufferPointer {
                softmaxCrossEntropy(logits: z.pointer, targets: $0.baseAddress!, rows: rows, classes: classes,
                                    logitsGradient: dz.pointer)
            }
            let tolerance = Tolerance.forScalar(type, float: Tolerance(absolute: 1e-6, relative: 1e-6),
                                                double: Tolerance(absolute: 1e-15, relative: 1e-13))
            expectClose([loss], [expectedLoss], tolerance, "loss \(Scalar.self) \(rows)×\(classes)")
            expectClose(dz.doubles, expectedGradient, tolerance, "dlogits \(Scalar.self) \(rows)×\(classes)")

            // Without a gradient buffer: the same loss.
            let lossOnly = targets.withUnsafeBufferPointer {
                softmaxCrossEntropy(logits: z.pointer, targets: $0.baseAddress!, rows: rows, classes: classes,
                                    logitsGradient: nil)
            }
            expectClose([lossOnly], [loss], Tolerance(absolute: 1e-12, relative: 1e-7), "loss without gradient")

            // In place, with an explicit gradient scale.
            let zCopy = Tensor<Scalar>(shape: [rows, classes]); zCopy.copy(from: z)
            let inPlaceLoss = targets.withUnsafeBufferPointer {
                softmaxCrossEntropy(logits: zCopy.pointer, targets: $0.baseAddress!, rows: rows, classes: classes,
                                    logitsGradient: zCopy.pointer, gradientScale: 0.5)
            }
            #expect(inPlaceLoss == loss, "in-place loss \(Scalar.self) \(rows)×\(classes)")
            expectClose(zCopy.doubles, expectedGradient.map { $0 * Double(rows) * 0.5 }, tolerance,
                        "in-place dlogits with gradientScale \(Scalar.self) \(rows)×\(classes)")
        }
    }

    @Test func matchesReferenceFloat() { check(Float.self) }
    @Test func matchesReferenceDouble() { check(Double.self) }

    @Test func gradientMatchesFiniteDifferences() {
        for (rows, classes) in [(3, 17), (7, 13), (1, 1), (4, 33)] {
            let (logits, targets) = problem(rows: rows, classes: classes, seed: 3)
            let loss: ([Double]) -> Double = { input in
                let z = Tensor<Double>(shape: [rows, classes], doubles: input)
                defer { keepAlive(z) }
                return targets.withUnsafeBufferPointer {
                    softmaxCrossEntropy(logits: z.pointer, targets: $0.baseAddress!, rows: rows, classes: classes,
                                        logitsGradient: nil)
                }
            }
            let z = Tensor<Double>(shape: [rows, classes], doubles: logits), dz = Tensor<Double>(shape: [rows, classes])
            targets.withUnsafeBufferPointer {
                _ = softmaxCrossEntropy(logits: z.pointer, targets: $0.baseAddress!, rows: rows, classes: classes,
                                        logitsGradient: dz.pointer)
            }
            keepAlive(z)
            if classes == 1 {
                // One class: the loss is identically 0 and so is its gradient.
                #expect(dz.doubles.allSatisfy { abs($0) < 1e-15 })
            } else {
                expectGradientMatches(dz.doubles, numericalGradient(at: logits, loss), "cross-entropy \(rows)×\(classes)")
            }
        }
    }

    @Test func targetOutsideClassesIsAPreconditionFailure() async {
        await #expect(processExitsWith: .failure) {
            let z = Tensor<Float>(shape: [2, 3])
            let targets: [Int32] = [0, 3]
            targets.withUnsafeBufferPointer {
                _ = softmaxCrossEntropy(logits: z.pointer, targets: $0.baseAddress!, rows: 2, classes: 3,
                                        logitsGradient: nil)
            }
        }
    }
}
