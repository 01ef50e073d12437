import _CHDF5

/// Where an open group or dataset lives: its file and its absolute path inside it.
///
/// Opaque apart from the two paths: the HDF5 identifier it carries never leaves this module.
public struct HDF5Location: CustomStringConvertible, Sendable {
    /// The open file; kept alive by every object opened from it.
    let file: HDF5File
    let handle: HDF5Handle
    /// Absolute path inside the file, `/` for the root group.
    public let objectPath: String

    /// The file as it was named when opened.
    public var filePath: String { file.path }

    /// `file:/object/path`.
    public var description: String { HDF5Error.location(filePath, objectPath) }

    /// The live identifier; throws if the file has been closed.
    func id(for operation: @autoclosure () -> String) throws -> hid_t {
        HDF5Library.prepareCurrentThread()
        guard let id = handle.id else {
            throw HDF5Error(operation: operation(), filePath: filePath, objectPath: objectPath,
                            reason: "the file has been closed")
        }
        return id
    }

    /// The absolute path of `path` taken relative to this object.
    func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.isEmpty || path == "." { return objectPath }
        return objectPath.hasSuffix("/") ? objectPath + path : objectPath + "/" + path
    }

    /// The error of the HDF5 call that just failed on this thread.
    func libraryError(_ operation: String, at path: String? = nil) -> HDF5Error {
        HDF5Error.fromLibrary(operation, filePath: filePath, objectPath: path ?? objectPath)
    }

    /// An error found by this module's own checks.
    func error(_ operation: String, at path: String? = nil, reason: String) -> HDF5Error {
        HDF5Error(operation: operation, filePath: filePath, objectPath: path ?? objectPath,
                  reason: reason)
    }
}

/// Throws the HDF5 error of this thread when `status` is negative (HDF5's failure convention for
/// `herr_t`, `hid_t`, `htri_t` and `ssize_t` results); returns `status` otherwise.
@discardableResult
func checked<Status: BinaryInteger>(_ status: Status, _ location: HDF5Location,
                                    _ operation: @autoclosure () -> String,
                                    at path: String? = nil) throws -> Status {
    if status < 0 { throw location.libraryError(operation(), at: path) }
    return status
}
