#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hand-written, allocation-light JSON tokenizer over raw UTF-8 bytes.
///
/// Used for the large line-oriented files (loss trajectories, curricula) where `JSONDecoder` is
/// far too slow, and as the lexer under ``JSONValue``. The scanner never reads outside
/// `start..<end` and reports every problem as ``SimfluenceError/input(file:line:message:)`` with
/// the current line and column. It tracks line numbers itself: every newline it skips as
/// whitespace advances ``line``.
///
/// Numbers are validated against the JSON grammar and then converted by the C library's
/// correctly rounded `strtod` (checked to consume exactly the token; otherwise `Double(String)`),
/// never by hand-rolled arithmetic. `NaN`, `Infinity` and `-Infinity` (which Python's `json`
/// writes) are accepted as number tokens so that callers can report them as non-finite values.
struct JSONScanner {
    let base: UnsafePointer<UInt8>
    /// Current byte offset from `base`.
    var pos: Int
    /// One past the last readable byte.
    let end: Int
    /// The 1-based line of `pos`.
    var line: Int
    /// Offset of the first byte of the current line (for columns in messages).
    var lineStart: Int
    /// The file name used in errors.
    let file: String

    init(base: UnsafePointer<UInt8>, start: Int, end: Int, line: Int, file: String) {
        self.base = base
        self.pos = start
        self.end = end
        self.line = line
        self.lineStart = start
        self.file = file
    }

    // MARK: Errors

    func error(_ message: String) -> SimfluenceError {
        .input(file: file, line: line, message: message)
    }

    /// "malformed JSON at column c: expected X, found Y".
    func malformed(expected: String) -> SimfluenceError {
        error("malformed JSON at column \(pos - lineStart + 1): expected \(expected), found \(describeHere())")
    }

    /// A short description of what is at `pos`, for messages.
    func describeHere() -> String {
        guard pos < end else { return "end of file" }
        let c = base[pos]
        switch c {
        case 0x0A, 0x0D: return "end of line"
        case 0x20...0x7E: return "'\(Character(Unicode.Scalar(c)))'"
        default: return "byte 0x\(String(c, radix: 16, uppercase: true))"
        }
    }

    /// The kind of JSON value starting at `pos` ("a string", "an array", ...), for type errors.
    func describeValueKind() -> String {
        guard pos < end else { return "end of file" }
        switch base[pos] {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"):
            var probe = self
            if let token = try? probe.readNumberToken() { return JSONText.abbreviated(token.text(in: self)) }
            return "a number"
        default: return describeHere()
        }
    }

    // MARK: Whitespace and punctuation

    var atEnd: Bool { pos >= end }

    @inline(__always)
    func peek() -> UInt8? { pos < end ? base[pos] : nil }

    /// Skips JSON whitespace, counting newlines.
    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            if c == 0x20 || c == 0x09 || c == 0x0D {
                pos += 1
            } else if c == 0x0A {
                pos += 1
                line += 1
                lineStart = pos
            } else {
                return
            }
        }
    }

    /// Skips whitespace, then consumes `c` or throws "expected `what`".
    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws {
        skipWhitespace()
        guard pos < end, base[pos] == c else { throw malformed(expected: what()) }
        pos += 1
    }

    // MARK: Objects and arrays

    /// Consumes `{` (after whitespace) or throws a type error naming `what`.
    mutating func beginObject(_ what: @autoclosure () -> String) throws {
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: "{") else {
            throw error("expected \(what()) to be a JSON object, found \(describeValueKind())")
        }
        pos += 1
    }

    /// Consumes `[` (after whitespace) or throws a type error naming `what`.
    mutating func beginArray(_ what: @autoclosure () -> String) throws {
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: "[") else {
            throw error("expected \(what()) to be a JSON array, found \(describeValueKind())")
        }
        pos += 1
    }

    /// Within an object opened by ``beginObject(_:)``: returns the next field name (and consumes
    /// the `:` after it), or nil after consuming the closing `}`. `started` must start false.
    mutating func nextKey(_ started: inout Bool) throws -> String? {
        guard let key = try nextRawKey(&started) else { return nil }
        return key.string(in: self)
    }

    /// A field name as it appears in the input: a byte range without escapes, or decoded text.
    struct RawKey {
        var start: Int
        var count: Int
        var decoded: String?

        func string(in s: JSONScanner) -> String {
            decoded ?? String(decoding: UnsafeBufferPointer(start: s.base + start, count: count), as: UTF8.self)
        }

        /// Whether the key is exactly `literal` (an ASCII literal), without building a String.
        @inline(__always)
        func `is`(_ literal: StaticString, in base: UnsafePointer<UInt8>) -> Bool {
            if let decoded { return decoded == literal.description }
            guard count == literal.utf8CodeUnitCount else { return false }
            let lit = literal.utf8Start
            for k in 0..<count where base[start + k] != lit[k] { return false }
            return true
        }
    }

    /// Like ``nextKey(_:)``, without allocating for plain keys (the hot path of large files).
    mutating func nextRawKey(_ started: inout Bool) throws -> RawKey? {
        skipWhitespace()
        guard pos < end else { throw malformed(expected: started ? "',' or '}'" : "a field name or '}'") }
        if started {
            if base[pos] == UInt8(ascii: "}") { pos += 1; return nil }
            guard base[pos] == UInt8(ascii: ",") else { throw malformed(expected: "',' or '}' after a field") }
            pos += 1
            skipWhitespace()
        } else if base[pos] == UInt8(ascii: "}") {
            pos += 1
            return nil
        }
        guard pos < end, base[pos] == UInt8(ascii: "\"") else {
            throw malformed(expected: "a field name in double quotes")
        }
        started = true
        // Plain keys (no escapes) are returned as a byte range.
        var p = pos + 1
        while p < end, base[p] != UInt8(ascii: "\""), base[p] != UInt8(ascii: "\\"), base[p] >= 0x20 { p += 1 }
        var key: RawKey
        if p < end, base[p] == UInt8(ascii: "\"") {
            key = RawKey(start: pos + 1, count: p - pos - 1, decoded: nil)
            pos = p + 1
        } else {
            let text = try readString()
            key = RawKey(start: 0, count: 0, decoded: text)
        }
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: ":") else {
            throw malformed(expected: "':' after field name \"\(key.string(in: self))\"")
        }
        pos += 1
        skipWhitespace()
        return key
    }

    /// Within an array opened by ``beginArray(_:)``: true when another element follows (positioned
    /// at it), false after consuming the closing `]`. `started` must start false.
    mutating func nextElement(_ started: inout Bool) throws -> Bool {
        skipWhitespace()
        guard pos < end else { throw malformed(expected: started ? "',' or ']'" : "a value or ']'") }
        if started {
            if base[pos] == UInt8(ascii: "]") { pos += 1; return false }
            guard base[pos] == UInt8(ascii: ",") else { throw malformed(expected: "',' or ']' after an array element") }
            pos += 1
            skipWhitespace()
            guard pos < end, base[pos] != UInt8(ascii: "]") else { throw malformed(expected: "a value after ','") }
        } else if base[pos] == UInt8(ascii: "]") {
            pos += 1
            return false
        }
        started = true
        return true
    }

    // MARK: Strings

    /// Reads a string starting at the opening quote (after optional whitespace).
    mutating func readString() throws -> String {
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: "\"") else { throw malformed(expected: "a string") }
        pos += 1
        let start = pos
        // Fast path: no escapes.
        while pos < end {
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
                pos += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw unterminatedOrControl() }
            pos += 1
        }
        guard pos < end else { throw error("malformed JSON: unterminated string starting at column \(start - lineStart)") }
        // Slow path with escapes.
        var bytes = Array(UnsafeBufferPointer(start: base + start, count: pos - start))
        while pos < end {
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if c < 0x20 { throw unterminatedOrControl() }
            if c != UInt8(ascii: "\\") {
                bytes.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < end else { break }
            let e = base[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if (0xD800...0xDBFF).contains(scalar), pos + 1 < end,
                   base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try readHex4()
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save  // lone high surrogate; the next escape is read on its own
                    }
                }
                // A lone surrogate is no character: two different ids would both read as U+FFFD.
                guard let u = Unicode.Scalar(scalar) else {
                    throw error("malformed JSON at column \(pos - lineStart - 5): '\\u\(String(scalar, radix: 16, uppercase: true))' is a lone UTF-16 surrogate (not a character; a high surrogate must be followed by a low one)")
                }
                bytes.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                pos -= 1
                throw malformed(expected: "a valid escape sequence after '\\'")
            }
        }
        throw error("malformed JSON: unterminated string starting at column \(start - lineStart)")
    }

    private func unterminatedOrControl() -> SimfluenceError {
        if base[pos] == 0x0A || base[pos] == 0x0D {
            return error("malformed JSON at column \(pos - lineStart + 1): unterminated string (end of line inside a string)")
        }
        return error("malformed JSON at column \(pos - lineStart + 1): unescaped control character 0x\(String(base[pos], radix: 16)) inside a string")
    }

    private mutating func readHex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard pos < end else { throw malformed(expected: "4 hex digits after '\\u'") }
            let c = base[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw malformed(expected: "4 hex digits after '\\u'")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    // MARK: Numbers

    /// A number token: its byte range and whether it is a plain integer literal.
    struct NumberToken {
        var start: Int
        var end: Int
        var isInteger: Bool
        /// NaN, Infinity or -Infinity (non-standard, written by Python's json).
        var special: Double?

        func text(in s: JSONScanner) -> String {
            String(decoding: UnsafeBufferPointer(start: s.base + start, count: end - start), as: UTF8.self)
        }
    }

    @inline(__always)
    private func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// Reads a number token at `pos` (after optional whitespace), validating the JSON grammar
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (plus NaN / Infinity / -Infinity).
    mutating func readNumberToken() throws -> NumberToken {
        skipWhitespace()
        let start = pos
        var p = pos
        if p < end && base[p] == UInt8(ascii: "-") { p += 1 }
        if p < end, base[p] == UInt8(ascii: "I") || base[p] == UInt8(ascii: "N") {
            if matchLiteral("Infinity", at: p) {
                pos = p + 8
                return NumberToken(start: start, end: pos, isInteger: false, special: p == start ? .infinity : -.infinity)
            }
            if p == start && matchLiteral("NaN", at: p) {
                pos = p + 3
                return NumberToken(start: start, end: pos, isInteger: false, special: .nan)
            }
        }
        guard p < end, isDigit(base[p]) else { pos = p; throw malformed(expected: "a number") }
        if base[p] == UInt8(ascii: "0") {
            p += 1
        } else {
            while p < end && isDigit(base[p]) { p += 1 }
        }
        var isInteger = true
        if p < end && base[p] == UInt8(ascii: ".") {
            isInteger = false
            p += 1
            guard p < end, isDigit(base[p]) else { pos = p; throw malformed(expected: "a digit after '.'") }
            while p < end && isDigit(base[p]) { p += 1 }
        }
        if p < end && (base[p] == UInt8(ascii: "e") || base[p] == UInt8(ascii: "E")) {
            isInteger = false
            p += 1
            if p < end && (base[p] == UInt8(ascii: "+") || base[p] == UInt8(ascii: "-")) { p += 1 }
            guard p < end, isDigit(base[p]) else { pos = p; throw malformed(expected: "a digit in the exponent") }
            while p < end && isDigit(base[p]) { p += 1 }
        }
        // A number must not run straight into letters or digits (e.g. "01", "1x").
        if p < end {
            let c = base[p]
            if isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z")) || c == UInt8(ascii: ".") {
                pos = p
                throw malformed(expected: "a delimiter after the number")
            }
        }
        pos = p
        return NumberToken(start: start, end: p, isInteger: isInteger, special: nil)
    }

    // Mutating (though it changes nothing) so that calls from the hot path do not copy self.
    private mutating func matchLiteral(_ literal: StaticString, at p: Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard p + n <= end else { return false }
        let lit = literal.utf8Start
        for k in 0..<n where base[p + k] != lit[k] { return false }
        return true
    }

    /// Converts a validated token to the correctly rounded nearest Double.
    mutating func value(of token: NumberToken) -> Double {
        if let special = token.special { return special }
        let n = token.end - token.start
        if n < 64 {
            // Copy into a NUL-terminated stack buffer and call strtod; accept its result only if
            // it consumed the whole token (it would not under a locale with another radix).
            let parsed: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buf in
                guard let b = buf.baseAddress else { return nil }
                for k in 0..<n { b[k] = CChar(bitPattern: base[token.start + k]) }
                b[n] = 0
                var endPtr: UnsafeMutablePointer<CChar>? = nil
                let v = strtod(b, &endPtr)
                guard let e = endPtr, e - b == n else { return nil }
                return v
            }
            if let parsed { return parsed }
        }
        return Double(token.text(in: self)) ?? .nan
    }

    /// Reads a number (any JSON number, or NaN/Infinity) as a Double.
    @inline(__always)
    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        skipWhitespace()
        guard let c = peek(), isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "N") || c == UInt8(ascii: "I") else {
            throw error("expected \(what()) to be a number, found \(describeValueKind())")
        }
        return value(of: try readNumberToken())
    }

    /// Reads an integer literal that fits in `Int`.
    mutating func readInt(_ what: @autoclosure () -> String) throws -> Int {
        skipWhitespace()
        guard let c = peek(), isDigit(c) || c == UInt8(ascii: "-") else {
            throw error("expected \(what()) to be an integer, found \(describeValueKind())")
        }
        let token = try readNumberToken()
        guard token.isInteger else {
            throw error("expected \(what()) to be an integer, found \(JSONText.abbreviated(token.text(in: self)))")
        }
        var v = 0
        var p = token.start
        let negative = base[p] == UInt8(ascii: "-")
        if negative { p += 1 }
        while p < token.end {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let d = Int(base[p] - UInt8(ascii: "0"))
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { throw error("\(what()) \(JSONText.abbreviated(token.text(in: self))) is out of range") }
            v = s
            p += 1
        }
        return v
    }

    /// Reads an example id: a string (kept as is) or an integer literal (kept as its decimal
    /// text, so ids beyond 64 bits survive; "-0" becomes "0").
    mutating func readID(_ what: @autoclosure () -> String) throws -> String {
        skipWhitespace()
        guard let c = peek() else { throw malformed(expected: what()) }
        if c == UInt8(ascii: "\"") { return try readString() }
        if isDigit(c) || c == UInt8(ascii: "-") {
            let token = try readNumberToken()
            guard token.isInteger, token.special == nil else {
                throw error("expected \(what()) to be an integer or a string, found \(JSONText.abbreviated(token.text(in: self)))")
            }
            let text = token.text(in: self)
            return text == "-0" ? "0" : text
        }
        throw error("expected \(what()) to be an integer or a string, found \(describeValueKind())")
    }

    // MARK: Skipping

    /// Skips one JSON value of any kind (used for unknown fields), validating its syntax.
    /// Iterative, so deeply nested input cannot overflow the stack.
    mutating func skipValue() throws {
        var closers: [UInt8] = []
        var started: [Bool] = []
        repeat {
            skipWhitespace()
            guard let c = peek() else { throw malformed(expected: "a value") }
            // Handle the end of the innermost container, or a separator.
            if let closer = closers.last {
                if c == closer {
                    pos += 1
                    closers.removeLast()
                    started.removeLast()
                    continue
                }
                if started[started.count - 1] {
                    guard c == UInt8(ascii: ",") else {
                        throw malformed(expected: closer == UInt8(ascii: "}") ? "',' or '}'" : "',' or ']'")
                    }
                    pos += 1
                    skipWhitespace()
                }
                started[started.count - 1] = true
                if closer == UInt8(ascii: "}") {
                    _ = try readString()
                    try expect(UInt8(ascii: ":"), "':' after a field name")
                    skipWhitespace()
                }
            }
            guard let v = peek() else { throw malformed(expected: "a value") }
            switch v {
            case UInt8(ascii: "{"):
                pos += 1; closers.append(UInt8(ascii: "}")); started.append(false)
            case UInt8(ascii: "["):
                pos += 1; closers.append(UInt8(ascii: "]")); started.append(false)
            case UInt8(ascii: "\""):
                _ = try readString()
            case UInt8(ascii: "t"):
                try readLiteral("true")
            case UInt8(ascii: "f"):
                try readLiteral("false")
            case UInt8(ascii: "n"):
                try readLiteral("null")
            default:
                _ = try readNumberToken()
            }
        } while !closers.isEmpty
    }

    /// Consumes the literal `true`, `false` or `null`.
    mutating func readLiteral(_ literal: StaticString) throws {
        guard matchLiteral(literal, at: pos) else { throw malformed(expected: "a JSON value") }
        pos += literal.utf8CodeUnitCount
    }

    /// After a top-level value on a line: only whitespace may follow up to `end`.
    mutating func expectEnd(_ what: String) throws {
        skipWhitespace()
        if pos < end { throw malformed(expected: "nothing after \(what)") }
    }
}
