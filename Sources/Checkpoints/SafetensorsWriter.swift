import TensorKernels
import Foundation

/// Writes parameters in the safetensors format (the format of Hugging Face's `safetensors`
/// package), readable by its Python, PyTorch and NumPy loaders:
///
///     8 bytes    N, the header length, unsigned 64-bit little-endian
///     N bytes    a JSON object, UTF-8, padded with spaces to a multiple of 8 bytes:
///                  "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}  per tensor
///                  "__metadata__": {"key": "value", …}                                     strings only
///     the data   every tensor's bytes, little-endian, row-major, at [begin, end) counted from
///                the first byte after the header; tensors packed back to back in table order
///
/// The file is written under a temporary name and renamed, so it is complete or absent.
public enum SafetensorsWriter {
    /// Writes every entry of `table` (F32, its shape) from `values` [table.count] to `path`.
    public static func write(table: ParameterTable, values: UnsafeBufferPointer<Float>, metadata: [String: String],
                             to path: String) throws {
        precondition(values.count == table.count, "safetensors: \(values.count) values for a table of \(table.count)")
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonStringLiteral($0)): \(jsonStringLiteral(metadata[$0]!))" }
            fields.append("\"__metadata__\": {" + pairs.joined(separator: ", ") + "}")
        }
        var offset = 0
        for entry in table.entries {
            let bytes = entry.count * MemoryLayout<Float>.size
            let shape = entry.shape.map(String.init).joined(separator: ", ")
            fields.append("\(jsonStringLiteral(entry.name)): {\"dtype\": \"F32\", \"shape\": [\(shape)], \"data_offsets\": [\(offset), \(offset + bytes)]}")
            offset += bytes
        }
        var header = Array(("{" + fields.joined(separator: ", ") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }

        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for entry in table.entries {
            #if _endian(little)
            data.append(UnsafeBufferPointer(rebasing: values[entry.range]))
            #else
            for i in entry.range { withUnsafeBytes(of: values[i].bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            #endif
        }
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw SafetensorsError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SafetensorsError("cannot write \(path): \(reason)")
        }
    }
}

/// A safetensors file that could not be written; one line naming the file.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
