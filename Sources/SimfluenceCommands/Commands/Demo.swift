import ArgumentParser
import DigitsWorkload
import Foundation
import Simfluence
import SimfluenceReport

/// `simfluence demo`: the whole job on the built-in workload, end to end.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train real runs of the built-in digits workload, fit and score simulators, and check a counterfactual.",
        discussion: """
            1. trains the default 32 fine-tuning runs of a 64-32-10 MLP on UCI digits; \
            2. fits every method of this build (\(MethodRegistry.builtIn.methods.map(\.name).joined(separator: ", ")); \
            Docs/Methods.md; the classic ones from exact per-example gradients) on 27 runs and \
            scores them on the 5 held-out runs beside the persistence and mean-run baselines; \
            3. for a few test examples, asks the linear simulator which training examples help \
            most, builds curricula that drop them or move them to the end, simulates those and \
            actually trains them, and compares; 4. writes an HTML report and says where everything \
            was written. Lambda is cross-validated over decades (10^-2 ... 10^3) unless \
            --lambda or --lambda-grid says otherwise.
            """)

    @Option(help: "Folder for everything the demo writes (default: a new temporary folder).")
    var out: String?

    @Option(help: "Runs held out for scoring (the last K).")
    var holdout = 5

    @Option(help: "Test examples in the counterfactual check (those whose final loss varies most across runs).")
    var counterfactualTests = 3

    @Option(help: "Most helpful training examples the counterfactual curricula drop or move.")
    var drop = 10

    @OptionGroup var workload: WorkloadOptions
    @OptionGroup var lambda: LambdaOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        let dir = try out ?? makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let progress = Progress(stages: 4)
        let threads = compute.threadCount

        let session = try WorkloadSession(workload)
        let fineTuning = session.workload
        progress.begin("training \(workload.shape.runs) runs of \(session.title)")
        let log = try session.trainAll(threads: threads)
        let logDir = (dir as NSString).appendingPathComponent("log")
        try NativeLogWriter.write(log, to: logDir)
        let gradients = try session.gradientFeatures(threads: threads)
        try GradientFeaturesFile.write(gradients, to: (logDir as NSString).appendingPathComponent(GradientFeaturesFile.folderName))
        progress.end()

        progress.begin("fitting Simfluence and classic methods, scoring on held-out runs")
        let split = try HoldoutSplit.last(holdout, of: log)
        let inputs = MethodInputs(lambda: try lambda.choice(defaultGrid: LambdaOptions.decades), gradients: gradients)
        let result = try FitPipeline.evaluate(MethodName.allCases, log: log, split: split, inputs: inputs,
                                              unseen: .zero, threads: threads)
        var extras = try ExtendedEvaluationExtras.compute(result, log: log, split: split, inputs: inputs,
                                                          replicates: nil, threads: threads)
        extras.orderLDS = try orderLDS(result, training: split.training, fineTuning: fineTuning, threads: threads)
        let evaluationPath = (dir as NSString).appendingPathComponent("evaluation.json")
        try AtomicFile.write(Data((EvaluationJSON.make(result, extra: extras.json).rendered() + "\n").utf8), to: evaluationPath)
        guard let linear = result.results.first?.fit?.simulator else { throw SimfluenceError.invalidArgument("no linear fit") }
        let modelPath = (dir as NSString).appendingPathComponent("linear.simfluence")
        try ModelFile.write(linear, to: modelPath)
        progress.end()
        print("\nHeld-out evaluation: \(split.training.count) training runs, \(split.heldOut.count) held-out runs (\(result.heldOutRuns.joined(separator: ", "))), \(log.testIDs.count) test examples")
        print("Spearman (runs) is the LDS over the held-out runs; order-LDS is Spearman across the \(Self.orderGroupOrders) orders of each of \(Self.orderGroupSubsets) further random subsets, really trained (simfluence counterfactuals scores more)")
        print(EvaluationTable.render(result, extra: extras.columns))

        progress.begin("counterfactual check: simulate, then really train")
        let (rows, panels) = try counterfactuals(fineTuning: fineTuning, log: log, split: split, linear: linear, dir: dir)
        progress.end()
        print("\nCounterfactual check on held-out run \(split.heldOut[0].name)'s curriculum: drop (or move to the end) the \(drop) training examples the linear simulator says help each test example most, then simulate and really train.")
        print(TextTable(header: ["test", "curriculum", "real (reference)", "simulated (reference)", "simulated", "real", "error",
                                 "simulated change", "real change"],
                        rows: rows).rendered())

        progress.begin("writing the HTML report")
        let report = ReportWriter(path: (dir as NSString).appendingPathComponent("report.html"))
        let views = session.views(log.trainIDs + log.testIDs)
        try report.write(logPath: logDir, log: log, split: split, result: result, counterfactuals: panels, views: views)
        progress.end()

        print("\nWrote to \(dir):")
        print("  report.html          trajectories, fits and influential examples in one page (open it in a browser)")
        print("  log/                 the \(log.runs.count) training runs (native layout), with gradients/ of run1")
        print("  evaluation.json      the table above, machine-readable")
        print("  linear.simfluence    the Simfluence-Linear model fitted on the \(split.training.count) training runs")
        print("  counterfactual/      the edited curricula and their real training runs")
        print("Stage times: " + progress.timings.map { "\($0.0): \(Format.seconds($0.1))" }.joined(separator: "; "))
    }

    /// Builds, simulates and trains the counterfactual curricula; returns the table rows and the
    /// report's panels.
    private func counterfactuals(fineTuning: any RetrainableWorkload, log: TrainingLog, split: HoldoutSplit,
                                 linear: FittedSimulator, dir: String) throws -> ([[String]], [CounterfactualPanel]) {
        let reference = split.heldOut[0]
        let batchSize = CurriculumEdits.typicalBatchSize(reference.batches)
        let cfDir = (dir as NSString).appendingPathComponent("counterfactual")
        try FileManager.default.createDirectory(atPath: cfDir, withIntermediateDirectories: true)
        var rows: [[String]] = []
        var panels: [CounterfactualPanel] = []
        var realRuns: [TrainingRun] = []
        for z in CounterfactualStudy.mostVariableTests(split.training, count: counterfactualTests) {
            let testID = log.testIDs[z]
            let start = reference.losses[0, z]
            let effects = RemovalEffects.effects(of: linear, test: z, reference: reference.batches, initial: start)
            let helpful = RemovalEffects.ranked(effects, present: Set(reference.batches.joined()))
                .prefix(drop).filter { $0.effect < 0 }.map(\.index)
            let referenceFinal = reference.finalLosses[z]
            let referenceSimulated = linear.simulate(reference.batches, initial: [start], tests: [z])
            let simulatedBase = referenceSimulated[referenceSimulated.rows - 1, 0]
            for (kind, batches) in [("drop", CurriculumEdits.dropping(Set(helpful), from: reference.batches, batchSize: batchSize)),
                                    ("move to end", CurriculumEdits.movingToEnd(Set(helpful), in: reference.batches, batchSize: batchSize))] {
                let name = "test\(testID)-\(kind == "drop" ? "drop" : "move-to-end")"
                let ids = batches.map { $0.map { log.trainIDs[$0] } }
                try CurriculumFile.write(ids, to: (cfDir as NSString).appendingPathComponent(name + ".jsonl"))
                let simulated = linear.simulate(batches, initial: [start], tests: [z])
                let simFinal = simulated[simulated.rows - 1, 0]
                let run = fineTuning.retrain(name: name, batches: batches)
                realRuns.append(run)
                let realFinal = run.finalLosses[z]
                panels.append(CounterfactualPanel(
                    testID: testID,
                    description: "\(kind) the \(helpful.count) training examples the linear simulator says help test example \(testID) most",
                    referenceRun: reference.name, firstStep: reference.firstLossStep,
                    referenceTrue: reference.losses.column(z), referenceSimulated: referenceSimulated.column(0),
                    editedSimulated: simulated.column(0), editedReal: run.losses.column(z)))
                rows.append([testID, "\(kind) \(helpful.count)", Format.number(referenceFinal), Format.number(simulatedBase),
                             Format.number(simFinal),
                             Format.number(realFinal), Format.number(simFinal - realFinal),
                             signed(simFinal - simulatedBase), signed(realFinal - referenceFinal)])
            }
        }
        let cfLog = TrainingLog(trainIDs: log.trainIDs, testIDs: log.testIDs, runs: realRuns, metadata: log.metadata)
        try NativeLogWriter.write(cfLog, to: (cfDir as NSString).appendingPathComponent("log"))
        return (rows, panels)
    }

    /// Order groups the demo trains for its order-LDS column: subsets x orders.
    static let orderGroupSubsets = 3
    static let orderGroupOrders = 4

    /// Per method, Spearman across the orders of the same subset (order-LDS) on
    /// ``orderGroupSubsets`` further random subsets, each trained in ``orderGroupOrders`` orders.
    private func orderLDS(_ result: EvaluationResult, training: [TrainingRun], fineTuning: any RetrainableWorkload,
                          threads: Int) throws -> [String: Summary] {
        let first = workload.shape.runs + 1
        let plan = (0..<Self.orderGroupSubsets).flatMap { g in (0..<Self.orderGroupOrders).map { (subset: first + g, order: $0) } }
        let runs = try Parallel.map(plan.count, threads: threads) { k in
            fineTuning.retrain(name: "order\(k + 1)", batches: fineTuning.curriculum(subset: plan[k].subset, order: plan[k].order))
        }
        var out: [String: Summary] = [:]
        let baselines = Dictionary(uniqueKeysWithValues: Baselines.all(training: training, heldOut: runs).map { ($0.name, $0.predictions) })
        for entry in result.results {
            let predictions: [Matrix]
            if let sim = entry.fit?.simulator {
                predictions = try HeldOutSimulation.predict(sim, heldOut: runs, unseen: .mean)
            } else if let baseline = baselines[entry.scores.method] {
                predictions = baseline
            } else {
                continue
            }
            out[entry.scores.method] = Summary(of: OrderGroups.spearmanWithinGroups(predictions: predictions, runs: runs))
        }
        return out
    }

    private func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + Format.number(x) }
}

/// A fresh folder under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("simfluence-demo-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
