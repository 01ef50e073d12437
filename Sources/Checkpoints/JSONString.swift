import Foundation

/// `text` as a JSON string literal: `"` and `\` escaped, a newline as `\n`, every other control
/// character (below U+0020) as `\u00xx`, the rest as it is. The safetensors header and the
/// trainer's metrics records (`Training/MetricsLog.swift`) are written with it.
public func jsonStringLiteral(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
