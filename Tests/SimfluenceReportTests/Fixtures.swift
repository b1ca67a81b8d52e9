import SimfluenceCore
@testable import SimfluenceReport

/// A small planted log, evaluated with two methods (plus the two baselines) on 3 held-out runs.
struct Fixture {
    var log: TrainingLog
    var split: HoldoutSplit
    var result: EvaluationResult

    init(tests: Int = 6, epochs: Int = 2, firstLossStep: Int = 0, seed: UInt64 = 1,
         rename: ((inout TrainingLog) -> Void)? = nil) throws {
        let model = PlantedModel.random(pool: 30, tests: tests, batchSize: 2, seed: seed)
        var log = model.generateLog(.init(runs: 8, sample: 20, batchSize: 2, epochs: epochs, noise: 0.01,
                                          firstLossStep: firstLossStep), seed: seed + 1)
        rename?(&log)
        self.log = log
        split = try HoldoutSplit.last(3, of: log)
        result = try Evaluator.evaluate([.linear, .additive], log: log, split: split,
                                        inputs: MethodInputs(lambda: .fixed(0.01)), threads: 1)
    }

    func input(logY: Bool = false, chosen: [Int]? = nil, examples: [String: ExampleView] = [:]) -> ReportInput {
        var input = ReportInput(title: "test report", logPath: "/logs/planted", log: log, split: split, result: result,
                                examples: examples, logY: logY)
        input.chosenTests = chosen
        return input
    }

    func render(_ input: ReportInput) throws -> XMLNode {
        let html = HTMLReport.render(input)
        let parsed = XMLTreeBuilder.parse(html)
        guard let root = parsed.root else { throw ParseFailure(message: "\(String(describing: parsed.error))") }
        return root
    }
}

struct ParseFailure: Error { var message: String }

/// The inverse of an axis recorded on a plot's root `<svg>` (data-x-* or data-y-*).
struct RecordedAxis {
    var log: Bool
    var domain: (Double, Double)
    var pixels: (Double, Double)

    init?(_ svg: XMLNode, _ axis: String) {
        guard let scale = svg.attributes["data-\(axis)-scale"],
              let d = svg.attributes["data-\(axis)-domain"]?.split(separator: " ").compactMap({ Double($0) }),
              let p = svg.attributes["data-\(axis)-pixels"]?.split(separator: " ").compactMap({ Double($0) }),
              d.count == 2, p.count == 2 else { return nil }
        log = scale == "log10"
        domain = (d[0], d[1])
        pixels = (p[0], p[1])
    }

    func value(atPixel px: Double) -> Double {
        let t = (px - pixels.0) / (pixels.1 - pixels.0)
        if log {
            let lo = log10(domain.0), hi = log10(domain.1)
            return pow(10, lo + t * (hi - lo))
        }
        return domain.0 + t * (domain.1 - domain.0)
    }

    /// Data units per pixel near `v` (for tolerances).
    func resolution(near v: Double) -> Double {
        let span = log ? v * (log10(domain.1) - log10(domain.0)) * 2.303 : domain.1 - domain.0
        return abs(span / (pixels.1 - pixels.0))
    }
}

/// The (x, y) pixel pairs of a polyline's points attribute.
func points(_ polyline: XMLNode) -> [(Double, Double)] {
    (polyline.attributes["points"] ?? "").split(separator: " ").map { pair in
        let xy = pair.split(separator: ",").map { Double($0)! }
        return (xy[0], xy[1])
    }
}

import Foundation
