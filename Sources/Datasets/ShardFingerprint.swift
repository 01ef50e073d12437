import HDF5IO

/// A content fingerprint of one dataset file whose cost does not grow with the file: a hash of
/// the datasets' names, dtypes and shapes and of a fixed number of fixed-size blocks of their
/// values at deterministic offsets, the first and the last block among them
/// (docs/FORMATS.md, "Training data record").
///
/// Definition, version 1 (`ShardFingerprint.scheme`):
///
///     h₀ = 0xcbf29ce484222325;  for each 64-bit word w of the input:  h ← fmix64(h ⊕ w)
///     fmix64(x): x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33;
///                x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33                       (all mod 2⁶⁴)
///
///     input = text(layout), then for each dataset d of the layout, in order:
///             R rows of b bytes (row elements × stored element size); m = max(1, ⌈65536 / b⌉) rows per block
///             R ≤ 32·m:  one block, rows [0, R)                  (a small dataset is hashed whole)
///             otherwise: 32 blocks, block i = rows [sᵢ, sᵢ + m),  sᵢ = ⌊i·(R − m) / 31⌋
///                        (s₀ = 0: the first block; s₃₁ = R − m: the last)
///             each block: word sᵢ, then bytes(its values in the stored element type, row-major)
///     bytes(x) = word (x's byte count), then x as little-endian 8-byte words, the last zero-padded
///     text(s)  = bytes(the UTF-8 of s)
///
/// `fmix64` is a bijection, so each step is one in h and in w: two inputs of the same length that
/// differ in one word always give different fingerprints; a change outside the sampled blocks is
/// caught only when it changes a shape or a row count (which the layout carries). Reads are at
/// most 32 · max(64 KiB, one row) bytes per dataset, whatever the file's size; the values are
/// what HDF5 hands out, so the same content rewritten with another chunking or compression has
/// the same fingerprint.
public enum ShardFingerprint {
    /// Names this definition in checkpoints (`/data` attribute `fingerprint`).
    public static let scheme = "v1: fmix64 chain over layout + 32 blocks of 64 KiB per dataset (first, last, evenly spaced)"
    /// Target bytes per block (a block is at least one row).
    public static let blockBytes = 65_536
    /// Blocks per dataset.
    public static let blockCount = 32

    /// The fingerprint of `datasets` (name and dataset, in layout order) described by `layout`.
    static func compute(layout: String, datasets: [(name: String, dataset: HDF5Dataset)],
                        file: String) throws -> UInt64 {
        var hash = Hash()
        hash.add(text: layout)
        for (name, dataset) in datasets {
            guard let elementBytes = dataset.elementType.byteCount else {
                throw DatasetError.at(file, dataset: name, "dtype \(dataset.elementType) cannot be fingerprinted")
            }
            let rowBytes = max(dataset.rowElementCount * elementBytes, 1)
            let rowsPerBlock = max(1, (blockBytes + rowBytes - 1) / rowBytes)
            let rows = dataset.rowCount
            let starts = blockStarts(rows: rows, rowsPerBlock: rowsPerBlock)
            let longest = starts.count == 1 ? rows : rowsPerBlock
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(longest * rowBytes, 8), alignment: 8)   // [longest rows, b bytes]
            defer { buffer.deallocate() }
            for start in starts {
                let count = starts.count == 1 ? rows : rowsPerBlock
                try readRows(dataset, start ..< start + count, into: buffer, file: file, name: name)
                hash.add(word: UInt64(start))
                hash.add(bytes: UnsafeRawBufferPointer(start: buffer, count: count * dataset.rowElementCount * elementBytes))
            }
        }
        return hash.value
    }

    /// First rows of the blocks of a dataset of `rows` rows: [0] when 32 blocks would cover it,
    /// else ⌊i·(rows − m)/31⌋ for i in 0..<32.
    static func blockStarts(rows: Int, rowsPerBlock m: Int) -> [Int] {
        guard rows > blockCount * m else { return [0] }
        return (0 ..< blockCount).map { i in i * (rows - m) / (blockCount - 1) }
    }

    /// Reads `rows` of `dataset` in its stored element type.
    private static func readRows(_ dataset: HDF5Dataset, _ rows: Range<Int>, into buffer: UnsafeMutableRawPointer,
                                 file: String, name: String) throws {
        try wrapped {
            switch dataset.elementType {
            case .uint8: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: UInt8.self))
            case .uint16: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: UInt16.self))
            case .int32: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: Int32.self))
            case .int64: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: Int64.self))
            case .float32: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: Float.self))
            case .float64: try dataset.readRows(rows, into: buffer.assumingMemoryBound(to: Double.self))
            case .other(let type):
                throw DatasetError.at(file, dataset: name, "dtype \(type) cannot be fingerprinted")
            }
        }
    }

    /// The running hash: h ← fmix64(h ⊕ w) per 64-bit word.
    struct Hash {
        private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

        static func fmix64(_ input: UInt64) -> UInt64 {
            var x = input
            x ^= x >> 33
            x &*= 0xFF51_AFD7_ED55_8CCD
            x ^= x >> 33
            x &*= 0xC4CE_B9FE_1A85_EC53
            x ^= x >> 33
            return x
        }

        mutating func add(word: UInt64) { value = Self.fmix64(value ^ word) }

        /// The byte count, then the bytes as little-endian words (the last zero-padded).
        mutating func add(bytes: UnsafeRawBufferPointer) {
            add(word: UInt64(bytes.count))
            var h = value
            var offset = 0
            while offset &+ 8 <= bytes.count {
                h = Self.fmix64(h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                offset &+= 8
            }
            if offset < bytes.count {
                var tail: UInt64 = 0
                for i in offset ..< bytes.count { tail |= UInt64(bytes[i]) << (8 * UInt64(i - offset)) }
                h = Self.fmix64(h ^ tail)
            }
            value = h
        }

        mutating func add(text: String) {
            let utf8 = Array(text.utf8)
            utf8.withUnsafeBytes { add(bytes: $0) }
        }
    }
}
