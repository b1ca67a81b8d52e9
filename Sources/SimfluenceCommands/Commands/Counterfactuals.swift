import ArgumentParser
import DigitsWorkload
import Foundation
import Simfluence
import SimfluenceReport

/// `simfluence counterfactuals`: score every method on real retraining of a built-in workload.
struct Counterfactuals: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every method on real retraining: LDS, order-LDS and the edits each method's attribution suggests.",
        discussion: """
            Trains the fit runs (--runs, default 32) of a built-in workload and, from the same checkpoint, three held-out \
            families: runs on further random subsets (LDS: Spearman across runs, per test example), \
            order groups (the same subset in several orders: order-LDS, Spearman across the orders), \
            and, per method, targeted edits of reference runs from that method's own attribution \
            (drop the k most helpful or most harmful examples, move the most helpful to the end or \
            the start, train them twice) for the test examples whose loss varies most. Every edit \
            is simulated and really retrained; per method it reports all-steps MSE, LDS, order-LDS, \
            the sign accuracy of the predicted changes, their median relative error and their \
            Spearman correlation with the real changes, and the share of the final-loss variance \
            that comes from order. The built-in trainers are deterministic for a given curriculum, \
            so every score's ceiling is 1. \
            Example: simfluence counterfactuals --out /tmp/cf
            """)

    @Option(help: "Folder for the logs of every family, the JSON and the HTML report (default: nothing written but the table).")
    var out: String?

    @Option(help: "Held-out runs on further random subsets (LDS).") var randomRuns = 48
    @Option(help: "Random subsets of the order groups (order-LDS).") var orderSubsets = 8
    @Option(help: "Orders per subset of the order groups (at least 3).") var ordersPerSubset = 6
    @Option(help: "Reference runs (the first random held-out runs) the edits start from.") var editReferences = 2
    @Option(help: "Test examples (those whose final loss varies most across the fit runs) the edits target.") var editTests = 3
    @Option(help: ArgumentHelp("Numbers of examples each edit acts on.", valueName: "k,k,...")) var editSizes = "5,10,20"

    @Option(name: .customLong("method"), help: ArgumentHelp("A method to score (repeatable), or 'all' (default).", valueName: "name"))
    var methods: [String] = ["all"]

    @OptionGroup var settings: WorkloadOptions
    @OptionGroup var lambda: LambdaOptions
    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        for (flag, value) in [("--random-runs", randomRuns), ("--order-subsets", orderSubsets),
                              ("--orders-per-subset", ordersPerSubset), ("--edit-references", editReferences), ("--edit-tests", editTests)]
        where value < 1 || value > 100_000 {
            throw ValidationError("\(flag) must be between 1 and 100000 (got \(value))")
        }
        if settings.shape.runs < 2 || randomRuns < 3 || ordersPerSubset < 3 {
            throw ValidationError("need --runs (the fit runs) >= 2, --random-runs >= 3 and --orders-per-subset >= 3")
        }
        _ = try sizes()
        try MethodSelection.checkNames(methods)
    }

    private func sizes() throws -> [Int] {
        try editSizes.split(separator: ",").map {
            guard let k = Int($0.trimmingCharacters(in: .whitespaces)), k >= 1, k <= 100_000 else {
                throw ValidationError("--edit-sizes: '\($0)' is not a whole number between 1 and 100000")
            }
            return k
        }
    }

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        var design = CounterfactualDesign()
        design.fitRuns = settings.shape.runs
        design.randomRuns = randomRuns
        design.orderSubsets = orderSubsets
        design.orders = ordersPerSubset
        design.editReferences = editReferences
        design.editTests = editTests
        design.editSizes = try sizes()
        let session = try WorkloadSession(settings)
        let chosen = try MethodSelection.resolve(methods, gradientsAvailable: true)
        // As in the demo: cross-validate over decades unless a grid or a lambda is given.
        let inputs = MethodInputs(lambda: try lambda.choice(defaultGrid: LambdaOptions.decades))
        let clock = ContinuousClock()
        let start = clock.now
        let result = try CounterfactualStudy.run(session.workload, design: design, methods: chosen, inputs: inputs,
                                                 threads: compute.threadCount) { line in
            guard !StandardStream.quiet else { return }
            StandardStream.error.write("[\(Format.seconds((clock.now - start).inSeconds))] \(line)")
        }
        if let out { try write(result, design: design, to: out) }
        if json {
            print(Self.json(result, design: design).rendered())
        } else {
            print(Self.table(result))
            print("\nOrder share of the final-loss variance across random runs (mean over test examples): \(Format.number(result.orderShare))")
            print("Stage times: " + result.stageSeconds.map { "\($0.0): \(Format.seconds($0.1))" }.joined(separator: "; "))
            if let out { print("Wrote the logs, counterfactuals.json and report.html to \(out)") }
        }
    }

    static func table(_ result: CounterfactualResult) -> String {
        let header = ["method", "all-steps MSE", "LDS", "fit-run LDS", "order-LDS", "edit sign acc.", "edit median rel. err.",
                      "edit Spearman", "edits"]
        let rows = result.scores.map { s -> [String] in
            func n(_ x: Double?) -> String { x.map(Format.number) ?? "-" }
            return [s.method, Format.number(s.random.allStepsMSE.mean), n(s.random.spearmanAcrossRuns?.mean),
                    n(s.fitRuns.spearmanAcrossRuns?.mean), n(s.orders.spearmanAcrossOrders?.mean), n(s.edits?.signAccuracy),
                    n(s.edits?.medianRelativeError), n(s.edits?.spearman), s.edits.map { String($0.count) } ?? "-"]
        }
        return TextTable(header: header, rows: rows).rendered()
    }

    static func json(_ result: CounterfactualResult, design: CounterfactualDesign) -> JSON {
        .object([
            ("design", .object([
                ("fit_runs", .number(Double(design.fitRuns))), ("random_runs", .number(Double(design.randomRuns))),
                ("order_subsets", .number(Double(design.orderSubsets))), ("orders", .number(Double(design.orders))),
                ("edit_references", .number(Double(design.editReferences))), ("edit_tests", .number(Double(design.editTests))),
                ("edit_sizes", .array(design.editSizes.map { .number(Double($0)) })),
            ])),
            ("order_share", .number(result.orderShare)),
            ("results", .array(result.scores.map { s in
                .object([
                    ("method", .string(s.method)),
                    ("all_steps_mse", .number(s.random.allStepsMSE.mean)),
                    ("lds", .number(s.random.spearmanAcrossRuns?.mean)), ("lds_std", .number(s.random.spearmanAcrossRuns?.std)),
                    ("fit_run_lds", .number(s.fitRuns.spearmanAcrossRuns?.mean)),
                    ("fit_run_lds_std", .number(s.fitRuns.spearmanAcrossRuns?.std)),
                    ("fit_run_mse", .number(s.fitRuns.allStepsMSE.mean)),
                    ("order_lds", .number(s.orders.spearmanAcrossOrders?.mean)),
                    ("order_lds_std", .number(s.orders.spearmanAcrossOrders?.std)),
                    ("edit_sign_accuracy", .number(s.edits?.signAccuracy)),
                    ("edit_median_relative_error", .number(s.edits?.medianRelativeError)),
                    ("edit_spearman", .number(s.edits?.spearman)),
                    ("edits", .number(s.edits.map { Double($0.count) })),
                    ("fit_seconds", .number(s.fitSeconds)),
                ])
            })),
            ("edits", .array(result.edits.map { e in
                .object([
                    ("method", .string(e.method)), ("reference", .string(e.reference)), ("test_id", .string(e.test)),
                    ("edit", .string(e.kind.rawValue)), ("k", .number(Double(e.k))),
                    ("predicted_change", .number(e.predictedChange)), ("real_change", .number(e.realChange)),
                    ("run", .string(e.run)),
                ])
            })),
            ("stage_seconds", .object(result.stageSeconds.map { ($0.0, .number($0.1)) })),
        ])
    }

    private func write(_ result: CounterfactualResult, design: CounterfactualDesign, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        try NativeLogWriter.write(result.fitLog, to: path("fit-log"))
        try NativeLogWriter.write(result.randomLog, to: path("random-log"))
        try NativeLogWriter.write(result.orderLog, to: path("order-log"))
        try NativeLogWriter.write(result.editsLog, to: path("edits-log"))
        try AtomicFile.write(Data((Self.json(result, design: design).rendered() + "\n").utf8), to: path("counterfactuals.json"))
        let html = CounterfactualReport.render(result, title: "simfluence counterfactuals: \(settings.workload.rawValue)", design: design)
        try AtomicFile.write(Data(html.utf8), to: path("report.html"))
    }
}
