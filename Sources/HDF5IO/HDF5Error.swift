/// A failed HDF5 operation, as one line naming what failed, in which file, on which object, and
/// why (HDF5's innermost message, i.e. the place where the library detected the problem).
///
/// Examples of `description`:
///
///     cannot open file /data/train.h5: file signature not found (Not an HDF5 file)
///     cannot open dataset /data/train.h5:/labelz: component not found (Object not found)
///     /data/train.h5:/labels has dtype float32, expected one of uint8, int32, int64
///     cannot read rows 90..<110 of /data/train.h5:/images: the dataset has 100 rows
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What was being done, e.g. `cannot open dataset`.
    public let operation: String
    /// The file as it was named when opened.
    public let filePath: String
    /// The object's absolute path inside the file (`/` for the root group or the file itself).
    public let objectPath: String
    /// Why: HDF5's innermost message, or this module's own reason for checks it makes itself.
    public let reason: String
    /// HDF5's whole error stack, innermost first, one line per entry (`function: detail`); empty for
    /// errors detected by this module. For debugging; `description` is what users should see.
    public let hdf5Stack: [String]
    /// The one-line message.
    public let description: String

    init(operation: String, filePath: String, objectPath: String, reason: String,
         hdf5Stack: [String] = [], description: String? = nil) {
        self.operation = operation
        self.filePath = filePath
        self.objectPath = objectPath
        self.reason = reason
        self.hdf5Stack = hdf5Stack
        self.description = description
            ?? "\(operation) \(HDF5Error.location(filePath, objectPath)): \(reason)"
    }

    /// `file:object`, or just `file` for the file itself.
    static func location(_ filePath: String, _ objectPath: String) -> String {
        objectPath.isEmpty ? filePath : "\(filePath):\(objectPath)"
    }

    /// An error from the HDF5 call that just failed on this thread, with its error stack.
    static func fromLibrary(_ operation: String, filePath: String, objectPath: String) -> HDF5Error {
        let entries = HDF5ErrorStack.takeCurrent()
        let reason = entries.first?.line ?? "HDF5 reported a failure without an error message"
        return HDF5Error(operation: operation, filePath: filePath, objectPath: objectPath,
                         reason: reason,
                         hdf5Stack: entries.map { "\($0.function): \($0.line)" })
    }
}
