/// A checkpoint that cannot be written or used. One line, naming the file and the object.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "checkpoint \(path): \(message)" }
}
