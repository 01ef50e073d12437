import Foundation
import Yams

/// One `--set section.key=value` argument. The value is YAML, so `[a.h5, b.h5]` is a list and an
/// empty value is null (which unsets the optional keys `train.steps`, `train.epochs`).
public struct ConfigOverride: Sendable, Equatable {
    public let section: String
    public let key: String
    /// The text after the first `=`.
    public let value: String

    public var keyPath: String { "\(section).\(key)" }

    /// Parses `section.key=value`; throws `.malformedOverride` for anything else.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError(.malformedOverride, source: .override, keyPath: text,
                              reason: "expected section.key=value (e.g. train.lr=0.001)")
        }
        let path = String(text[..<equals]).trimmingWhitespace()
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ConfigError(.malformedOverride, source: .override, keyPath: path.isEmpty ? nil : path,
                              reason: "expected section.key=value with one of the sections \(RunConfig.sections.joined(separator: ", ")) (e.g. train.lr=0.001)")
        }
        section = String(parts[0])
        key = String(parts[1])
        value = String(text[text.index(after: equals)...])
    }
}

extension RunConfig {
    /// Resolves a run configuration: defaults ← the YAML file at `path` (if any) ← each of
    /// `overrides` (`section.key=value`, in order), then `validate()`.
    ///
    /// When neither the file nor an override sets `checkpoint.dir`, it becomes
    /// `runs/<file name without extension>`. Throws `ConfigError` (one line naming the file or
    /// `--set`, the line and the key path) for an unreadable file, a YAML syntax error, an unknown
    /// section or key, a duplicate key, a wrong type, an invalid value or combination.
    public static func load(file path: String?, overrides: [String] = []) throws -> RunConfig {
        var resolver = ConfigResolver()
        if let path {
            try resolver.apply(yaml: try readConfigFile(path), label: path)
        }
        for text in overrides {
            try resolver.apply(try ConfigOverride(parsing: text))
        }
        if resolver.config.checkpoint.dir.isEmpty, let path {
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            resolver.config.checkpoint.dir = "runs/" + (stem.isEmpty ? "run" : stem)
        }
        try resolver.validate()
        return resolver.config
    }

    /// Parses a YAML configuration text over the defaults and validates it — e.g. a checkpoint's
    /// `/config`. `label` names the text in error messages.
    public init(yaml text: String, label: String = "config") throws {
        var resolver = ConfigResolver()
        try resolver.apply(yaml: text, label: label)
        try resolver.validate()
        self = resolver.config
    }

    /// This configuration with `overrides` (`section.key=value`) applied in order, validated.
    public func applying(overrides: [String]) throws -> RunConfig {
        var resolver = ConfigResolver(config: self)
        for text in overrides {
            try resolver.apply(try ConfigOverride(parsing: text))
        }
        try resolver.validate()
        return resolver.config
    }

    static func readConfigFile(_ path: String) throws -> String {
        func unreadable(_ reason: String) -> ConfigError {
            ConfigError(.unreadableFile, source: .file(path), reason: reason)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw unreadable("cannot read the configuration file: no such file")
        }
        guard !isDirectory.boolValue else { throw unreadable("cannot read the configuration file: it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw unreadable("cannot read the configuration file: permission denied or I/O error")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw unreadable("the configuration file is not UTF-8 text")
        }
        return text
    }
}

/// Applies configuration layers in order and remembers where each key's value came from, so
/// that validation errors can name the file and line (or `--set`) responsible.
struct ConfigResolver {
    var config = RunConfig()
    var origins: [String: ConfigSource] = [:]

    /// Applies one YAML document. `label` is the file path or a name for the text.
    mutating func apply(yaml text: String, label: String) throws {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error, source: { line, column in .file(label, line: line, column: column) }, keyPath: nil)
        }
        guard let root else { return }       // an empty file: all defaults
        let file = ConfigValue(node: root, keyPath: "", origin: .file(label))
        if file.isNull { return }
        guard case let .mapping(sections) = root else {
            throw ConfigError(.wrongType, source: file.source,
                              reason: "expected a mapping of sections (\(RunConfig.sections.joined(separator: ", "))), got \(file.shown)")
        }
        var seen: [String: Int] = [:]
        var setInThisLayer: Set<String> = []
        for (sectionNode, body) in sections {
            let section = try name(of: sectionNode, label: label, parent: nil)
            let sectionSource = ConfigSource.file(label, line: sectionNode.mark?.line)
            guard RunConfig.sections.contains(section) else {
                throw ConfigError(.unknownSection, source: sectionSource, keyPath: section, reason: unknownSectionReason(section))
            }
            if let line = seen[section] {
                throw ConfigError(.duplicateKey, source: sectionSource, keyPath: section, reason: "duplicate section (first on line \(line))")
            }
            seen[section] = sectionNode.mark?.line ?? 0
            let bodyValue = ConfigValue(node: body, keyPath: section, origin: .file(label))
            if bodyValue.isNull { continue }
            guard case let .mapping(keys) = body else {
                throw bodyValue.error("expected a mapping of \(section) keys, got \(bodyValue.shown)")
            }
            for (keyNode, valueNode) in keys {
                let name = try self.name(of: keyNode, label: label, parent: section)
                let path = "\(section).\(name)"
                let keySource = ConfigSource.file(label, line: keyNode.mark?.line)
                guard let key = RunConfig.key(section: section, name: name) else {
                    throw ConfigError(.unknownKey, source: keySource, keyPath: path, reason: unknownKeyReason(section: section, name: name))
                }
                if let line = seen[path] {
                    throw ConfigError(.duplicateKey, source: keySource, keyPath: path, reason: "duplicate key (first on line \(line))")
                }
                seen[path] = keyNode.mark?.line ?? 0
                let value = ConfigValue(node: valueNode, keyPath: path, origin: .file(label))
                try key.read(&config, value)
                origins[path] = keySource
                if !value.isNull { setInThisLayer.insert(path) }
            }
        }
        if setInThisLayer.contains("train.steps"), setInThisLayer.contains("train.epochs") {
            throw ConfigError(.invalidValue, source: origins["train.epochs"] ?? .file(label), keyPath: "train.epochs",
                              reason: "train.steps and train.epochs are exclusive: give one of them")
        }
        clearTheOtherLength(setInThisLayer)
    }

    /// Applies one `--set` override.
    mutating func apply(_ override: ConfigOverride) throws {
        guard RunConfig.sections.contains(override.section) else {
            throw ConfigError(.unknownSection, source: .override, keyPath: override.keyPath,
                              reason: unknownSectionReason(override.section))
        }
        guard let key = RunConfig.key(section: override.section, name: override.key) else {
            throw ConfigError(.unknownKey, source: .override, keyPath: override.keyPath,
                              reason: unknownKeyReason(section: override.section, name: override.key))
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: override.value)
        } catch let error as YamlError {
            throw syntaxError(error, source: { _, _ in .override }, keyPath: override.keyPath, value: override.value)
        }
        let value = ConfigValue(node: node, keyPath: override.keyPath, origin: .override)
        try key.read(&config, value)
        origins[override.keyPath] = .override
        if !value.isNull { clearTheOtherLength([override.keyPath]) }
    }

    /// Setting one of `train.steps` / `train.epochs` in a later layer replaces the other.
    private mutating func clearTheOtherLength(_ setKeys: Set<String>) {
        if setKeys.contains("train.steps") { config.train.epochs = nil }
        if setKeys.contains("train.epochs") { config.train.steps = nil }
    }

    /// Runs `RunConfig.validate()`, attributing each problem to the layer that set the key.
    func validate() throws {
        try config.validate(sourceOf: { origins[$0] })
    }

    private func name(of node: Node, label: String, parent: String?) throws -> String {
        guard case let .scalar(scalar) = node, !scalar.string.isEmpty else {
            let value = ConfigValue(node: node, keyPath: parent ?? "", origin: .file(label))
            throw ConfigError(.wrongType, source: value.source, keyPath: parent,
                              reason: "expected a \(parent == nil ? "section" : "key") name, got \(value.shown)")
        }
        return scalar.string
    }

    /// A one-line `.syntax` error from a Yams parse error. `value` is the `--set` value text
    /// (nil for a file), quoted in the message; its line numbers are left out.
    private func syntaxError(_ error: YamlError, source: (Int?, Int?) -> ConfigSource, keyPath: String?,
                             value: String? = nil) -> ConfigError {
        let head = "YAML syntax error" + (value.map { " in the value \(quoted($0))" } ?? "") + ": "
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let during = context.map { value == nil ? " (\($0.text) at line \($0.mark.line))" : " (\($0.text))" } ?? ""
            return ConfigError(.syntax, source: source(mark.line, mark.column), keyPath: keyPath,
                               reason: head + problem + during)
        case let .reader(problem, _, _, _):
            return ConfigError(.syntax, source: source(nil, nil), keyPath: keyPath, reason: head + problem)
        default:
            return ConfigError(.syntax, source: source(nil, nil), keyPath: keyPath, reason: head + "\(error)")
        }
    }
}

/// "unknown section (…)" with a suggestion: a near section name, or the section a misplaced
/// top-level key belongs to.
func unknownSectionReason(_ name: String) -> String {
    let sections = RunConfig.sections.joined(separator: ", ")
    if let near = RunConfig.sections.first(where: { editDistance($0, name) <= 2 }) {
        return "unknown section (did you mean \(near)? sections are \(sections))"
    }
    if let key = RunConfig.keys.first(where: { $0.name == name }) {
        return "unknown section (did you mean \(key.path)? keys go inside their section: \(sections))"
    }
    return "unknown section (sections are \(sections))"
}

/// "unknown key (…)" with a suggestion: a near key of the section, else the section's keys.
func unknownKeyReason(section: String, name: String) -> String {
    let names = RunConfig.keys.filter { $0.section == section }.map(\.name)
    let nearest = names.map { ($0, editDistance($0, name)) }.min { $0.1 < $1.1 }
    if let nearest, nearest.1 <= max(1, min(3, name.count / 3)) {
        return "unknown key (did you mean \(section).\(nearest.0)?)"
    }
    if let other = RunConfig.keys.first(where: { $0.name == name }) {
        return "unknown key (did you mean \(other.path)?)"
    }
    return "unknown key (\(section) keys: \(names.joined(separator: ", ")))"
}

/// Levenshtein distance between two short strings.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
