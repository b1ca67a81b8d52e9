/// Curriculum files: the batches c_1 ... c_T of a run, as training-example ids.
///
/// Accepted forms (detected from the first non-blank character):
/// - JSON lines, one object per step with `"step"` (1, 2, ... in order) and the batch under
///   `"batch"` (native form) or `"samples_id"` (GPTDynamics' `train_samples_id.json`);
///   unknown fields are ignored.
/// - A JSON array of arrays, `[[id, ...], [id, ...], ...]`, step t being element t - 1.
///
/// Ids are JSON strings or integers (kept as their decimal text). Batches must not be empty;
/// an id may repeat within a batch (it then counts twice).
public enum CurriculumFile {
    /// Reads a curriculum in either form.
    public static func read(_ path: String) throws -> [[String]] {
        try parse(try MappedFile(path))
    }

    /// Either form, from an open (or in-memory) file.
    static func parse(_ file: MappedFile) throws -> [[String]] {
        var s = file.scanner()
        s.skipWhitespace()
        if s.peek() == UInt8(ascii: "[") { return try parseArrayForm(&s) }
        return try parseLines(file, displayName: file.path)
    }

    /// Writes the native JSON-lines form atomically: `{"step": t, "batch": [...]}` per line,
    /// ids as JSON integers when they are canonical integers, else strings.
    public static func write(_ batches: [[String]], to path: String) throws {
        try AtomicFile.write(to: path) { w in try write(batches, key: "batch", into: w) }
    }

    static func write(_ batches: [[String]], key: String, into w: AtomicFileWriter) throws {
        for (t, batch) in batches.enumerated() {
            var line = "{\"step\": \(t + 1), \"\(key)\": ["
            for (k, id) in batch.enumerated() {
                if k > 0 { line += ", " }
                line += JSONText.id(id)
            }
            line += "]}\n"
            try w.write(line)
        }
    }

    /// The JSON-lines form, shared with the log readers. `displayName` names the file in errors.
    static func parseLines(_ file: MappedFile, displayName: String) throws -> [[String]] {
        var s = file.scanner(displayName: displayName)
        s.skipWhitespace()
        if s.atEnd {
            throw SimfluenceError.input(file: displayName, line: nil,
                                        message: "empty file: expected one JSON object per step, such as {\"step\": 1, \"samples_id\": [3, 17]}")
        }
        var batches: [[String]] = []
        while true {
            s.skipWhitespace()
            if s.atEnd { break }
            let line = s.line
            try s.beginObject("each line (one step of the curriculum)")
            var step: Int? = nil
            var batch: [String]? = nil
            var started = false
            while let key = try s.nextKey(&started) {
                switch key {
                case "step":
                    step = try s.readInt("\"step\"")
                case "samples_id", "batch":
                    if batch != nil {
                        throw s.error("a step has both \"batch\" and \"samples_id\"; expected one of them")
                    }
                    try s.beginArray("\"\(key)\"")
                    var ids: [String] = []
                    var more = false
                    while try s.nextElement(&more) { ids.append(try s.readID("each id in \"\(key)\"")) }
                    batch = ids
                default:
                    try s.skipValue()
                }
            }
            try expectEndOfLine(&s)
            guard let step else {
                throw SimfluenceError.input(file: displayName, line: line, message: "expected a \"step\" field, found none")
            }
            guard let batch else {
                throw SimfluenceError.input(file: displayName, line: line,
                                            message: "step \(step): expected a \"samples_id\" (or \"batch\") field, found none")
            }
            let expected = batches.count + 1
            if step != expected {
                throw SimfluenceError.input(file: displayName, line: line,
                                            message: stepMessage(expected: expected, found: step))
            }
            if batch.isEmpty {
                throw SimfluenceError.input(file: displayName, line: line, message: "step \(step): empty batch; every step needs at least one training example")
            }
            batches.append(batch)
        }
        return batches
    }

    /// After an object in a JSON-lines file: only blanks up to the end of the line.
    static func expectEndOfLine(_ s: inout JSONScanner) throws {
        while let c = s.peek(), c == 0x20 || c == 0x09 || c == 0x0D { s.pos += 1 }
        if let c = s.peek(), c != 0x0A {
            throw s.malformed(expected: "the end of the line after the JSON object (one object per line)")
        }
    }

    /// "expected step 5 after step 4, found step 7 (steps 5...6 are missing)" and friends.
    static func stepMessage(expected: Int, found: Int) -> String {
        let previous = expected - 1
        if previous == 0 { return "expected the first step to be 1, found step \(found)" }
        var m = "expected step \(expected) after step \(previous), found step \(found)"
        if found == previous {
            m += " again (duplicate step)"
        } else if found == expected + 1 {
            m += " (step \(expected) is missing)"
        } else if found > expected {
            m += " (steps \(expected)...\(found - 1) are missing)"
        } else {
            m += " (steps out of order)"
        }
        return m
    }

    static func parseArrayForm(_ s: inout JSONScanner) throws -> [[String]] {
        let file = s.file
        let root = try s.parseValue()
        try s.expectEnd("the curriculum array")
        let ctx = JSONReadContext(file: file)
        let elements = try ctx.array(root, "the curriculum")
        if elements.isEmpty {
            throw SimfluenceError.input(file: file, line: root.line, message: "empty curriculum: expected at least one batch")
        }
        return try elements.enumerated().map { t, node in
            let ids = try ctx.array(node, "batch \(t + 1)").map { try ctx.id($0, "each id of batch \(t + 1)") }
            if ids.isEmpty {
                throw SimfluenceError.input(file: file, line: node.line, message: "step \(t + 1): empty batch; every step needs at least one training example")
            }
            return ids
        }
    }
}
