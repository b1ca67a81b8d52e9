import SimfluenceCore

/// Renders the self-contained HTML page of a counterfactual study (`simfluence counterfactuals`):
/// the metrics of every method on real retraining (all-steps MSE, LDS, order-LDS, and the
/// scores of its targeted edits), and a panel of predicted against real change per edit, one
/// colour per method.
public enum CounterfactualReport {
    public static func render(_ result: CounterfactualResult, title: String, design: CounterfactualDesign) -> String {
        var body = "<h1>\(Markup.escape(title))</h1>\n"
        body += "<section id=\"design\"><h2>What was retrained</h2><p>"
        body += "Simulators were fitted on \(result.fitLog.runs.count) runs and scored on runs really trained from the same checkpoint: "
        body += "\(result.randomLog.runs.count) runs on further random subsets (LDS: Spearman across runs), "
        body += "\(design.orderSubsets) subsets each trained in \(design.orders) orders (order-LDS: Spearman across the orders of one subset), "
        body += "and \(Set(result.edits.map(\.run)).count) edited curricula built from each method's own attribution "
        body += "(for the \(design.editTests) test examples whose loss varies most, on \(design.editReferences) reference runs: "
        body += "drop the k most helpful or most harmful examples, move the most helpful to the end or the start, or train them twice; k in "
        body += design.editSizes.map(String.init).joined(separator: ", ") + "). "
        body += "Order alone accounts for \(NumberFormat.significant(100 * result.orderShare, digits: 3))% of the variance of a test example's final loss across random runs (mean over test examples). "
        body += "The built-in trainers are deterministic for a given curriculum, so every score's ceiling here is 1.</p></section>\n"
        body += table(result)
        body += editPanel(result)
        body += "<footer>Written by simfluence. Everything is in this file: inline SVG and CSS, no scripts, no external resources.</footer>\n"
        return HTMLDocument(title: title, body: body).render()
    }

    private static func number(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "\u{2013}" }
        return NumberFormat.significant(x, digits: 3)
    }

    private static func table(_ result: CounterfactualResult) -> String {
        var out = "<section id=\"metrics\"><h2>Scores on real retraining</h2><table class=\"metrics\"><thead><tr>"
        for h in ["method", "all-steps MSE", "LDS", "fit-run LDS", "order-LDS", "edit sign accuracy", "median relative error of the change",
                  "Spearman of changes"] {
            out += "<th scope=\"col\">\(Markup.escape(h))</th>"
        }
        out += "</tr></thead><tbody>"
        for s in result.scores {
            out += "<tr data-method=\"\(Markup.escape(s.method))\"><th scope=\"row\">\(Markup.escape(s.method))</th>"
            for v in [s.random.allStepsMSE.mean, s.random.spearmanAcrossRuns?.mean, s.fitRuns.spearmanAcrossRuns?.mean,
                      s.orders.spearmanAcrossOrders?.mean,
                      s.edits?.signAccuracy, s.edits?.medianRelativeError, s.edits?.spearman] {
                out += "<td class=\"num\">\(number(v))</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table></section>\n"
    }

    private static func editPanel(_ result: CounterfactualResult) -> String {
        let methods = result.scores.filter { $0.edits != nil }.map(\.method)
        guard !result.edits.isEmpty else { return "" }
        let styles = Palette.styles(for: methods)
        var series: [ScatterSeries] = []
        var real: [Double] = [], predicted: [Double] = []
        for (m, method) in methods.enumerated() {
            let points = result.edits.filter { $0.method == method }.map { (x: $0.realChange, y: $0.predictedChange) }
            real += points.map(\.x)
            predicted += points.map(\.y)
            series.append(ScatterSeries(key: method, style: styles[m], points: points))
        }
        var frame = PlotFrame(width: 560, height: 520)
        frame.bottom = 48
        let y = PlotRange.valueAxis(primary: real, secondary: predicted, log: false,
                                    pixels: (frame.plotBottom, frame.plotTop), targetTicks: frame.yTickTarget, reach: 1)
        frame.left = HTMLReport.leftMargin(for: y)
        frame.width = frame.left + frame.right + frame.plotHeight
        var x = y
        x.pixelStart = frame.plotLeft
        x.pixelEnd = frame.plotRight
        let plot = ScatterPlot(frame: frame, x: x, y: y, xTitle: "real change of the final loss", yTitle: "predicted change",
                               series: series.reversed())
        let rendered = plot.render(label: "Predicted against real change of the final loss, every edit, per method")
        let entries = methods.enumerated().map { LegendEntry(key: $1, name: $1, style: styles[$0]) }
        var out = "<section id=\"edits\"><h2>Predicted against real change, per edit</h2><figure id=\"figure-1\">"
        out += Legend.html(entries, markers: true) + rendered.markup
        out += "<figcaption><strong>Figure 1.</strong> Each marker is one edited curriculum: the change of the test example's final loss that real retraining produced (x) against the change the method predicted (y), both relative to the reference run. Markers on the dashed diagonal are exact; in the upper-right and lower-left quadrants the predicted sign is right. "
        let names = Dictionary(entries.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
        out += Markup.escape(rendered.notes.sentences(order: entries.map(\.key), names: names, axisMinimum: nil, markers: true))
        out += "</figcaption></figure></section>\n"
        return out
    }
}
