import Foundation
import TensorKernels

/// One way of damaging a file, applied to its bytes.
enum Corruption: CustomStringConvertible {
    /// Keep only the first `length` bytes (a write cut short, a copy interrupted).
    case truncate(length: Int)
    /// `bytes[offset] ^= mask` for each pair (mask ≠ 0): bit rot, a bad sector, a bad cable.
    case flip([(offset: Int, mask: UInt8)])
    /// Replace `replacement.count` consecutive bytes from `offset` (a torn or misdirected write).
    case overwrite(offset: Int, replacement: [UInt8])

    func apply(to original: [UInt8]) -> [UInt8] {
        var bytes = original
        switch self {
        case .truncate(let length):
            bytes.removeLast(bytes.count - length)
        case .flip(let flips):
            for flip in flips { bytes[flip.offset] ^= flip.mask }
        case .overwrite(let offset, let replacement):
            for (i, byte) in replacement.enumerated() where offset + i < bytes.count { bytes[offset + i] = byte }
        }
        return bytes
    }

    var description: String {
        switch self {
        case .truncate(let length): return "truncated to \(length) bytes"
        case .flip(let flips):
            return "flipped " + flips.map { "byte \($0.offset) ^ 0x\(String($0.mask, radix: 16))" }.joined(separator: ", ")
        case .overwrite(let offset, let replacement):
            return "overwrote bytes \(offset)..<\(offset + replacement.count)"
        }
    }
}

/// Seeded corruptions of a file of `fileSize` bytes, cycling through five kinds (so each kind
/// gets a fifth of them):
///
/// 0. truncation at a uniform offset in 0..<fileSize;
/// 1. one byte flipped in the first `headerBytes` (superblock, root group, object headers);
/// 2. one byte flipped after them (raw data, chunk index, heaps), or — every other time when
///    `dataRanges` is given — inside one of those ranges (bytes known to hold a dataset's values);
/// 3. 2–8 bytes flipped at uniform offsets anywhere;
/// 4. 4–64 consecutive bytes overwritten with random bytes anywhere.
///
/// Draws come from `CounterRandom(seed:, stream: case index)`, so case i is the same on every
/// machine and can be regenerated alone from (seed, i).
func corruptions(count: Int, seed: UInt64, fileSize: Int, headerBytes: Int = 2048,
                 dataRanges: [Range<Int>] = []) -> [Corruption] {
    precondition(fileSize > headerBytes, "the file must be larger than the header region")
    return (0 ..< count).map { index in
        let random = CounterRandom(seed: seed, stream: UInt64(index))
        var draw: UInt64 = 0
        /// Uniform in 0..<bound (modulo bias below 2⁻⁴⁰ for these bounds).
        func below(_ bound: Int) -> Int {
            defer { draw += 1 }
            return Int(random.uint64(at: draw) % UInt64(bound))
        }
        func mask() -> UInt8 { UInt8(1 + below(255)) }
        switch index % 5 {
        case 0:
            return .truncate(length: below(fileSize))
        case 1:
            return .flip([(below(headerBytes), mask())])
        case 2:
            if !dataRanges.isEmpty && (index / 5) % 2 == 0 {
                let range = dataRanges[below(dataRanges.count)]
                return .flip([(range.lowerBound + below(range.count), mask())])
            }
            return .flip([(headerBytes + below(fileSize - headerBytes), mask())])
        case 3:
            return .flip((0 ..< 2 + below(7)).map { _ in (below(fileSize), mask()) })
        default:
            let length = 4 + below(61)
            return .overwrite(offset: below(fileSize - length),
                              replacement: (0 ..< length).map { _ in UInt8(below(256)) })
        }
    }
}

/// Writes `corruption` applied to `original` into `directory/<name>-<index>.h5`; returns the path.
func writeCorrupted(_ original: [UInt8], _ corruption: Corruption, directory: String, name: String,
                    index: Int) throws -> String {
    let path = directory + "/" + name + "-" + String(format: "%03d", index) + ".h5"
    try Data(corruption.apply(to: original)).write(to: URL(fileURLWithPath: path))
    return path
}

/// Byte ranges that libhdf5 1.10 trusts without checking when it reads a variable-length string:
/// each global heap collection (from its "GCOL" signature over its recorded size) and each
/// 16-byte reference to one (sequence length, collection address, object index).
///
/// A damaged object size or index there makes `H5HG_read` copy past its buffers (SIGSEGV, or
/// glibc's "free(): invalid pointer" abort) or loop for ever while it parses the collection,
/// before any check of ours can run: the one crash the corruption tests know and cannot
/// prevent in-process (see docs/RELIABILITY.md).
func globalHeapRanges(in bytes: [UInt8]) -> [Range<Int>] {
    func uint64(at offset: Int) -> UInt64 {
        (0 ..< 8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }
    var ranges: [Range<Int>] = []
    for signature in occurrences(of: Array("GCOL".utf8), in: bytes) where signature.lowerBound + 16 <= bytes.count {
        let start = signature.lowerBound
        let size = Int(clamping: uint64(at: start + 8))
        ranges.append(start ..< min(bytes.count, start + max(size, 16)))
        let address = withUnsafeBytes(of: UInt64(start).littleEndian) { Array($0) }
        for reference in occurrences(of: address, in: bytes) where reference.lowerBound >= 4 {
            ranges.append(reference.lowerBound - 4 ..< min(bytes.count, reference.upperBound + 4))
        }
    }
    return ranges
}

/// Byte ranges where `needle` occurs in `haystack` (each range the needle's length).
func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Range<Int>] {
    guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
    var found: [Range<Int>] = []
    var i = 0
    outer: while i <= haystack.count - needle.count {
        for j in 0 ..< needle.count where haystack[i + j] != needle[j] {
            i += 1
            continue outer
        }
        found.append(i ..< i + needle.count)
        i += needle.count
    }
    return found
}
