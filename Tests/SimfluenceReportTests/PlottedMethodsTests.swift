import SimfluenceCore
import Testing
@testable import SimfluenceReport

/// With many methods the figures draw the baselines and the best few; the table lists them all.
@Suite struct PlottedMethodsTests {
    static func fixture() throws -> (ReportInput, EvaluationResult) {
        let model = PlantedModel.random(pool: 30, tests: 4, batchSize: 2, seed: 3)
        let log = model.generateLog(.init(runs: 8, sample: 20, batchSize: 2, epochs: 2, noise: 0.01), seed: 4)
        let split = try HoldoutSplit.last(3, of: log)
        let result = try Evaluator.evaluate([.linear, .additive, .multiplicative, .linearPooled, .linearTime], log: log, split: split,
                                            inputs: MethodInputs(lambda: .fixed(0.01)), threads: 1)
        let views = Dictionary(uniqueKeysWithValues: log.testIDs.map { ($0, ExampleView.text("the text of \($0)")) })
        return (ReportInput(title: "t", logPath: "/l", log: log, split: split, result: result, examples: views), result)
    }

    @Test func figuresDrawTheBaselinesAndTheBestThree() throws {
        let (input, result) = try Self.fixture()
        let fitted = result.results.filter { $0.fit != nil }
        let best = Set(fitted.sorted { $0.scores.allStepsMSE.mean < $1.scores.allStepsMSE.mean }.prefix(3).map(\.scores.method))
        let expected = result.results.map(\.scores.method).filter { best.contains($0) || $0 == "persistence" || $0 == "mean-run" }
        #expect(input.plotted.map { result.results[$0].scores.method } == expected)
        let html = HTMLReport.render(input)
        for m in result.results.map(\.scores.method) {
            #expect(html.contains("data-method=\"\(m)\""), "the table lists \(m)")
            #expect(html.contains("data-legend-key=\"\(m)\"") == expected.contains(m), "\(m) drawn iff plotted")
        }
        #expect(html.contains("not drawn:"))
        // The test example's own content stands beside its attribution.
        #expect(html.contains("the text of \(input.testIDs[HTMLReport.chosenTests(input)[0].index])"))
        // The real run's colour is no method's.
        #expect(!Palette.colors.contains(Palette.truth.color))
    }

    @Test func plotMethodsChoosesTheFigures() throws {
        var (input, _) = try Self.fixture()
        input.plotMethods = ["linear-time"]
        let html = HTMLReport.render(input)
        #expect(html.contains("data-legend-key=\"linear-time\"") && !html.contains("data-legend-key=\"linear\"")
                && !html.contains("data-legend-key=\"mean-run\""))
    }
}
