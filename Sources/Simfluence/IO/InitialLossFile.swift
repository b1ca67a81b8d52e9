/// Starting losses of test examples (the L_0 a counterfactual simulation starts from).
///
/// Accepted forms:
/// - one JSON object mapping test ids to losses: `{"12": 2.31, "7": 1.9}` (may span lines);
/// - JSON lines, one record per test example: `{"id": 12, "loss": 2.31}` (extra fields ignored).
///
/// A file holding a single object with both an `"id"` and a `"loss"` field is read as one
/// record. Losses must be finite; each test id may appear once.
public enum InitialLossFile {
    public static func read(_ path: String) throws -> [String: Double] {
        try parse(try MappedFile(path))
    }

    /// Either form, from an open (or in-memory) file.
    static func parse(_ file: MappedFile) throws -> [String: Double] {
        let path = file.path
        if file.isBlank {
            throw SimfluenceError.input(file: path, line: nil,
                                        message: "empty file: expected {\"test_id\": loss, ...} or JSON lines {\"id\": test_id, \"loss\": x}")
        }
        var s = file.scanner()
        var values: [JSONNode] = []
        while true {
            s.skipWhitespace()
            if s.atEnd { break }
            values.append(try s.parseValue())
        }
        let ctx = JSONReadContext(file: path)
        var out: [String: Double] = [:]
        var lines: [String: Int] = [:]
        func add(_ id: String, _ loss: Double, _ line: Int) throws {
            if let first = lines[id] {
                throw ctx.fail(line, "test example \(JSONText.abbreviated(id)) appears again (first on line \(first))")
            }
            lines[id] = line
            out[id] = loss
        }
        if values.count == 1, let members = values[0].value.members,
           !(members["id"] != nil && members["loss"] != nil) {
            for m in members {
                try add(m.key, try ctx.loss(m.node, "the loss of test example \(JSONText.abbreviated(m.key))"), m.node.line)
            }
            return out
        }
        for node in values {
            let members = try ctx.object(node, "each line (one test example)")
            let id = try ctx.id(try ctx.field(members, "id", in: "the record", line: node.line), "\"id\"")
            let shown = JSONText.abbreviated(id)
            let loss = try ctx.loss(try ctx.field(members, "loss", in: "the record of test example \(shown)", line: node.line),
                                    "the loss of test example \(shown)")
            try add(id, loss, node.line)
        }
        return out
    }
}
