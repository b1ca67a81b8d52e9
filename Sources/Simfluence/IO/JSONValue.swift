/// A parsed JSON value, for small files (log headers, model headers, curricula as arrays,
/// initial losses). Numbers keep their source text so integers of any size and the exact
/// decimal form survive; every element remembers the line it started on, for messages.
indirect enum JSONValue {
    case null
    case bool(Bool)
    /// A number token's text (or "NaN", "Infinity", "-Infinity").
    case number(String)
    case string(String)
    case array([JSONNode])
    case object([JSONMember])

    /// "an object", "a string", "the number 3", ... for type errors.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let t): return JSONText.abbreviated(t)
        case .string(let s): return "the string \"\(JSONText.abbreviated(s))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The number as a Double (correctly rounded), or nil when not a number.
    var double: Double? {
        guard case .number(let t) = self else { return nil }
        switch t {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(t)
        }
    }

    /// The value as an exact Int when it is an integer literal in range.
    var int: Int? {
        guard case .number(let t) = self else { return nil }
        return Int(t)
    }

    /// An example id: a string as is, or an integer literal as its decimal text.
    var id: String? {
        switch self {
        case .string(let s): return s
        case .number(let t):
            guard t.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 &- 0x30) < 10 }) else { return nil }
            return t == "-0" ? "0" : t
        default: return nil
        }
    }

    /// Fields of an object, or nil.
    var members: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// Elements of an array, or nil.
    var elements: [JSONNode]? {
        if case .array(let e) = self { return e }
        return nil
    }

    /// Compact JSON text of the value (used to keep non-string metadata as text).
    var compactText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let t): return t
        case .string(let s): return JSONText.quoted(s)
        case .array(let e): return "[" + e.map { $0.value.compactText }.joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { JSONText.quoted($0.key) + ":" + $0.node.value.compactText }.joined(separator: ",") + "}"
        }
    }
}

/// A value and the 1-based line it starts on.
struct JSONNode {
    var value: JSONValue
    var line: Int
}

/// One field of an object.
struct JSONMember {
    var key: String
    var node: JSONNode
}

extension Array where Element == JSONMember {
    /// The last field named `key` (JSON leaves duplicates undefined; the last one wins).
    subscript(key: String) -> JSONNode? {
        last(where: { $0.key == key })?.node
    }
}

extension JSONScanner {
    /// Maximum nesting depth accepted by ``parseValue()`` (deeper input is an error, not a crash).
    static let maxDepth = 256

    /// Parses one complete JSON value at `pos` (after whitespace).
    mutating func parseValue(depth: Int = 0) throws -> JSONNode {
        skipWhitespace()
        let startLine = line
        guard let c = peek() else { throw malformed(expected: "a JSON value") }
        if depth > JSONScanner.maxDepth { throw error("JSON nested more than \(JSONScanner.maxDepth) levels deep") }
        switch c {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [JSONMember] = []
            var started = false
            while let key = try nextKey(&started) {
                members.append(JSONMember(key: key, node: try parseValue(depth: depth + 1)))
            }
            return JSONNode(value: .object(members), line: startLine)
        case UInt8(ascii: "["):
            pos += 1
            var elements: [JSONNode] = []
            var started = false
            while try nextElement(&started) {
                elements.append(try parseValue(depth: depth + 1))
            }
            return JSONNode(value: .array(elements), line: startLine)
        case UInt8(ascii: "\""):
            return JSONNode(value: .string(try readString()), line: startLine)
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return JSONNode(value: .bool(true), line: startLine)
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return JSONNode(value: .bool(false), line: startLine)
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return JSONNode(value: .null, line: startLine)
        default:
            let token = try readNumberToken()
            return JSONNode(value: .number(token.text(in: self)), line: startLine)
        }
    }
}

/// Writing JSON text.
enum JSONText {
    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped,
    /// everything else written as UTF-8.
    static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
        return out
    }

    /// Whether `s` is the canonical decimal text of an integer: `-?(0|[1-9][0-9]*)`, not "-0".
    /// Such ids are written as JSON integers; everything else (including "007") as strings, so
    /// that reading back yields the same id text.
    static func isCanonicalInteger(_ s: String) -> Bool {
        var u = Substring(s).utf8[...]
        if u.first == UInt8(ascii: "-") { u = u.dropFirst() }
        guard let first = u.first, u.allSatisfy({ ($0 &- 0x30) < 10 }) else { return false }
        if first == UInt8(ascii: "0") { return u.count == 1 && s.utf8.count == 1 }
        return true
    }

    /// An id as a JSON integer when canonical, else as a string.
    static func id(_ s: String) -> String {
        isCanonicalInteger(s) ? s : quoted(s)
    }

    /// A finite Double with full round-trip precision (Swift's shortest round-trip form, which
    /// is valid JSON number syntax, e.g. "0.1", "1e-05", "-0.0").
    static func number(_ x: Double) -> String {
        x.description
    }

    /// A JSON object of string values, keys sorted for stable output.
    static func stringObject(_ dict: [String: String]) -> String {
        "{" + dict.keys.sorted().map { quoted($0) + ": " + quoted(dict[$0] ?? "") }.joined(separator: ", ") + "}"
    }

    /// A JSON array of strings.
    static func stringArray(_ items: [String]) -> String {
        "[" + items.map(quoted).joined(separator: ", ") + "]"
    }
}

/// Helpers to interpret parsed values with good messages.
struct JSONReadContext {
    let file: String

    func fail(_ line: Int?, _ message: String) -> SimfluenceError {
        .input(file: file, line: line, message: message)
    }

    func string(_ node: JSONNode, _ what: String) throws -> String {
        guard case .string(let s) = node.value else {
            throw fail(node.line, "expected \(what) to be a string, found \(node.value.kind)")
        }
        return s
    }

    func id(_ node: JSONNode, _ what: String) throws -> String {
        guard let s = node.value.id else {
            throw fail(node.line, "expected \(what) to be an integer or a string, found \(node.value.kind)")
        }
        return s
    }

    func int(_ node: JSONNode, _ what: String) throws -> Int {
        guard let v = node.value.int else {
            throw fail(node.line, "expected \(what) to be an integer, found \(node.value.kind)")
        }
        return v
    }

    func array(_ node: JSONNode, _ what: String) throws -> [JSONNode] {
        guard let e = node.value.elements else {
            throw fail(node.line, "expected \(what) to be an array, found \(node.value.kind)")
        }
        return e
    }

    func object(_ node: JSONNode, _ what: String) throws -> [JSONMember] {
        guard let m = node.value.members else {
            throw fail(node.line, "expected \(what) to be an object, found \(node.value.kind)")
        }
        return m
    }

    func field(_ members: [JSONMember], _ key: String, in what: String, line: Int) throws -> JSONNode {
        guard let n = members[key] else { throw fail(line, "\(what) has no \"\(key)\" field") }
        return n
    }

    func finite(_ node: JSONNode, _ what: String) throws -> Double {
        guard let v = node.value.double else {
            throw fail(node.line, "expected \(what) to be a number, found \(node.value.kind)")
        }
        guard v.isFinite else { throw fail(node.line, "\(what) is not finite (\(node.value.kind))") }
        return v
    }

    /// A loss: a number accepted by ``LossValues`` (finite, magnitude at most 1e30).
    func loss(_ node: JSONNode, _ what: String) throws -> Double {
        guard let v = node.value.double else {
            throw fail(node.line, "expected \(what) to be a number, found \(node.value.kind)")
        }
        if let problem = LossValues.problem(v) { throw fail(node.line, "\(what) \(problem)") }
        return v
    }

    /// Metadata: an object whose values are kept as text (strings as is, others as compact JSON).
    func metadata(_ node: JSONNode, _ what: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for m in try object(node, what) {
            if case .string(let s) = m.node.value { out[m.key] = s } else { out[m.key] = m.node.value.compactText }
        }
        return out
    }
}
