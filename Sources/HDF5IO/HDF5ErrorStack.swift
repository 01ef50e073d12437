import _CHDF5

/// One entry of HDF5's error stack, innermost (where the problem was detected) first.
struct HDF5ErrorStackEntry {
    /// The C function of libhdf5 that pushed the entry, e.g. `H5F__super_read`.
    var function: String
    /// HDF5's description, e.g. `file signature not found`.
    var detail: String
    /// The minor error message, e.g. `Not an HDF5 file`.
    var minor: String

    /// One line, newlines folded into spaces: `detail (minor)`, or for a failed system call
    /// `what failed: the system's message`, e.g. `unable to open file: No such file or directory`.
    var line: String {
        let text: String
        if let systemMessage {
            let what = detail.prefix { $0 != ":" && $0 != "," }
            text = "\(what): \(systemMessage)" + (what.contains("lock") ? HDF5ErrorStackEntry.lockHint : "")
        } else {
            text = minor.isEmpty || minor == detail ? detail : "\(detail) (\(minor))"
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The `strerror` text HDF5 quotes after `error message = '` when a system call failed.
    private var systemMessage: Substring? {
        guard let start = detail.range(of: "error message = '")?.upperBound,
              let end = detail[start...].firstIndex(of: "'") else { return nil }
        return detail[start..<end]
    }

    private static let lockHint = " (another process has the file open for writing; on file "
        + "systems without locks set HDF5_USE_FILE_LOCKING=FALSE)"
}

enum HDF5ErrorStack {
    /// Takes (and clears) the calling thread's HDF5 error stack.
    ///
    /// HDF5 keeps one stack per thread in a thread-safe build, so this must run on the thread that
    /// made the failing call, before it makes another HDF5 call.
    static func takeCurrent() -> [HDF5ErrorStackEntry] {
        let stack = H5Eget_current_stack()
        guard stack >= 0 else { return [] }
        defer { _ = H5Eclose_stack(stack) }
        var entries: [HDF5ErrorStackEntry] = []
        withUnsafeMutablePointer(to: &entries) { entriesPointer in
            _ = H5Ewalk2(stack, H5E_WALK_UPWARD, { _, description, clientData in
                guard let description, let clientData else { return 0 }
                let entries = clientData.assumingMemoryBound(to: [HDF5ErrorStackEntry].self)
                let error = description.pointee
                entries.pointee.append(HDF5ErrorStackEntry(
                    function: error.func_name.map { String(cString: $0) } ?? "",
                    detail: error.desc.map { String(cString: $0) } ?? "",
                    minor: HDF5ErrorStack.message(of: error.min_num)))
                return 0
            }, entriesPointer)
        }
        return entries
    }

    /// The text of an HDF5 error message id (a major or minor code).
    private static func message(of id: hid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = H5Eget_msg(id, nil, &buffer, buffer.count)
        guard length > 0 else { return "" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
