import Yams

/// One YAML value for one key, with its origin: converts it to the key's Swift type or throws a
/// `.wrongType` `ConfigError` naming the origin, the key path and what was found.
///
/// Conversion goes by the key's type and the scalar's text, not by YAML's implicit tags, so
/// `lr: 3e-4` is a number (YAML 1.1 would read a string), `dir: 123` is the string "123", and a
/// quoted "256" is accepted for an integer key.
struct ConfigValue {
    /// The YAML node; nil for an absent value (`key:` with nothing after it, or `--set key=`).
    let node: Node?
    let keyPath: String
    /// Where the value came from; for a file, the node's line and column are added.
    let origin: ConfigSource

    var source: ConfigSource {
        if case let .file(path, _, _) = origin, let mark = node?.mark {
            return .file(path, line: mark.line)
        }
        return origin
    }

    func error(_ reason: String, kind: ConfigError.Kind = .wrongType) -> ConfigError {
        ConfigError(kind, source: source, keyPath: keyPath, reason: reason)
    }

    /// YAML's null: absent, or a plain `~` / `null` / empty scalar.
    var isNull: Bool {
        guard let node else { return true }
        guard case let .scalar(scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How the value reads in an error message: `"abc"`, `null`, `a list`, `a mapping`.
    var shown: String {
        if isNull { return "null" }
        switch node {
        case let .scalar(scalar)?: return quoted(scalar.string)
        case .sequence?: return "a list"
        case .mapping?: return "a mapping"
        case nil: return "null"
        }
    }

    /// The scalar's text, or a wrong-type error saying `expected`.
    private func scalarText(expected: String) throws -> String {
        guard !isNull, case let .scalar(scalar)? = node else { throw error("expected \(expected), got \(shown)") }
        return scalar.string
    }

    func int() throws -> Int {
        let text = try scalarText(expected: "an integer")
        if let value = parseInteger(text) { return value }
        throw error("expected an integer, got \(shown)")
    }

    func optionalInt() throws -> Int? {
        isNull ? nil : try int()
    }

    func double() throws -> Double {
        let text = try scalarText(expected: "a number")
        guard let value = parseNumber(text) else { throw error("expected a number, got \(shown)") }
        guard value.isFinite else { throw error("expected a finite number, got \(shown)") }
        return value
    }

    func bool() throws -> Bool {
        let text = try scalarText(expected: "true or false")
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got \(shown)")
        }
    }

    func string() throws -> String {
        try scalarText(expected: "a string")
    }

    /// One string, or a list of strings; null is the empty list.
    func strings() throws -> [String] {
        if isNull { return [] }
        switch node {
        case let .scalar(scalar)?:
            return [scalar.string]
        case let .sequence(sequence)?:
            return try sequence.enumerated().map { index, element in
                try ConfigValue(node: element, keyPath: "\(keyPath)[\(index)]", origin: origin).string()
            }
        default:
            throw error("expected a string or a list of strings, got \(shown)")
        }
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ type: E.Type) throws -> E where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        let text = try scalarText(expected: "one of \(allowed)")
        guard let value = E(rawValue: text) else { throw error("expected one of \(allowed), got \(shown)") }
        return value
    }

    /// A list of exactly two numbers, `[a, b]`.
    func numberPair() throws -> (Double, Double) {
        guard !isNull, case let .sequence(sequence)? = node, sequence.count == 2 else {
            throw error("expected a list of two numbers, got \(shownList)")
        }
        let first = try ConfigValue(node: sequence[0], keyPath: "\(keyPath)[0]", origin: origin).double()
        let second = try ConfigValue(node: sequence[1], keyPath: "\(keyPath)[1]", origin: origin).double()
        return (first, second)
    }

    private var shownList: String {
        if case let .sequence(sequence)? = node { return "a list of \(sequence.count)" }
        return shown
    }
}

/// A decimal integer, allowing `_` digit separators and integral number notation (`1e4`, `100.0`).
func parseInteger(_ text: String) -> Int? {
    let cleaned = text.trimmingWhitespace().replacingUnderscores()
    if let value = Int(cleaned) { return value }
    if let number = Double(cleaned), number.isFinite, number == number.rounded(),
       abs(number) < 9.0e15 {
        return Int(number)
    }
    return nil
}

/// A decimal number, allowing `_` digit separators; rejects YAML's `.inf`/`.nan` spellings.
func parseNumber(_ text: String) -> Double? {
    let cleaned = text.trimmingWhitespace().replacingUnderscores()
    guard !cleaned.isEmpty, cleaned.allSatisfy({ "0123456789+-.eE".contains($0) }) else { return nil }
    return Double(cleaned)
}

/// `text` as a double-quoted string with `"`, `\` and control characters escaped.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16).uppercased()
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }

    /// Removes `_` between digits (YAML 1.1 digit grouping, `1_000`).
    func replacingUnderscores() -> String {
        guard contains("_") else { return self }
        let characters = Array(self)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character == "_", index > 0, index + 1 < characters.count,
               characters[index - 1].isNumber, characters[index + 1].isNumber {
                continue
            }
            result.append(character)
        }
        return result
    }
}
