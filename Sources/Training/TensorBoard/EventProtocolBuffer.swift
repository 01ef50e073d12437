/// The few protocol-buffer messages of a TensorBoard event file, encoded by hand (field numbers
/// from TensorFlow's `event.proto` and `summary.proto`):
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; }
///
/// Wire format: each field is a key varint (field number << 3 | wire type) and a value — wire
/// type 0 varint (int64), 1 fixed 8 bytes little-endian (double), 2 length-delimited (strings and
/// nested messages: varint length, then the bytes), 5 fixed 4 bytes (float).
enum EventProtocolBuffer {
    /// The first event of every file: `file_version = "brain.Event:2"`.
    static func fileVersionEvent(wallTime: Double) -> [UInt8] {
        var event: [UInt8] = []
        appendDouble(1, wallTime, to: &event)
        appendVarint(2, 0, to: &event)
        appendBytes(3, Array("brain.Event:2".utf8), to: &event)
        return event
    }

    /// One event holding scalar summaries (tag, value) at `step`.
    static func scalarEvent(wallTime: Double, step: Int, scalars: [(tag: String, value: Float)]) -> [UInt8] {
        var summary: [UInt8] = []
        for scalar in scalars {
            var value: [UInt8] = []
            appendBytes(1, Array(scalar.tag.utf8), to: &value)
            appendKey(2, wireType: 5, to: &value)
            withUnsafeBytes(of: scalar.value.bitPattern.littleEndian) { value.append(contentsOf: $0) }
            appendBytes(1, value, to: &summary)
        }
        var event: [UInt8] = []
        appendDouble(1, wallTime, to: &event)
        appendVarint(2, UInt64(bitPattern: Int64(step)), to: &event)
        appendBytes(5, summary, to: &event)
        return event
    }

    static func appendKey(_ field: UInt64, wireType: UInt64, to bytes: inout [UInt8]) {
        appendRawVarint(field << 3 | wireType, to: &bytes)
    }

    static func appendRawVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    static func appendVarint(_ field: UInt64, _ value: UInt64, to bytes: inout [UInt8]) {
        appendKey(field, wireType: 0, to: &bytes)
        appendRawVarint(value, to: &bytes)
    }

    static func appendDouble(_ field: UInt64, _ value: Double, to bytes: inout [UInt8]) {
        appendKey(field, wireType: 1, to: &bytes)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func appendBytes(_ field: UInt64, _ value: [UInt8], to bytes: inout [UInt8]) {
        appendKey(field, wireType: 2, to: &bytes)
        appendRawVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }
}
