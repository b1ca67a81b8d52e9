/// Escaping and small helpers for writing well-formed XHTML and SVG markup by hand.
///
/// Everything the report writes is XML-compatible (self-closed empty elements, only the five
/// predefined entities), so the page parses with any XML parser as well as with browsers.
public enum Markup {
    /// Escapes `text` for XML character data and attribute values (both quote styles).
    ///
    /// `&`, `<`, `>`, `"` and `'` become entity references. Characters XML 1.0 forbids (control
    /// characters other than tab, newline and carriage return, lone surrogates cannot occur in a
    /// Swift string, and U+FFFE/U+FFFF) become U+FFFD, so any id yields a well-formed document.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                let v = scalar.value
                let allowed = v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v != 0xFFFE && v != 0xFFFF)
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    /// Shortens `text` to at most `limit` characters, ending with an ellipsis when cut.
    static func truncated(_ text: String, limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(0, limit - 1))) + "\u{2026}"
    }
}
