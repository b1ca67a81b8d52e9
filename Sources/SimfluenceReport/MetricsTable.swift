import SimfluenceCore

/// A scored column of the metrics table.
public enum MetricColumn: String, CaseIterable, Sendable {
    case allStepsMSE, allStepsMAE, finalStepMSE, spearmanAcrossExamples, spearmanAcrossRuns, spearmanAcrossOrders

    /// The column heading.
    public var title: String {
        switch self {
        case .allStepsMSE: "all-steps MSE"
        case .allStepsMAE: "all-steps MAE"
        case .finalStepMSE: "final-step MSE"
        case .spearmanAcrossExamples: "Spearman across examples"
        case .spearmanAcrossRuns: "Spearman across runs"
        case .spearmanAcrossOrders: "Spearman across orders"
        }
    }

    /// Errors: lower is better; rank correlations: higher is better.
    public var lowerIsBetter: Bool { self != .spearmanAcrossExamples && self != .spearmanAcrossRuns && self != .spearmanAcrossOrders }

    /// The column's summary for one method (nil: not available).
    public func summary(_ s: MethodScores) -> Summary? {
        switch self {
        case .allStepsMSE: s.allStepsMSE
        case .allStepsMAE: s.allStepsMAE
        case .finalStepMSE: s.finalStepMSE
        case .spearmanAcrossExamples: s.spearmanAcrossExamples
        case .spearmanAcrossRuns: s.spearmanAcrossRuns
        case .spearmanAcrossOrders: s.spearmanAcrossOrders
        }
    }
}

/// The metrics table of `simfluence evaluate`, as HTML, with the best value per column marked.
public enum MetricsTable {
    /// Rows (indices into `scores`) holding the best mean of each column: the lowest finite
    /// error, the highest finite Spearman. Rows within a relative 1e-12 of the best tie and are
    /// all marked; a column with no finite value marks nothing.
    public static func best(_ scores: [MethodScores]) -> [MetricColumn: Set<Int>] {
        var out: [MetricColumn: Set<Int>] = [:]
        for column in MetricColumn.allCases {
            let values: [(Int, Double)] = scores.enumerated().compactMap { i, s in
                guard let m = column.summary(s)?.mean, m.isFinite else { return nil }
                return (i, column.lowerIsBetter ? m : -m)
            }
            guard let top = values.map(\.1).min() else { continue }
            let tolerance = 1e-12 * max(abs(top), 1e-300)
            out[column] = Set(values.filter { $0.1 <= top + tolerance }.map(\.0))
        }
        return out
    }

    /// The table: one row per entry of `scores` (`<tr data-method=...>`), one cell per column
    /// (`<td data-column=...>`); best cells carry `class="best"`, bold text and a "\u{25C6}" marker.
    /// `styles` gives each row's plot style for a swatch (missing: none).
    public static func html(_ scores: [MethodScores], styles: [SeriesStyle]? = nil) -> String {
        let best = best(scores)
        var out = "<table class=\"metrics\"><thead><tr><th scope=\"col\">method</th><th scope=\"col\" class=\"num\">\u{03BB}</th>"
        // Spearman across orders only when the held-out runs hold an order group.
        let columns = MetricColumn.allCases.filter { c in c != .spearmanAcrossOrders || scores.contains { $0.spearmanAcrossOrders != nil } }
        for c in columns { out += "<th scope=\"col\" class=\"num\">\(Markup.escape(c.title))</th>" }
        out += "</tr></thead><tbody>"
        for (i, s) in scores.enumerated() {
            out += "<tr data-method=\"\(Markup.escape(s.method))\"><th scope=\"row\">"
            if let styles, i < styles.count {
                var swatch = SVGWriter(width: 26, height: 10, label: "", cssClass: "swatch", attributes: [("aria-hidden", "true")])
                swatch.line(1, 5, 25, 5, styles[i].strokeAttributes)
                out += swatch.markup
            }
            out += Markup.escape(s.method) + "</th><td class=\"num\">" + (s.lambda.map { NumberFormat.significant($0, digits: 3) } ?? "\u{2013}") + "</td>"
            for c in columns {
                let text: String
                if let summary = c.summary(s) {
                    text = c == .spearmanAcrossRuns || c == .spearmanAcrossOrders ? number(summary.mean) : number(summary.mean) + " \u{00B1} " + number(summary.std)
                } else {
                    text = "n/a (needs \u{2265} 3 held-out runs)"
                }
                if best[c]?.contains(i) == true {
                    out += "<td class=\"num best\" data-column=\"\(c.rawValue)\"><strong>\(Markup.escape(text))</strong><span class=\"mark\" title=\"best in column\"> \u{25C6}</span></td>"
                } else {
                    out += "<td class=\"num\" data-column=\"\(c.rawValue)\">\(Markup.escape(text))</td>"
                }
            }
            out += "</tr>"
        }
        return out + "</tbody></table>"
    }

    private static func number(_ x: Double) -> String {
        x.isNaN ? "n/a" : NumberFormat.significant(x, digits: 3)
    }
}
