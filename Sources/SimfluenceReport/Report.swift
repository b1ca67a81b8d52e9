import SimfluenceCore

/// Renders the self-contained HTML report of an evaluation.
///
/// Typical use, after an evaluation (the caller writes the file):
///
/// ```swift
/// let split = try HoldoutSplit.last(5, of: log)
/// let result = try Evaluator.evaluate([.linear, .additive], log: log, split: split, lambda: .automatic)
/// let html = HTMLReport.render(ReportInput(logPath: path, log: log, split: split, result: result))
/// try AtomicFile.write(Data(html.utf8), to: "report.html")
/// ```
///
/// Rendering never fails: non-finite or wildly wrong predictions are skipped or pinned to the
/// plot edge and the figure captions say so.
public enum HTMLReport {
    /// Geometry of one trajectory panel.
    static let panelWidth = 370.0
    static let panelHeight = 250.0

    /// The report as one XHTML-compatible HTML document: inline SVG and CSS, no scripts and no
    /// external resources. Sections, in order: the log and the fits; the metrics table with the
    /// best value per column marked; loss trajectories of the chosen test examples (one figure
    /// each, one panel per held-out run); predicted against true final loss; the most helpful and
    /// harmful training examples of each chosen test example (when ``ReportInput/attributionSimulator``
    /// is set); the counterfactual checks (when given).
    public static func render(_ input: ReportInput) -> String {
        var figures = FigureCounter()
        let chosen = chosenTests(input)
        var body = "<h1>\(Markup.escape(input.title))</h1>\n"
        body += header(input)
        body += contents(input)
        body += metrics(input)
        body += trajectories(input, chosen: chosen, figures: &figures)
        body += finalScatter(input, figures: &figures)
        if input.attributionSimulator != nil { body += attribution(input, chosen: chosen) }
        if !input.counterfactuals.isEmpty { body += counterfactuals(input, figures: &figures) }
        body += "<footer>Written by simfluence. Everything is in this file: inline SVG and CSS, no scripts, no external resources.</footer>\n"
        return HTMLDocument(title: input.title, body: body).render()
    }

    /// The test examples the report plots: ``ReportInput/chosenTests`` (valid, deduplicated) or
    /// the default selection.
    public static func chosenTests(_ input: ReportInput) -> [ChosenTest] {
        let tests = input.heldOutRuns.first?.losses.columns ?? input.testIDs.count
        if let explicit = input.chosenTests {
            var seen = Set<Int>()
            return explicit.filter { $0 >= 0 && $0 < tests && seen.insert($0).inserted }
                .map { ChosenTest(index: $0, reasons: ["chosen by the caller"]) }
        }
        return TestSelection.default(result: input.result, heldOut: input.heldOutRuns)
    }

    // MARK: - Sections

    private static func header(_ input: ReportInput) -> String {
        let log = input.log
        let steps = log.minSteps == log.maxSteps ? "\(log.maxSteps)" : "\(log.minSteps)\u{2013}\(log.maxSteps)"
        let held = input.result.heldOutRuns
        var out = "<section id=\"log\"><table class=\"facts\"><tbody>"
        func row(_ k: String, _ v: String) { out += "<tr><th scope=\"row\">\(Markup.escape(k))</th><td>\(v)</td></tr>" }
        row("log", "<code>\(Markup.escape(log.path))</code>")
        row("runs", "\(log.runs) (\(input.result.trainingRuns.count) fitted on, \(held.count) held out)")
        row("steps per run", steps)
        row("batch size", "\(log.batchSize) (most common)")
        row("training pool", "\(log.poolSize) examples")
        row("test examples", "\(log.testExamples)")
        row("held-out runs", held.map { "<span class=\"id\">\(Markup.escape($0))</span>" }.joined(separator: ", "))
        out += "</tbody></table>"
        let fitted = input.result.results.filter { $0.fit != nil }
        if !fitted.isEmpty {
            out += "<h3>Fits</h3><table class=\"fits\"><thead><tr><th scope=\"col\">method</th><th scope=\"col\" class=\"num\">\u{03BB}</th><th scope=\"col\">how \u{03BB} was chosen</th><th scope=\"col\" class=\"num\">fit time</th></tr></thead><tbody>"
            for entry in fitted {
                guard let fit = entry.fit else { continue }
                let lambda = fit.simulator.lambda.map { NumberFormat.significant($0, digits: 3) } ?? "\u{2013}"
                var how = "fixed"
                if let s = fit.selection {
                    let grid = s.grid.map { NumberFormat.significant($0, digits: 3) }
                    let gridText = grid.count > 6 ? "\(grid.first!) \u{2026} \(grid.last!) (\(grid.count) values)" : grid.joined(separator: ", ")
                    how = "\(s.folds)-fold cross-validation over whole training runs, grid \(gridText)"
                    if let k = s.grid.firstIndex(of: s.chosen), k == 0 || k == s.grid.count - 1, s.grid.count > 1 {
                        how += "; <span class=\"note\">chosen at the edge of the grid</span>"
                    }
                }
                out += "<tr><th scope=\"row\">\(Markup.escape(entry.scores.method))</th><td class=\"num\">\(lambda)</td><td>\(how)</td><td class=\"num\">\(NumberFormat.seconds(fit.seconds))</td></tr>"
            }
            out += "</tbody></table><p class=\"caption\">Fit time: \u{03BB} selection plus the final fit on the \(input.result.trainingRuns.count) training runs.</p>"
        }
        return out + "</section>\n"
    }

    private static func contents(_ input: ReportInput) -> String {
        var items = [("metrics", "Scores on the held-out runs"), ("trajectories", "Loss trajectories"),
                     ("final", "Predicted against real final loss")]
        if input.attributionSimulator != nil { items.append(("attribution", "Most helpful and harmful training examples")) }
        if !input.counterfactuals.isEmpty { items.append(("counterfactual", "Counterfactual checks")) }
        return "<nav><ol>" + items.map { "<li><a href=\"#\($0.0)\">\(Markup.escape($0.1))</a></li>" }.joined() + "</ol></nav>\n"
    }

    private static func metrics(_ input: ReportInput) -> String {
        let scores = input.result.results.map(\.scores)
        let styles = Palette.styles(for: scores.map(\.method))
        var out = "<section id=\"metrics\"><h2>Scores on the held-out runs</h2>"
        out += "<div class=\"scroll\">" + MetricsTable.html(scores, styles: styles) + "</div>"
        out += "<p class=\"caption\"><strong>Bold</strong> with <span class=\"mark\">\u{25C6}</span>: the best value in its column (lowest error; highest Spearman), ties all marked. "
        out += "Errors are over every (held-out run, test example) trajectory, mean \u{00B1} std, in squared loss units (MSE) or loss units (MAE); all-steps errors average every simulated step after the starting one. "
        out += "Spearman across examples: per held-out run, the rank correlation of real and predicted final losses over the test examples (mean \u{00B1} std over runs; dominated by each example's starting loss). "
        out += "Spearman across runs: per test example, the same over the held-out runs (mean over test examples): does the simulator know which curriculum helps this example? "
        out += "persistence predicts the starting loss at every step; mean-run predicts the average trajectory of the training runs. A method that does not beat mean-run has learned nothing about curricula.</p>"
        return out + "</section>\n"
    }

    /// The plot style of every row of the metrics table.
    private static func methodStyles(_ input: ReportInput) -> [SeriesStyle] {
        Palette.styles(for: input.result.results.map(\.scores.method))
    }

    /// Legend entries for the plotted methods and baselines (``ReportInput/plotted``), in table order.
    private static func methodEntries(_ input: ReportInput) -> [LegendEntry] {
        let styles = methodStyles(input)
        return input.plotted.map { i in
            let e = input.result.results[i]
            return LegendEntry(key: e.scores.method, name: e.scores.method, style: styles[i])
        }
    }

    /// A sentence naming the methods the figures leave out, if any.
    private static func leftOut(_ input: ReportInput) -> String {
        let plotted = Set(input.plotted)
        let omitted = input.result.results.indices.filter { !plotted.contains($0) }.map { input.result.results[$0].scores.method }
        guard !omitted.isEmpty else { return "" }
        return " To keep the figures readable they draw the baselines and the \(input.plotMethods == nil ? "best methods by all-steps MSE" : "methods asked for (--plot-methods)"); not drawn: " + omitted.joined(separator: ", ") + "."
    }

    private static func trajectories(_ input: ReportInput, chosen: [ChosenTest], figures: inout FigureCounter) -> String {
        var out = "<section id=\"trajectories\"><h2>Loss trajectories</h2>"
        let runs = input.heldOutRuns
        guard !runs.isEmpty, !chosen.isEmpty else {
            return out + "<p>No held-out runs or test examples to plot.</p></section>\n"
        }
        out += "<p>For each chosen test example, one panel per held-out run: the real recorded loss (solid black) and each method's simulation of that run (dashed), started from the run's first recorded loss and driven by the run's own curriculum. Panels of one figure share their axes, scaled to the real losses; simulated values far outside them are pinned to the edge and counted in the caption." + Markup.escape(leftOut(input)) + "</p>"
        let entries = [LegendEntry(key: "true", name: "real run (recorded loss)", style: Palette.truth)] + methodEntries(input)
        let names = Dictionary(entries.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
        let order = entries.map(\.key)
        let firstStep = runs.map(\.firstLossStep).min() ?? 0
        let lastStep = runs.map { $0.firstLossStep + $0.losses.rows - 1 }.max() ?? 1
        for test in chosen {
            let z = test.index
            let testID = z < input.testIDs.count ? input.testIDs[z] : "#\(z)"
            var truth: [Double] = [], predicted: [Double] = []
            for (r, run) in runs.enumerated() {
                truth += run.losses.column(z)
                for m in input.plotted where r < input.result.results[m].predictions.count {
                    predicted += input.result.results[m].predictions[r].column(z)
                }
            }
            // The axis follows the real losses (half their span of room either side): a diverging
            // method must not squash the real run into a line.
            let lo = truth.min() ?? 0, hi = truth.max() ?? 1, room = max(hi - lo, 1e-12) * 0.5
            predicted = predicted.filter { $0 >= lo - room && $0 <= hi + room }
            var frame = PlotFrame(width: panelWidth, height: panelHeight)
            let y = PlotRange.valueAxis(primary: truth, secondary: predicted, log: input.logY,
                                        pixels: (frame.plotBottom, frame.plotTop), targetTicks: frame.yTickTarget)
            frame.left = leftMargin(for: y)
            let x = Axis.linear(covering: Double(firstStep), Double(lastStep), pixels: (frame.plotLeft, frame.plotRight),
                                targetTicks: frame.xTickTarget, integer: true, tight: true)
            var notes = PlotNotes()
            let number = figures.next()
            out += "<figure id=\"figure-\(number)\" data-test=\"\(Markup.escape(testID))\"><h3>Test example <span class=\"id\">\(Markup.escape(testID))</span></h3>"
            out += Legend.html(entries)
            out += "<div class=\"panels\">"
            let styles = methodStyles(input)
            for (r, run) in runs.enumerated() {
                var series = [LineSeries(key: "\(run.name) true", legendKey: "true", style: Palette.truth,
                                         firstStep: run.firstLossStep, values: run.losses.column(z))]
                // Baselines first, the first method last, so the methods sit on top.
                for m in input.plotted.reversed() where r < input.result.results[m].predictions.count {
                    let entry = input.result.results[m]
                    series.append(LineSeries(key: "\(run.name) \(entry.scores.method)", legendKey: entry.scores.method,
                                             style: styles[m], firstStep: run.firstLossStep,
                                             values: entry.predictions[r].column(z)))
                }
                let plot = LinePlot(frame: frame, x: x, y: y, xTitle: "step", yTitle: input.lossLabel,
                                    title: "held-out run \(run.name)", series: series)
                let rendered = plot.render(label: "Loss of test example \(testID) in held-out run \(run.name), real and simulated")
                notes.merge(rendered.notes)
                out += rendered.markup
            }
            out += "</div><figcaption><strong>Figure \(number).</strong> Loss of test example <span class=\"id\">\(Markup.escape(testID))</span> after every step of each held-out run: real (solid black) and simulated by each method (dashed, colours as in the table). "
            out += "Picked as: " + test.reasons.map(Markup.escape).joined(separator: "; ") + ". "
            out += input.logY ? "Log-scaled loss axis. " : ""
            out += Markup.escape(notes.sentences(order: order, names: names, axisMinimum: input.logY ? NumberFormat.significant(y.lower) : nil))
            out += "</figcaption></figure>"
        }
        return out + "</section>\n"
    }

    private static func finalScatter(_ input: ReportInput, figures: inout FigureCounter) -> String {
        var out = "<section id=\"final\"><h2>Predicted against real final loss</h2>"
        let runs = input.heldOutRuns
        var truthFinals: [Double] = [], predictedFinals: [Double] = []
        var series: [ScatterSeries] = []
        let styles = methodStyles(input)
        for m in input.plotted {
            let entry = input.result.results[m]
            var points: [(x: Double, y: Double)] = []
            for (r, run) in runs.enumerated() where r < entry.predictions.count {
                let p = entry.predictions[r]
                for z in 0..<run.losses.columns where z < p.columns {
                    let t = run.losses[run.losses.rows - 1, z], v = p[p.rows - 1, z]
                    points.append((t, v))
                    predictedFinals.append(v)
                }
            }
            series.append(ScatterSeries(key: entry.scores.method, style: styles[m], points: points))
        }
        for run in runs { truthFinals += run.finalLosses }
        var frame = PlotFrame(width: 560, height: 520)
        frame.bottom = 48
        let y = PlotRange.valueAxis(primary: truthFinals, secondary: predictedFinals, log: input.logY,
                                    pixels: (frame.plotBottom, frame.plotTop), targetTicks: frame.yTickTarget, reach: 1)
        frame.left = leftMargin(for: y)
        frame.width = frame.left + frame.right + frame.plotHeight  // square plot area
        var x = y
        x.pixelStart = frame.plotLeft
        x.pixelEnd = frame.plotRight
        // Baselines first, the first method last, so the methods sit on top.
        let plot = ScatterPlot(frame: frame, x: x, y: y, xTitle: "real final \(input.lossLabel)",
                               yTitle: "predicted final \(input.lossLabel)", series: series.reversed())
        let rendered = plot.render(label: "Predicted against real final loss, every held-out run and test example, per method")
        let entries = methodEntries(input)
        let number = figures.next()
        out += "<figure id=\"figure-\(number)\">" + Legend.html(entries, markers: true) + rendered.markup
        let perMethod = series.first?.points.count ?? 0
        out += "<figcaption><strong>Figure \(number).</strong> Each marker is one (held-out run, test example) pair, \(perMethod) per method: its real final loss (x) against the final loss the method predicts (y). Markers on the dashed diagonal y = x are exact; above it the method predicts too high a loss. Both axes share one scale, that of the real losses." + Markup.escape(leftOut(input)) + " "
        out += input.logY ? "Log-scaled axes. " : ""
        let names = Dictionary(entries.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
        out += Markup.escape(rendered.notes.sentences(order: entries.map(\.key), names: names,
                                                      axisMinimum: input.logY ? NumberFormat.significant(y.lower) : nil, markers: true))
        out += "</figcaption></figure>"
        return out + "</section>\n"
    }

    private static func attribution(_ input: ReportInput, chosen: [ChosenTest]) -> String {
        guard let simulator = input.attributionSimulator else { return "" }
        var out = "<section id=\"attribution\"><h2>Most helpful and harmful training examples</h2>"
        guard let reference = input.heldOutRuns.first else {
            return out + "<p>No held-out run to use as the reference curriculum.</p></section>\n"
        }
        guard simulator.trainIDs == input.trainIDs else {
            return out + "<p class=\"note\">The \(Markup.escape(simulator.method.name)) simulator was fitted on a different set of training examples than this log, so no attribution is shown.</p></section>\n"
        }
        // As `simfluence attribute` does: effects averaged over every held-out run's curriculum.
        let references = input.heldOutRuns.map { run in
            (run: run, batches: Array(run.simulatedBatches).map { $0.filter { $0 >= 0 && $0 < simulator.trainIDs.count } })
        }
        let batchSize = CurriculumEdits.typicalBatchSize(references[0].batches)
        let names = references.map { "<span class=\"id\">\(Markup.escape($0.run.name))</span>" }.joined(separator: ", ")
        out += "<p>Per chosen test example, the effect of each training example on its final loss, according to the <strong>\(Markup.escape(simulator.method.name))</strong> simulator: the simulated final loss on a held-out run's curriculum minus the simulated final loss on the same curriculum without that example (every occurrence removed, the rest re-batched at batch size \(batchSize), a final partial batch dropped), averaged over the \(references.count) held-out run\(references.count == 1 ? "" : "s") (\(names)), as <code>simfluence attribute</code> computes it. "
        out += "<strong>Negative = training on it lowers this test loss</strong> (it helps); positive = training on it raises the loss (it hurts). Loss units.</p>"
        let present = Set(references.flatMap { $0.batches.joined() })
        let rowIndex = Dictionary(simulator.testIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        // Every chosen test example in one call, as `attribute --test` asked for them together: a
        // saturated lag kernel rolls its test examples out jointly, so one-by-one calls would each
        // simulate all of them and start the other chosen ones from the model's starting losses.
        let shown = chosen.compactMap { test -> (column: Int, row: Int)? in
            let z = test.index
            guard z < input.testIDs.count, let row = rowIndex[input.testIDs[z]], z < reference.losses.columns else { return nil }
            return (z, row)
        }
        let allEffects = RemovalEffects.meanEffects(of: simulator, tests: shown.map(\.row),
                                                    references: references.map { reference in
                                                        (reference.batches, shown.map { reference.run.losses[0, $0.column] })
                                                    }, threads: Parallel.defaultThreads)
        for (k, shownTest) in shown.enumerated() {
            let testID = input.testIDs[shownTest.column]
            let ranked = RemovalEffects.ranked(allEffects[k], present: present)
            let helpful = Array(ranked.filter { $0.effect < 0 }.prefix(5))
            let harmful = Array(ranked.reversed().filter { $0.effect > 0 }.prefix(5))
            out += "<h3>Test example <span class=\"id\">\(Markup.escape(testID))</span></h3>"
            out += exampleView(input.examples[testID], caption: "the test example")
            out += "<div class=\"attribution\" data-test=\"\(Markup.escape(testID))\">"
            out += effectTable(helpful, kind: "helpful", heading: "Most helpful (most negative effect)", input: input,
                               empty: "None: no training example in this curriculum lowers this test loss.")
            out += effectTable(harmful, kind: "harmful", heading: "Most harmful (most positive effect)", input: input,
                               empty: "None: no training example in this curriculum raises this test loss.")
            out += "</div>"
        }
        return out + "</section>\n"
    }

    /// An example's content: its text, or its digit image with the label.
    private static func exampleMarkup(_ view: ExampleView?) -> String {
        switch view {
        case .text(let text)?: return Markup.escape(Markup.truncated(text, limit: 300))
        case .digit(let pixels, let label)?:
            return "<span class=\"digitcell\">" + DigitImage.svg(pixels: pixels, label: label) + "<span>label \(label)</span></span>"
        case nil: return "<span class=\"muted\">\u{2013}</span>"
        }
    }

    /// The test example shown above its attribution tables (nothing when its content is unknown).
    private static func exampleView(_ view: ExampleView?, caption: String) -> String {
        guard let view else { return "" }
        return "<p class=\"testexample\"><span class=\"muted\">\(Markup.escape(caption)):</span> " + exampleMarkup(view) + "</p>"
    }

    private static func effectTable(_ rows: [(index: Int, effect: Double)], kind: String, heading: String,
                                    input: ReportInput, empty: String) -> String {
        var out = "<table class=\"effects\" data-kind=\"\(kind)\"><caption class=\"caption\">\(Markup.escape(heading))</caption>"
        out += "<thead><tr><th scope=\"col\">#</th><th scope=\"col\">training example</th><th scope=\"col\">effect on final loss</th><th scope=\"col\">example</th></tr></thead><tbody>"
        if rows.isEmpty {
            out += "<tr><td colspan=\"4\" class=\"muted\">\(Markup.escape(empty))</td></tr>"
        }
        for (rank, r) in rows.enumerated() {
            let id = r.index < input.trainIDs.count ? input.trainIDs[r.index] : "#\(r.index)"
            let sign = r.effect > 0 ? "+" : ""
            out += "<tr data-train-id=\"\(Markup.escape(id))\"><td class=\"num\">\(rank + 1)</td><td class=\"id\">\(Markup.escape(id))</td><td class=\"num\">\(sign)\(NumberFormat.significant(r.effect, digits: 3))</td><td class=\"example\">"
            out += exampleMarkup(input.examples[id]) + "</td></tr>"
        }
        return out + "</tbody></table>"
    }

    private static func counterfactuals(_ input: ReportInput, figures: inout FigureCounter) -> String {
        var out = "<section id=\"counterfactual\"><h2>Counterfactual checks</h2>"
        out += "<p>A curriculum edited as described, simulated and then really trained: if the simulator is right, the simulated edit (dashed blue) follows the real retrained run (solid orange-red).</p>"
        // Real runs first (solid), simulations drawn over them (dashed), in legend order.
        let entries = [LegendEntry(key: "reference true", name: "reference run, real", style: Palette.truth),
                       LegendEntry(key: "edited real", name: "edited curriculum, real (retrained)",
                                   style: SeriesStyle(color: Palette.colors[1], width: 2.0)),
                       LegendEntry(key: "reference simulated", name: "reference run, simulated",
                                   style: SeriesStyle(color: "#8F8F8F", width: 1.5, dash: "2 3")),
                       LegendEntry(key: "edited simulated", name: "edited curriculum, simulated",
                                   style: SeriesStyle(color: Palette.colors[0], width: 1.8, dash: "7 3"))]
        for panel in input.counterfactuals {
            let used = entries.filter { $0.key != "reference simulated" || panel.referenceSimulated != nil }
            let data: [String: [Double]] = ["reference true": panel.referenceTrue, "reference simulated": panel.referenceSimulated ?? [],
                                            "edited simulated": panel.editedSimulated, "edited real": panel.editedReal]
            var frame = PlotFrame(width: 620, height: 300)
            let y = PlotRange.valueAxis(primary: panel.referenceTrue + panel.editedReal,
                                        secondary: panel.editedSimulated + (panel.referenceSimulated ?? []), log: input.logY,
                                        pixels: (frame.plotBottom, frame.plotTop), targetTicks: frame.yTickTarget)
            frame.left = leftMargin(for: y)
            let longest = max(1, used.map { data[$0.key]!.count }.max() ?? 1)
            let x = Axis.linear(covering: Double(panel.firstStep), Double(panel.firstStep + longest - 1),
                                pixels: (frame.plotLeft, frame.plotRight), targetTicks: frame.xTickTarget, integer: true, tight: true)
            let series = used.map { LineSeries(key: $0.key, legendKey: $0.key, style: $0.style, firstStep: panel.firstStep, values: data[$0.key]!) }
            let plot = LinePlot(frame: frame, x: x, y: y, xTitle: "step", yTitle: input.lossLabel, title: nil, series: series)
            let rendered = plot.render(label: "Counterfactual check for test example \(panel.testID)")
            let number = figures.next()
            out += "<figure id=\"figure-\(number)\" data-test=\"\(Markup.escape(panel.testID))\"><h3>Test example <span class=\"id\">\(Markup.escape(panel.testID))</span>: \(Markup.escape(panel.description))</h3>"
            out += Legend.html(used) + rendered.markup
            func final(_ v: [Double]) -> String { v.last.map { NumberFormat.significant($0, digits: 4) } ?? "n/a" }
            out += "<figcaption><strong>Figure \(number).</strong> Loss of test example <span class=\"id\">\(Markup.escape(panel.testID))</span> on the curriculum of run <span class=\"id\">\(Markup.escape(panel.referenceRun))</span> and on its edit (\(Markup.escape(panel.description))). "
            out += "Final loss: reference real \(final(panel.referenceTrue))"
            if let s = panel.referenceSimulated { out += ", reference simulated \(final(s))" }
            out += ", edit simulated \(final(panel.editedSimulated)), edit real \(final(panel.editedReal))"
            if let s = panel.referenceSimulated?.last, let e = panel.editedSimulated.last,
               let r = panel.referenceTrue.last, let er = panel.editedReal.last {
                out += "; change from the edit: simulated \(signed(e - s)), real \(signed(er - r))"
            }
            out += ". "
            let names = Dictionary(used.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
            out += Markup.escape(rendered.notes.sentences(order: used.map(\.key), names: names,
                                                          axisMinimum: input.logY ? NumberFormat.significant(y.lower) : nil))
            out += "</figcaption></figure>"
        }
        return out + "</section>\n"
    }

    private static func signed(_ x: Double) -> String {
        (x > 0 ? "+" : "") + NumberFormat.significant(x, digits: 3)
    }

    /// A left margin wide enough for the y tick labels and the rotated axis title.
    static func leftMargin(for y: Axis) -> Double {
        let widest = Double((y.ticks + y.minorTicks).map(\.label.count).max() ?? 1)
        return max(50, widest * 6.4 + 34)
    }
}

/// Numbers figures in order of appearance.
struct FigureCounter {
    private var count = 0
    mutating func next() -> Int {
        count += 1
        return count
    }
}
