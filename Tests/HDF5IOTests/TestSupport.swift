import Foundation
import Testing
@testable import HDF5IO

/// The error `body` throws, as `HDF5Error`; records a test failure if it throws nothing or
/// something else.
func expectHDF5Error(_ body: () throws -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) -> HDF5Error? {
    do {
        try body()
        Issue.record("expected an HDF5Error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as HDF5Error {
        return error
    } catch {
        Issue.record("expected an HDF5Error, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Path of a file `name` inside `directory`.
func filePath(_ directory: URL, _ name: String) -> String {
    directory.appendingPathComponent(name).path
}

/// A test value generator per element type that reaches the type's extremes, so a round trip
/// through the wrong width or signedness shows up.
protocol SampleScalar: HDF5Scalar, Equatable {
    /// The i-th test value.
    static func sample(_ i: Int) -> Self
}

extension UInt8: SampleScalar {
    static func sample(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 37 &+ 255) }
}
extension UInt16: SampleScalar {
    static func sample(_ i: Int) -> UInt16 { i % 5 == 0 ? .max : UInt16(truncatingIfNeeded: i &* 4099 &+ 17) }
}
extension Int32: SampleScalar {
    static func sample(_ i: Int) -> Int32 {
        switch i % 4 {
        case 0: return .min + Int32(i)
        case 1: return .max - Int32(i)
        default: return Int32(truncatingIfNeeded: i &* -70_001)
        }
    }
}
extension Int64: SampleScalar {
    // Beyond 2^53, so a detour through float64 would change the values.
    static func sample(_ i: Int) -> Int64 { i % 2 == 0 ? (1 << 62) + Int64(i) : -(1 << 61) - Int64(i) * 3 }
}
extension Int: SampleScalar {
    static func sample(_ i: Int) -> Int { Int(Int64.sample(i)) }
}
extension Float: SampleScalar {
    static func sample(_ i: Int) -> Float {
        switch i % 5 {
        case 0: return .leastNonzeroMagnitude
        case 1: return -.greatestFiniteMagnitude
        case 2: return .infinity
        default: return Float(i) * 0.1 - 3
        }
    }
}
extension Double: SampleScalar {
    static func sample(_ i: Int) -> Double {
        switch i % 5 {
        case 0: return .leastNonzeroMagnitude
        case 1: return .greatestFiniteMagnitude
        case 2: return -.infinity
        default: return Double(i) * 1e-3 + .pi
        }
    }
}

/// `count` sample values of `T`.
func samples<T: SampleScalar>(_ type: T.Type, count: Int, offset: Int = 0) -> [T] {
    (0..<count).map { T.sample($0 + offset) }
}

/// Runs `body` on a newly created thread and waits for its result. HDF5 keeps error state per
/// thread, so a fresh thread is where a forgotten per-thread set-up shows.
func runOnNewThread<R: Sendable>(_ body: @escaping @Sendable () -> R) -> R {
    let box = ResultBox<R>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.start()
    done.wait()
    return box.value!
}

/// Carries a result from the thread that computed it; written before, read after a semaphore.
final class ResultBox<R>: @unchecked Sendable {
    var value: R?
}
