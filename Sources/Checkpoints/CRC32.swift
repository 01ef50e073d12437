/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) — the checksum zlib, gzip and PNG use,
/// so a checkpoint can be verified outside this project:
/// `zlib.crc32(h5py.File(p)["model/norm.weight"][()].tobytes())`.
///
/// Slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per iteration
/// (about 1–2 GB/s here; a checkpoint of the benchmark LM is ~40 MB).
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    private static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[0][i] = c
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables
    }()

    /// Feeds `bytes` into the running checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = ~value
        let t = CRC32.tables
        t[0].withUnsafeBufferPointer { t0 in t[1].withUnsafeBufferPointer { t1 in
        t[2].withUnsafeBufferPointer { t2 in t[3].withUnsafeBufferPointer { t3 in
        t[4].withUnsafeBufferPointer { t4 in t[5].withUnsafeBufferPointer { t5 in
        t[6].withUnsafeBufferPointer { t6 in t[7].withUnsafeBufferPointer { t7 in
            var i = 0
            let n = bytes.count
            while i &+ 8 <= n {
                let lo = crc ^ (UInt32(bytes[i]) | UInt32(bytes[i &+ 1]) << 8
                                | UInt32(bytes[i &+ 2]) << 16 | UInt32(bytes[i &+ 3]) << 24)
                crc = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)]
                    ^ t4[Int(lo >> 24)] ^ t3[Int(bytes[i &+ 4])] ^ t2[Int(bytes[i &+ 5])]
                    ^ t1[Int(bytes[i &+ 6])] ^ t0[Int(bytes[i &+ 7])]
                i &+= 8
            }
            while i < n {
                crc = t0[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
                i &+= 1
            }
        }}}}}}}}
        value = ~crc
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}
