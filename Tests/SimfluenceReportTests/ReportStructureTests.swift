import Foundation
import SimfluenceCore
import Testing
@testable import SimfluenceReport

@Suite struct ReportStructureTests {
    @Test func reportIsWellFormedAndSelfContained() throws {
        let fixture = try Fixture()
        let html = HTMLReport.render(fixture.input())
        let parsed = XMLTreeBuilder.parse(html)
        #expect(parsed.root != nil, "not well-formed: \(String(describing: parsed.error))")
        let root = try #require(parsed.root)
        #expect(root.name == "html")
        #expect(root.all("script").isEmpty)
        #expect(root.all("link").isEmpty)
        #expect(root.all("img").isEmpty)
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        // Sections in order.
        let ids = root.all("section").compactMap { $0.attributes["id"] }
        #expect(ids == ["log", "metrics", "trajectories", "final", "attribution"])
    }

    @Test func plottedTrueSeriesMatchesTheRunThroughTheAxisTransform() throws {
        for firstLossStep in [0, 1] {
            let fixture = try Fixture(firstLossStep: firstLossStep)
            let z = 2
            let root = try fixture.render(fixture.input(chosen: [z]))
            let run = fixture.split.heldOut[1]
            let group = try #require(root.all("g", where: "data-series", is: "\(run.name) true").first)
            let svg = try #require(group.ancestor("svg"))
            let x = try #require(RecordedAxis(svg, "x")), y = try #require(RecordedAxis(svg, "y"))
            let line = try #require(group.all("polyline").first)
            let pts = points(line)
            #expect(pts.count == run.losses.rows, "one vertex per recorded step")
            #expect(group.attributes["data-count"] == String(run.losses.rows))
            let first = pts[0], last = pts[pts.count - 1]
            #expect(abs(x.value(atPixel: first.0) - Double(run.firstLossStep)) < 0.5)
            #expect(abs(x.value(atPixel: last.0) - Double(run.steps)) < 0.5)
            #expect(abs(y.value(atPixel: first.1) - run.losses[0, z]) <= y.resolution(near: run.losses[0, z]) * 0.1)
            let final = run.losses[run.losses.rows - 1, z]
            #expect(abs(y.value(atPixel: last.1) - final) <= y.resolution(near: final) * 0.1)
            // And a method's simulation of the same run.
            let linear = try #require(root.all("g", where: "data-series", is: "\(run.name) linear").first)
            let predicted = fixture.result.results[0].predictions[1]
            let lp = points(try #require(linear.all("polyline").first))
            #expect(lp.count == predicted.rows)
            let p = predicted[predicted.rows - 1, z]
            #expect(abs(y.value(atPixel: lp[lp.count - 1].1) - p) <= y.resolution(near: p) * 0.1)
        }
    }

    @Test func tickLabelsCoverTheDataRange() throws {
        let fixture = try Fixture()
        let root = try fixture.render(fixture.input())
        let figures = root.all("figure").filter { $0.attributes["data-test"] != nil }
        #expect(!figures.isEmpty)
        for figure in figures {
            guard let testID = figure.attributes["data-test"], let z = fixture.log.testIDs.firstIndex(of: testID) else {
                Issue.record("figure without a known test id"); continue
            }
            let values = fixture.split.heldOut.flatMap { $0.losses.column(z) }
            for svg in figure.all("svg").filter({ $0.attributes["class"] == "plot" }) {
                let yTicks = svg.withClass("tick").filter { ($0.attributes["class"] ?? "").contains("y") }
                    .compactMap { Double($0.attributes["data-value"] ?? "") }
                let xTicks = svg.withClass("tick").filter { ($0.attributes["class"] ?? "") == "tick x" }
                    .compactMap { Double($0.attributes["data-value"] ?? "") }
                #expect(yTicks.count >= 2)
                #expect(yTicks.min()! <= values.min()! && yTicks.max()! >= values.max()!)
                let x = try #require(RecordedAxis(svg, "x"))
                #expect(x.domain.0 <= 0 && x.domain.1 >= Double(fixture.split.heldOut.map(\.steps).max()!))
                #expect(xTicks.count >= 2 && xTicks.allSatisfy { $0 >= x.domain.0 && $0 <= x.domain.1 })
                // Every labelled y tick's label is drawn and parses to its value.
                for tick in svg.withClass("tick") where (tick.attributes["class"] ?? "") == "tick y" {
                    if let label = tick.all("text").first?.allText, let v = Double(tick.attributes["data-value"]!) {
                        #expect(abs(Double(label)! - v) <= 1e-9 * max(1, abs(v)))
                    }
                }
            }
        }
    }

    @Test func everyMethodInTheTableAppearsInEveryLegend() throws {
        let fixture = try Fixture()
        let root = try fixture.render(fixture.input())
        let methods = root.all("tr", where: "data-method").compactMap { $0.attributes["data-method"] }
        #expect(methods == ["linear", "additive", "persistence", "mean-run"])
        let legends = root.withClass("legend")
        // One per trajectory figure plus the scatter plot.
        #expect(legends.count == HTMLReport.chosenTests(fixture.input()).count + 1)
        for legend in legends {
            let keys = Set(legend.all("li").compactMap { $0.attributes["data-key"] })
            for m in methods { #expect(keys.contains(m), "legend lacks \(m)") }
        }
        // And every plotted series or point group belongs to a legend entry of its figure.
        for figure in root.all("figure") {
            guard let legend = figure.withClass("legend").first else { continue }
            let keys = Set(legend.all("li").compactMap { $0.attributes["data-key"] })
            for g in figure.all("g", where: "data-legend-key") {
                #expect(keys.contains(g.attributes["data-legend-key"]!))
            }
        }
    }

    @Test func logYTicksAreDecadesAndNonPositiveValuesAreClamped() throws {
        var fixture = try Fixture()
        // Losses spanning 1e-4 .. 20, and a non-positive prediction.
        for r in fixture.split.heldOut.indices {
            var run = fixture.split.heldOut[r]
            var l = run.losses
            for row in 0..<l.rows { l[row, 0] = 20 * pow(1e-4 / 20, Double(row) / Double(l.rows - 1)) }
            run.losses = l
            fixture.split.heldOut[r] = run
        }
        var p = fixture.result.results[0].predictions[0]
        p[3, 0] = -0.5
        fixture.result.results[0].predictions[0] = p
        let root = try fixture.render(fixture.input(logY: true, chosen: [0]))
        let plots = root.all("svg").filter { $0.attributes["class"] == "plot" }
        #expect(!plots.isEmpty)
        for svg in plots {
            #expect(svg.attributes["data-y-scale"] == "log10")
            let ticks = svg.all("g").filter { $0.attributes["class"] == "tick y" }.compactMap { Double($0.attributes["data-value"]!) }
            #expect(ticks.count >= 2)
            for t in ticks {
                let e = log10(t)
                #expect(abs(e - e.rounded()) < 1e-9, "tick \(t) is not a decade")
            }
        }
        let trajectory = try #require(root.all("figure").first { $0.attributes["data-test"] == fixture.log.testIDs[0] })
        let ys = try #require(trajectory.all("svg").first { $0.attributes["class"] == "plot" })
        let ticks = ys.all("g").filter { $0.attributes["class"] == "tick y" }.compactMap { Double($0.attributes["data-value"]!) }
        #expect((ticks.min() ?? .infinity) <= 1e-4 && (ticks.max() ?? 0) >= 10)
        let yAxis = try #require(RecordedAxis(ys, "y"))
        #expect(yAxis.domain.0 <= 1e-4 && yAxis.domain.1 >= 20)
        #expect(trajectory.all("figcaption").first!.allText.contains("cannot be shown on the log axis"))
    }

    @Test func nonFinitePredictionsDoNotBreakThePlots() throws {
        var fixture = try Fixture()
        var p = fixture.result.results[1].predictions[0]
        for r in 5..<p.rows { p[r, 1] = r % 2 == 0 ? .nan : .infinity }
        p[3, 1] = 1e300
        p[4, 1] = -1e300
        fixture.result.results[1].predictions[0] = p
        let html = HTMLReport.render(fixture.input(chosen: [1]))
        let root = try #require(XMLTreeBuilder.parse(html).root)
        for node in root.all("polyline") {
            let text = node.attributes["points"] ?? ""
            #expect(!text.lowercased().contains("nan") && !text.lowercased().contains("inf"))
            for (x, y) in points(node) { #expect(abs(x) < 5000 && abs(y) < 5000) }
        }
        for node in root.all("path") {
            #expect(!(node.attributes["d"] ?? "").lowercased().contains("nan"))
        }
        let figure = try #require(root.all("figure").first { $0.attributes["data-test"] == fixture.log.testIDs[1] })
        let caption = figure.all("figcaption").first!.allText
        #expect(caption.contains("Non-finite values"))
        #expect(caption.contains("pinned to the edge"))
        // The y axis still follows the real losses, not the diverged values.
        let svg = figure.all("svg").first { $0.attributes["class"] == "plot" }!
        let y = try #require(RecordedAxis(svg, "y"))
        let truthMax = fixture.split.heldOut.flatMap { $0.losses.column(1) }.max()!
        #expect(y.domain.1 < truthMax * 4)
    }

    @Test func nastyIDsAreEscaped() throws {
        let nastyTest = "t<0>&\"q\" 'x' \u{00FC}\u{1F600} \u{1}"
        let nasty = { (id: String) in "\(id)</td><script>alert(1)</script>&amp;" }
        let fixture = try Fixture { log in
            log.testIDs[0] = nastyTest
            log.trainIDs = log.trainIDs.map(nasty)
        }
        var examples: [String: ExampleView] = [:]
        for id in fixture.log.trainIDs { examples[id] = .text("<b>bold?</b> & \"quotes\"") }
        var input = fixture.input(chosen: [0], examples: examples)
        input.title = "report <of> & \"things\""
        input.log.path = "/tmp/a&b/<c>"
        let html = HTMLReport.render(input)
        #expect(!html.contains("<script>"))
        let root = try #require(XMLTreeBuilder.parse(html).root)
        #expect(root.all("script").isEmpty)
        let expected = nastyTest.replacingOccurrences(of: "\u{1}", with: "\u{FFFD}")
        let figure = try #require(root.all("figure").first { $0.attributes["data-test"] == expected })
        #expect(figure.all("h3").first!.allText.contains(expected))
        #expect(root.all("title").first!.allText == "report <of> & \"things\"")
        // The nasty training ids show up as text wherever the attribution lists them.
        let rows = root.all("tr", where: "data-train-id")
        #expect(!rows.isEmpty)
        for row in rows {
            let id = row.attributes["data-train-id"]!
            #expect(fixture.log.trainIDs.contains(id))
            #expect(id.hasSuffix("</td><script>alert(1)</script>&amp;"))
            #expect(row.all("td")[1].allText == id)
            #expect(row.allText.contains("<b>bold?</b> & \"quotes\""))
        }
    }

    /// The attribution tables hold the chosen test examples' effects computed together, as
    /// `attribute --test` for those examples computes them: for a lag kernel with saturation
    /// (which rolls its test examples out jointly) that differs from one call per test example.
    @Test func attributionOfChosenTestExamplesIsOneJointCall() throws {
        let fixture = try Fixture()
        let pool = fixture.log.trainIDs.count, tests = fixture.log.testIDs.count
        var rng = SeededGenerator(seed: 11)
        let b = Matrix(rows: tests, columns: pool, storage: (0..<(tests * pool)).map { _ in -0.02 * Double.random(in: -0.3...1, using: &rng) })
        var sim = FittedSimulator(method: .lagKernel, form: .additive, lambda: 0, trainIDs: fixture.log.trainIDs,
                                  testIDs: fixture.log.testIDs, a: Matrix(rows: tests, columns: pool), b: b,
                                  seen: Array(repeating: true, count: pool), fittedOn: [],
                                  startingLosses: Array(repeating: 0.3, count: tests))
        sim.lagKernel = LagKernel(starts: [0, 1, 2], weights: [1, 0.6, 0.3], saturation: 2)
        let chosen = [1, 4]
        var input = fixture.input(chosen: chosen)
        input.attributionSimulator = sim
        let root = try fixture.render(input)
        let references = fixture.split.heldOut.map { run in
            (batches: Array(run.simulatedBatches), initial: chosen.map { run.losses[0, $0] })
        }
        let joint = RemovalEffects.meanEffects(of: sim, tests: chosen, references: references, threads: 2)
        let alone = RemovalEffects.meanEffects(of: sim, tests: [chosen[0]], references: references.map { ($0.batches, [$0.initial[0]]) },
                                               threads: 1)[0]
        let present = Set(references.flatMap { $0.batches.joined() })
        for (k, z) in chosen.enumerated() {
            let block = try #require(root.all("div").first { $0.attributes["data-test"] == fixture.log.testIDs[z] })
            let helpful = try #require(block.all("table").first { $0.attributes["data-kind"] == "helpful" })
            let top = try #require(helpful.all("tr").first { $0.attributes["data-train-id"] != nil })
            let best = RemovalEffects.ranked(joint[k], present: present)[0]
            #expect(best.effect < 0)
            #expect(top.attributes["data-train-id"] == fixture.log.trainIDs[best.index])
            #expect(top.allText.contains(NumberFormat.significant(best.effect, digits: 3)))
        }
        // The check can fail: one test example alone gives other numbers.
        #expect(NumberFormat.significant(RemovalEffects.ranked(alone, present: present)[0].effect, digits: 3)
                != NumberFormat.significant(RemovalEffects.ranked(joint[0], present: present)[0].effect, digits: 3))
    }

    @Test func digitExamplesAreDrawnAs64Cells() throws {
        let pixels = (0..<64).map { Double($0) / 63 }
        let svg = DigitImage.svg(pixels: pixels, label: 7)
        let root = try #require(XMLTreeBuilder.parse(svg).root)
        let cells = root.all("rect").filter { $0.attributes["class"] == "px" }
        #expect(cells.count == 64)
        #expect(cells.first?.attributes["fill"] == "#ffffff")
        #expect(cells.last?.attributes["fill"] == "#000000")
        #expect(root.attributes["aria-label"]?.contains("7") == true)
        // In a report, every digit example renders its 64 cells beside its label.
        let fixture = try Fixture()
        var examples: [String: ExampleView] = [:]
        for id in fixture.log.trainIDs { examples[id] = .digit(pixels: pixels, label: 3) }
        let report = try fixture.render(fixture.input(examples: examples))
        let digits = report.all("svg").filter { $0.attributes["class"] == "digit" }
        #expect(!digits.isEmpty)
        for d in digits { #expect(d.all("rect").filter { $0.attributes["class"] == "px" }.count == 64) }
    }
}

@Suite struct ReportSizeTests {
    @Test func tenThousandStepReportIsDecimatedAndSmall() throws {
        let fixture = try Fixture(tests: 5, epochs: 1000)  // 10,000 steps a run
        #expect(fixture.split.heldOut[0].steps == 10_000)
        let html = HTMLReport.render(fixture.input())
        #expect(html.utf8.count < 3_000_000, "report is \(html.utf8.count) bytes")
        let root = try #require(XMLTreeBuilder.parse(html).root)
        let lines = root.all("polyline")
        #expect(!lines.isEmpty)
        for line in lines { #expect(points(line).count <= 2 * 400 + 2) }
        let captions = root.all("figcaption").map(\.allText)
        #expect(captions.contains { $0.contains("thinned to the lowest and highest value in each pixel column") })
    }
}
