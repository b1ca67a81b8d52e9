import Foundation
import SimfluenceCore
import Testing
@testable import SimfluenceReport

@Suite struct AxisTests {
    @Test func linearTicksAreNiceAndCoverTheData() {
        for (lo, hi) in [(0.0, 96.0), (1.0, 10_000.0), (0.000_12, 0.000_17), (0.53, 2.31), (-3.2, 7.9), (5.0, 5.0), (1e-4, 20.0)] {
            let axis = Axis.linear(covering: lo, hi, pixels: (0, 300), targetTicks: 5)
            let values = axis.ticks.map(\.value)
            #expect(values.first! <= lo * (1 + 1e-12) && values.last! >= hi * (1 - 1e-12), "\(lo)...\(hi): \(values)")
            #expect(values.count >= 2 && values.count <= 12, "\(lo)...\(hi): \(values)")
            #expect(axis.lower == values.first! && axis.upper == values.last!)
            let step = values[1] - values[0]
            let mantissa = step / pow(10, floor(log10(step)))
            #expect([1, 2, 5].contains { abs(mantissa - Double($0)) < 1e-6 }, "step \(step)")
            // Labels are distinct and parse back to their values.
            #expect(Set(axis.ticks.map(\.label)).count == axis.ticks.count)
            for t in axis.ticks { #expect(abs(Double(t.label)! - t.value) <= 1e-9 * max(1, abs(t.value))) }
        }
    }

    @Test func integerAxesNeverUseFractionalSteps() {
        let axis = Axis.linear(covering: 1, 3, pixels: (0, 300), targetTicks: 8, integer: true)
        #expect(axis.ticks.map(\.label) == ["1", "2", "3"])
    }

    @Test func logAxisTicksAreDecadesCoveringTheData() {
        for (lo, hi) in [(1e-4, 20.0), (0.6, 2.0), (0.2, 0.45), (3e-9, 4e6), (1.0, 1.0)] {
            let axis = Axis.logarithmic(covering: lo, hi, pixels: (200, 0))
            #expect(axis.lower <= lo * (1 + 1e-12) && axis.upper >= hi * (1 - 1e-12), "\(lo)...\(hi)")
            #expect(!axis.ticks.isEmpty, "\(lo)...\(hi) has no decade")
            for t in axis.ticks {
                let e = log10(t.value)
                #expect(abs(e - e.rounded()) < 1e-12)
            }
            #expect(abs(axis.pixel(axis.lower) - 200) < 1e-9 && abs(axis.pixel(axis.upper)) < 1e-9)
            #expect(abs(axis.value(atPixel: axis.pixel(hi)) - hi) < 1e-9 * hi)
        }
        let wide = Axis.logarithmic(covering: 1e-4, 20, pixels: (200, 0))
        #expect(wide.ticks.map(\.label) == ["1e-4", "0.001", "0.01", "0.1", "1", "10"])
        #expect(wide.lower == 1e-4 && wide.upper == 20)
        #expect(wide.pixel(0) == wide.pixel(wide.lower), "non-positive values clamp to the minimum")
    }
}

@Suite struct NumberFormatTests {
    @Test func significantDigits() {
        #expect(NumberFormat.significant(0.012345) == "0.01235")
        #expect(NumberFormat.significant(12.5) == "12.5")
        #expect(NumberFormat.significant(-3.0) == "-3")
        #expect(NumberFormat.significant(0.000031) == "3.1e-5")
        #expect(NumberFormat.significant(123456) == "1.235e5")
        #expect(NumberFormat.significant(9.99996) == "10")
        #expect(NumberFormat.significant(0.1 + 0.2) == "0.3")
        #expect(NumberFormat.significant(.nan) == "NaN")
        #expect(NumberFormat.significant(-.infinity) == "-inf")
        #expect(NumberFormat.significant(Double.leastNonzeroMagnitude).hasSuffix("e-324"))
    }

    @Test func fixedDecimals() {
        #expect(NumberFormat.fixed(0.30000000000000004, decimals: 1) == "0.3")
        #expect(NumberFormat.fixed(-0.00001, decimals: 2) == "0.00")
        #expect(NumberFormat.fixed(-2.5, decimals: 0) == "-3")
        #expect(NumberFormat.fixed(0.00012, decimals: 5) == "0.00012")
        #expect(NumberFormat.coordinate(12.04) == "12")
        #expect(NumberFormat.coordinate(-7.25) == "-7.3")
    }
}

@Suite struct DecimationTests {
    @Test func keepsASingleStepSpike() {
        let n = 10_000
        var values = (0..<n).map { 2.0 * exp(-Double($0) / 3000) + 0.01 * sin(Double($0)) }
        values[6_543] = 9.0   // a one-step spike up
        values[2_001] = -1.0  // and one down
        let xs = (0..<n).map { Double($0) * 300 / Double(n - 1) }
        let kept = Decimation.keptIndices(pixelX: xs, values: values, buckets: 300)
        #expect(kept.count < 700)
        #expect(kept.contains(6_543) && kept.contains(2_001))
        #expect(kept.first == 0 && kept.last == n - 1)
        #expect(kept == kept.sorted())
        // Short series are kept whole.
        #expect(Decimation.keptIndices(pixelX: Array(xs.prefix(96)), values: Array(values.prefix(96)), buckets: 300).count == 96)
    }

    @Test func aDecimatedPlotStillReachesTheSpike() throws {
        let n = 10_001
        var values = (0..<n).map { 1.0 + 0.5 * exp(-Double($0) / 2000) }
        values[7_777] = 6.0
        var frame = PlotFrame(width: 370, height: 250)
        frame.left = 60
        let y = PlotRange.valueAxis(primary: values, secondary: [], log: false, pixels: (frame.plotBottom, frame.plotTop), targetTicks: 5)
        let x = Axis.linear(covering: 0, Double(n - 1), pixels: (frame.plotLeft, frame.plotRight), integer: true)
        let plot = LinePlot(frame: frame, x: x, y: y, xTitle: "step", yTitle: "loss", title: nil,
                            series: [LineSeries(key: "run1 true", legendKey: "true", style: Palette.truth, firstStep: 0, values: values)])
        let rendered = plot.render(label: "spike")
        #expect(rendered.notes.decimated)
        let root = try #require(XMLTreeBuilder.parse(rendered.markup).root)
        let pts = points(try #require(root.all("polyline").first))
        #expect(pts.count < 2 * 400 && pts.count > 100)
        let top = pts.min { $0.1 < $1.1 }!
        #expect(abs(y.value(atPixel: top.1) - 6.0) < 0.01)
        #expect(abs(x.value(atPixel: top.0) - 7_777) < Double(n) / frame.plotWidth)
        #expect(abs(x.value(atPixel: pts.last!.0) - Double(n - 1)) < 1)
    }
}

@Suite struct MetricsTableTests {
    private func scores(_ name: String, mse: Double, mae: Double, final: Double, rhoEx: Double, rhoRuns: Double?) -> MethodScores {
        MethodScores(method: name, lambda: nil,
                     allStepsMSE: Summary(mean: mse, std: 0.1, count: 10), allStepsMAE: Summary(mean: mae, std: 0.1, count: 10),
                     finalStepMSE: Summary(mean: final, std: 0.1, count: 10),
                     spearmanAcrossExamples: Summary(mean: rhoEx, std: 0.05, count: 3),
                     spearmanAcrossRuns: rhoRuns.map { Summary(mean: $0, std: 0.2, count: 6) })
    }

    @Test func marksTheBestValuePerColumn() throws {
        let table = [
            scores("linear", mse: 0.02, mae: 0.10, final: 0.05, rhoEx: 0.91, rhoRuns: 0.4),
            scores("diverged", mse: .infinity, mae: .infinity, final: .infinity, rhoEx: .nan, rhoRuns: .nan),
            scores("additive", mse: 0.03, mae: 0.09, final: 0.05, rhoEx: 0.95, rhoRuns: -0.1),
            scores("persistence", mse: 0.9, mae: 0.8, final: 1.2, rhoEx: 0.95, rhoRuns: 0),
        ]
        let best = MetricsTable.best(table)
        #expect(best[.allStepsMSE] == [0])
        #expect(best[.allStepsMAE] == [2])
        #expect(best[.finalStepMSE] == [0, 2], "ties are all marked")
        #expect(best[.spearmanAcrossExamples] == [2, 3], "highest wins, ties all marked")
        #expect(best[.spearmanAcrossRuns] == [0])

        let root = try #require(XMLTreeBuilder.parse(MetricsTable.html(table)).root)
        var marked: [String: Set<String>] = [:]
        for row in root.all("tr", where: "data-method") {
            for cell in row.all("td") where (cell.attributes["class"] ?? "").contains("best") {
                marked[cell.attributes["data-column"]!, default: []].insert(row.attributes["data-method"]!)
                #expect(!cell.all("strong").isEmpty && cell.allText.contains("\u{25C6}"))
            }
        }
        #expect(marked == ["allStepsMSE": ["linear"], "allStepsMAE": ["additive"], "finalStepMSE": ["linear", "additive"],
                           "spearmanAcrossExamples": ["additive", "persistence"], "spearmanAcrossRuns": ["linear"]])
    }

    @Test func missingAcrossRunsSpearmanIsNotMarked() {
        let table = [scores("a", mse: 1, mae: 1, final: 1, rhoEx: 0.5, rhoRuns: nil)]
        #expect(MetricsTable.best(table)[.spearmanAcrossRuns] == nil)
        #expect(MetricsTable.html(table).contains("n/a"))
    }
}

@Suite struct TestSelectionTests {
    @Test func picksBestMedianWorstAndMostVariable() throws {
        var fixture = try Fixture(tests: 7)
        // Real final losses: test 6 varies most across runs, then test 0.
        for (r, run) in fixture.split.heldOut.enumerated() {
            var l = run.losses
            let last = l.rows - 1
            for z in 0..<7 { l[last, z] = 1.0 }
            l[last, 6] = 1.0 + Double(r)
            l[last, 0] = 1.0 + 0.5 * Double(r)
            fixture.split.heldOut[r].losses = l
        }
        // Linear predictions off by a known amount per test example: error of test z is offset^2.
        let offsets = [0.3, 0.0, 0.5, 0.1, 0.2, 0.05, 0.4]  // order by error: 1, 5, 3, 4, 0, 6, 2
        for (r, run) in fixture.split.heldOut.enumerated() {
            var p = run.losses
            for row in 1..<p.rows { for z in 0..<7 { p[row, z] += offsets[z] } }
            fixture.result.results[0].predictions[r] = p
        }
        let chosen = TestSelection.default(result: fixture.result, heldOut: fixture.split.heldOut)
        #expect(chosen.map(\.index) == [1, 4, 2, 6, 0])
        #expect(chosen[0].reasons[0].hasPrefix("best fit by linear"))
        #expect(chosen[1].reasons[0].hasPrefix("median fit by linear"))
        #expect(chosen[2].reasons[0].hasPrefix("worst fit by linear"))
        #expect(chosen[3].reasons[0].hasPrefix("largest spread"))

        // A diverged trajectory is the worst; a duplicate pick keeps both reasons.
        var p = fixture.result.results[0].predictions[0]
        p[2, 6] = .nan
        fixture.result.results[0].predictions[0] = p
        let again = TestSelection.default(result: fixture.result, heldOut: fixture.split.heldOut)
        #expect(again.map(\.index) == [1, 4, 6, 0])
        #expect(again[2].reasons.count == 2)
    }
}
