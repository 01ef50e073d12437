#if canImport(Glibc)
import Glibc
#endif

/// A row-major, shaped buffer of `Scalar` on 64-byte aligned memory that it owns.
///
/// A reference type, like the buffers of a C trainer: layers hold `Tensor`s as workspaces sized
/// once and overwrite them; kernels take raw pointers (`tensor.pointer`) plus explicit sizes.
/// Contents start zeroed.
///
/// Buffers of `hugePageThreshold` bytes or more start on a 2 MiB boundary and ask Linux for
/// transparent huge pages (`madvise(MADV_HUGEPAGE)`; this system's THP mode is `madvise`): a
/// sweep over a 16 MiB activation then needs 8 TLB entries instead of 4096 (measured: the
/// attention cores at L = 16384 run 6 % faster). Where the kernel refuses, nothing changes.
public final class Tensor<Scalar: TensorScalar> {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<Scalar>
    /// Bytes of a census tensor's address-space reservation (`TensorCensus`); 0 for a real one.
    private let censusBytes: Int

    /// Alignment of every allocation, in bytes (a cache line; covers AVX-512 loads).
    public static var alignment: Int { 64 }
    /// Allocations of at least this many bytes (4 MiB) are huge-page aligned and advised.
    public static var hugePageThreshold: Int { 1 << 22 }
    /// Size and alignment of a transparent huge page on x86-64 Linux (2 MiB).
    static var hugePageBytes: Int { 1 << 21 }

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape has a negative dimension: \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        let bytes = max(count, 1) * MemoryLayout<Scalar>.stride
        if TensorCensus.isActive, let reserved = TensorCensus.reserve(bytes: bytes) {
            // Address space only, already zero (see TensorCensus).
            censusBytes = bytes
            self.pointer = reserved.bindMemory(to: Scalar.self, capacity: max(count, 1))
            return
        }
        censusBytes = 0
        let huge = bytes >= Tensor.hugePageThreshold
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes,
                                                   alignment: huge ? Tensor.hugePageBytes : Tensor.alignment)
        #if canImport(Glibc)
        if huge {
            // Whole huge pages only; the advice is a hint, so its result is not an error.
            _ = madvise(raw, bytes & ~(Tensor.hugePageBytes - 1), MADV_HUGEPAGE)
        }
        #endif
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.pointer = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
    }

    public convenience init(_ shape: Int...) { self.init(shape: shape) }

    /// A tensor holding a copy of `values`, which must have `shape`'s element count.
    public convenience init(shape: [Int], values: [Scalar]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor(shape: \(shape)) needs \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        if censusBytes > 0 {
            TensorCensus.release(UnsafeMutableRawPointer(pointer), bytes: censusBytes)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }

    public var buffer: UnsafeMutableBufferPointer<Scalar> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Scalar] { Array(buffer) }

    public subscript(_ i: Int) -> Scalar {
        get { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); return pointer[i] }
        set { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); pointer[i] = newValue }
    }

    public func fill(_ value: Scalar) { pointer.update(repeating: value, count: count) }
    public func zero() { fill(0) }

    /// Copies `other`'s elements (same element count) into this tensor.
    public func copy(from other: Tensor<Scalar>) {
        precondition(other.count == count, "copy(from:) needs \(count) elements, got \(other.count)")
        pointer.update(from: other.pointer, count: count)
    }
}
