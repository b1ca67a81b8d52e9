/// Simulated trajectories of one run (held-out or counterfactual), for ``PredictionsFile``.
public struct RunPrediction: Sendable, Equatable {
    /// The method that made the predictions ("linear", "mean-run", ...), or nil when unnamed.
    public var method: String?
    /// The run's name (or a label for a counterfactual curriculum).
    public var run: String
    /// The step of row 0 (the starting point); row r is the loss after step `firstStep + r`.
    public var firstStep: Int
    /// Predicted losses: rows = steps `firstStep...T`, one column per test id.
    public var predicted: Matrix
    /// The recorded losses in the same shape, or nil when there is no real run to compare with.
    public var truth: Matrix?

    public init(method: String? = nil, run: String, firstStep: Int, predicted: Matrix, truth: Matrix?) {
        self.method = method
        self.run = run
        self.firstStep = firstStep
        self.predicted = predicted
        self.truth = truth
    }
}

/// Predictions as JSON lines, one per (run, test example):
///
///     {"method": "linear", "run": "run7", "test_id": 42, "first_step": 0, "predicted": [2.31, 2.2, ...], "true": [2.31, 2.25, ...]}
///
/// `"method"` is present when the prediction names its method; a file may hold several methods'
/// predictions of the same runs.
/// Arrays cover steps `first_step...T` (element 0 is the starting point). `"true"` is null when
/// there is no recorded run. Ids are JSON integers when canonical integers, else strings.
/// Numbers have full round-trip precision; a non-finite prediction (a diverged simulation) is
/// written as null, since JSON has no NaN or infinity.
public enum PredictionsFile {
    /// Writes `runs` (in order; test examples in the order of `testIDs`) to `path`, streamed to a
    /// temporary file that replaces `path` when complete.
    public static func write(_ runs: [RunPrediction], testIDs: [String], to path: String) throws {
        for r in runs {
            guard r.predicted.columns == testIDs.count else {
                throw SimfluenceError.invalidArgument("predictions for run \(r.run) have \(r.predicted.columns) columns for \(testIDs.count) test ids")
            }
            if let t = r.truth, t.rows != r.predicted.rows || t.columns != r.predicted.columns {
                throw SimfluenceError.invalidArgument("run \(r.run): true losses are \(t.rows) x \(t.columns) but predictions are \(r.predicted.rows) x \(r.predicted.columns)")
            }
        }
        try AtomicFile.write(to: path) { w in
            var line = ""
            for r in runs {
                let runText = JSONText.quoted(r.run)
                let methodText = r.method.map { "\"method\": \(JSONText.quoted($0)), " } ?? ""
                for (j, id) in testIDs.enumerated() {
                    line.removeAll(keepingCapacity: true)
                    line += "{\(methodText)\"run\": \(runText), \"test_id\": \(JSONText.id(id)), \"first_step\": \(r.firstStep), \"predicted\": "
                    append(r.predicted, column: j, to: &line)
                    line += ", \"true\": "
                    if let t = r.truth { append(t, column: j, to: &line) } else { line += "null" }
                    line += "}\n"
                    try w.write(line)
                }
            }
        }
    }

    private static func append(_ m: Matrix, column j: Int, to line: inout String) {
        line += "["
        for r in 0..<m.rows {
            if r > 0 { line += ", " }
            let v = m.storage[r * m.columns + j]
            if v.isFinite { v.write(to: &line) } else { line += "null" }
        }
        line += "]"
    }

    /// Reads a predictions file back: runs in order of first appearance, test ids in the order
    /// of the first run. Nulls read as NaN.
    public static func read(_ path: String) throws -> (testIDs: [String], runs: [RunPrediction]) {
        let file = try MappedFile(path)
        if file.isBlank { throw SimfluenceError.input(file: path, line: nil, message: "empty file: expected JSON lines of predictions") }
        var s = file.scanner()
        let ctx = JSONReadContext(file: path)
        struct Pending { var method: String?; var run: String; var first: Int; var columns: [String: ([Double], [Double]?)]; var order: [String]; var line: Int }
        var pending: [(String, Pending)] = []
        var runIndex: [String: Int] = [:]
        while true {
            s.skipWhitespace()
            if s.atEnd { break }
            let node = try s.parseValue()
            let m = try ctx.object(node, "each line")
            let run = try ctx.string(try ctx.field(m, "run", in: "the line", line: node.line), "\"run\"")
            var method: String? = nil
            if let mm = m["method"], !mm.value.isNull { method = try ctx.string(mm, "\"method\"") }
            let key = (method.map { $0 + "\u{0}" } ?? "") + run
            let id = try ctx.id(try ctx.field(m, "test_id", in: "the line", line: node.line), "\"test_id\"")
            let first = try ctx.int(try ctx.field(m, "first_step", in: "the line", line: node.line), "\"first_step\"")
            func numbers(_ n: JSONNode, _ what: String) throws -> [Double] {
                try ctx.array(n, what).map { e in
                    if e.value.isNull { return .nan }
                    guard let v = e.value.double else { throw ctx.fail(e.line, "expected numbers in \(what), found \(e.value.kind)") }
                    return v
                }
            }
            let predicted = try numbers(try ctx.field(m, "predicted", in: "the line", line: node.line), "\"predicted\"")
            var truth: [Double]? = nil
            if let t = m["true"], !t.value.isNull { truth = try numbers(t, "\"true\"") }
            if truth.map({ $0.count != predicted.count }) == true {
                throw ctx.fail(node.line, "\"true\" has \(truth?.count ?? 0) values but \"predicted\" has \(predicted.count)")
            }
            let k = runIndex[key] ?? {
                pending.append((run, Pending(method: method, run: run, first: first, columns: [:], order: [], line: node.line)))
                runIndex[key] = pending.count - 1
                return pending.count - 1
            }()
            if pending[k].1.columns[id] != nil { throw ctx.fail(node.line, "run \(run), test example \(id) appears twice") }
            if pending[k].1.first != first { throw ctx.fail(node.line, "run \(run): \"first_step\" changes from \(pending[k].1.first) to \(first)") }
            pending[k].1.columns[id] = (predicted, truth)
            pending[k].1.order.append(id)
        }
        let testIDs = pending[0].1.order
        var runs: [RunPrediction] = []
        for (name, p) in pending {
            guard Set(p.order) == Set(testIDs) else {
                throw ctx.fail(p.line, "run \(name) does not predict the same test examples as run \(pending[0].0)")
            }
            let rows = p.columns[testIDs[0]]?.0.count ?? 0
            var pred = Matrix(rows: rows, columns: testIDs.count)
            var truth: Matrix? = Matrix(rows: rows, columns: testIDs.count)
            for (j, id) in testIDs.enumerated() {
                guard let (pv, tv) = p.columns[id], pv.count == rows else {
                    throw ctx.fail(p.line, "run \(name): trajectories differ in length")
                }
                for r in 0..<rows { pred[r, j] = pv[r] }
                if let tv { for r in 0..<rows { truth?[r, j] = tv[r] } } else { truth = nil }
            }
            runs.append(RunPrediction(method: p.method, run: name, firstStep: p.first, predicted: pred, truth: truth))
        }
        return (testIDs, runs)
    }
}
