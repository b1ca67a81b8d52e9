/// Reads example texts (GPTDynamics example files): JSON lines `{"id": ..., "input": "...", ...}`,
/// used to show training examples in reports. Other fields are ignored; an id may be an integer
/// or a string; a later line with the same id replaces an earlier one.
public enum ExampleTextsFile {
    /// Every example's `"input"` text by id.
    public static func read(_ path: String) throws -> [String: String] {
        let file = try MappedFile(path)
        if file.isBlank { throw SimfluenceError.input(file: path, line: nil, message: "empty file: expected JSON lines {\"id\": ..., \"input\": \"...\"}") }
        var s = file.scanner()
        let ctx = JSONReadContext(file: path)
        var texts: [String: String] = [:]
        while true {
            s.skipWhitespace()
            if s.atEnd { break }
            let node = try s.parseValue()
            let m = try ctx.object(node, "each line")
            let id = try ctx.id(try ctx.field(m, "id", in: "the line", line: node.line), "\"id\"")
            texts[id] = try ctx.string(try ctx.field(m, "input", in: "the line", line: node.line), "\"input\"")
        }
        return texts
    }
}
