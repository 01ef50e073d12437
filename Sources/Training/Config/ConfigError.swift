/// Where a configuration value came from, for error messages.
public enum ConfigSource: Sendable, Equatable {
    /// The built-in default.
    case defaults
    /// A YAML file (path as the user gave it) or a labelled text (e.g. a checkpoint's `/config`),
    /// with the 1-based line (and column) when known.
    case file(String, line: Int? = nil, column: Int? = nil)
    /// A `--set section.key=value` argument.
    case override
}

/// A configuration problem: unreadable file, YAML syntax, unknown section or key, wrong type,
/// an impossible value or combination, or a global batch that does not split over the ranks.
///
/// `description` is one line that names the origin and the key path, e.g.
/// `run.yaml:4: train.global_batch: expected an integer, got "abc"` or
/// `--set model.kind: expected one of lm, image, sequence, got "vit"`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case unreadableFile
        case syntax
        case unknownSection
        case unknownKey
        case duplicateKey
        case wrongType
        case invalidValue
        case malformedOverride
        case worldSize
    }

    public var kind: Kind
    public var source: ConfigSource
    /// `section.key` (or `section`, or `section.key[i]` inside a list); nil for whole-file problems.
    public var keyPath: String?
    /// What is wrong and, where possible, what would be right.
    public var reason: String

    public init(_ kind: Kind, source: ConfigSource = .defaults, keyPath: String? = nil, reason: String) {
        self.kind = kind
        self.source = source
        self.keyPath = keyPath
        self.reason = reason
    }

    public var description: String {
        var prefix: String
        switch source {
        case .defaults:
            prefix = keyPath ?? ""
        case let .file(path, line, column):
            prefix = path
            if let line { prefix += ":\(line)" }
            if line != nil, let column { prefix += ":\(column)" }
            if let keyPath { prefix += ": " + keyPath }
        case .override:
            prefix = "--set" + (keyPath.map { " " + $0 } ?? "")
        }
        let text = prefix.isEmpty ? reason : prefix + ": " + reason
        // One line, always: YAML problems can quote multi-line context.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension ConfigError: CustomDebugStringConvertible {
    public var debugDescription: String { "ConfigError(\(kind)): \(description)" }
}
