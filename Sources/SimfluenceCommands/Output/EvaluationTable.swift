import Simfluence

/// The evaluate table: one row per method and baseline, metrics as columns.
enum EvaluationTable {
    /// `extra`: further columns (header, value per method name; "-" where a method has none).
    /// The `Spearman (orders)` column appears when the held-out runs hold an order group (3 or
    /// more runs on the same examples).
    static func render(_ result: EvaluationResult, extra: [(header: String, values: [String: String])] = []) -> String {
        let orders = result.results.contains { $0.scores.spearmanAcrossOrders != nil }
        let header = ["method", "lambda", "all-steps MSE", "all-steps MAE", "final-step MSE",
                      "Spearman (examples)", "Spearman (runs)"] + (orders ? ["Spearman (orders)"] : []) + extra.map(\.header)
        let rows: [[String]] = result.results.map { entry in
            let s = entry.scores
            return [s.method, s.lambda.map(Format.number) ?? "-",
                    meanStd(s.allStepsMSE), meanStd(s.allStepsMAE), meanStd(s.finalStepMSE),
                    meanStd(s.spearmanAcrossExamples), s.spearmanAcrossRuns.map { Format.number($0.mean) } ?? "n/a (<3 runs)"]
                + (orders ? [s.spearmanAcrossOrders.map { Format.number($0.mean) } ?? "-"] : [])
                + extra.map { $0.values[s.method] ?? "-" }
        }
        return TextTable(header: header, rows: rows).rendered()
    }

    private static func meanStd(_ s: Summary) -> String {
        "\(Format.number(s.mean)) ± \(Format.number(s.std))"
    }
}

/// A plain-text table with left-aligned first column and right-aligned others.
struct TextTable {
    var header: [String]
    var rows: [[String]]

    func rendered() -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}
