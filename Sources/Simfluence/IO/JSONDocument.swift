
/// A JSON value to write, with keys kept in the order given, rendered compactly. Non-finite
/// numbers and nil become `null`, so no NaN or infinity ever reaches machine-readable output.
/// Integral numbers below 1e15 are written without a fraction; others round-trip exactly.
public indirect enum JSON: Sendable {
    case null
    case bool(Bool)
    case number(Double?)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// The compact text of this value.
    public func rendered() -> String {
        var out = ""
        render(into: &out)
        return out
    }

    private func render(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x):
            guard let x, x.isFinite else { out += "null"; return }
            if x == x.rounded(), abs(x) < 1e15 { out += String(Int64(x)) } else { out += "\(x)" }
        case .string(let s): out += JSONText.quoted(s)
        case .array(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (k, (key, value)) in members.enumerated() {
                if k > 0 { out += "," }
                out += JSONText.quoted(key)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        }
    }
}

extension JSON {
    /// A lambda search as `{"folds", "grid", "scores", "chosen", "screened"}`: a score is `null`
    /// where it is not finite (singular, diverged, or below the screen: the first `screened` grid
    /// points were not scored, see ``LambdaSelection/screened``).
    public init(_ s: LambdaSelection) {
        self = .object([("folds", .number(Double(s.folds))), ("grid", .array(s.grid.map { .number($0) })),
                        ("scores", .array(s.scores.map { .number($0) })), ("chosen", .number(s.chosen)),
                        ("screened", .number(Double(s.screened)))])
    }
}
