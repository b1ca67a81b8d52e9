import ArgumentParser
import Foundation
import Simfluence

/// `simfluence attribute`: rank training examples by their simulated effect on each test loss.
struct Attribute: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank training examples by their effect on each test example's final loss.",
        discussion: """
            effect(i, z) = simulated final loss of z on a reference curriculum minus the same with \
            every occurrence of i removed (the rest re-batched at the same batch size), averaged \
            over the reference curricula. Negative = training on i lowers z's loss (i helps); \
            positive = i hurts. For additive simulators (tracin-cp, grad-dot, influence) this is \
            about B_i times i's appearances; for Simfluence-Linear it depends on where i appears. \
            References: the held-out runs of RUNS (default), or --curriculum files. \
            Examples: simfluence attribute Examples/tiny-gptdynamics --method linear --holdout 3 --top 5; \
            simfluence attribute --model model.simfluence --curriculum c.jsonl --test 7
            """)

    @Argument(help: "A log: its held-out runs' curricula are the references, and with --method the simulator is fitted on its other runs.")
    var runs: String?

    @Option(help: "A model file from 'simfluence fit' (instead of fitting --method on RUNS).")
    var model: String?

    @Option(help: "The method to fit on RUNS' training runs when no --model is given.")
    var method: MethodName = .linear

    @Option(name: .customLong("curriculum"), help: "A reference curriculum (repeatable); default: RUNS' held-out runs.")
    var curricula: [String] = []

    @Option(help: "Starting losses for --curriculum references (JSON object or lines); default: the model's.")
    var initial: String?

    @Option(name: .customLong("test"), help: "Attribute only this test example (repeatable). Default: all.")
    var tests: [String] = []

    @Option(help: "Keep at most K helpful (negative effect) and K harmful (positive effect) examples per ranking (default: all, ranked).")
    var top: Int?

    @Option(help: ArgumentHelp("Rank training examples over all (chosen) test examples: the mean or sum of their effects, with how many test examples each helps and hurts.",
                               valueName: "mean|sum"))
    var aggregate: RemovalEffects.Aggregation?

    @Option(help: "What to do with reference ids the simulator never saw: 'error', 'mean' (each acts as a typical example: the mean A and B of the seen ones) or 'zero' (dropped from its batch).")
    var unseen: UnseenPolicy = .error

    @OptionGroup var holdout: HoldoutOptions
    @OptionGroup var lambda: LambdaOptions
    @OptionGroup var gradientOptions: GradientOptions
    @OptionGroup var compute: ComputeOptions

    @Option(name: [.short, .customLong("output")], help: "Write to this file (atomically) instead of standard output.")
    var output: String?

    @Flag(help: "Write JSON instead of CSV (test_id,rank,train_id,effect).")
    var json = false

    func validate() throws {
        if model == nil && runs == nil { throw ValidationError("give a log (RUNS) or --model") }
        if runs == nil && curricula.isEmpty { throw ValidationError("with --model alone, give at least one --curriculum") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        try compute.withProgress { try execute() }
    }

    private func execute() throws {
        let log = try runs.map(Inputs.log)
        let split = try log.map(holdout.split)
        let fitted: FittedSimulator
        if let model {
            fitted = try ModelFile.read(model)
        } else if let log, let split, let runs {
            let gradients = method.readsGradients ? try gradientOptions.features(forLog: runs) : nil
            let inputs = MethodInputs(lambda: try lambda.choice(), gradients: gradients, damping: gradientOptions.damping)
            fitted = try MethodFitting.fit(method, log: log, runs: split.training, inputs: inputs,
                                           threads: compute.threadCount).simulator
        } else {
            throw ValidationError("give a log (RUNS) or --model")
        }
        // Under --unseen mean, unseen ids act as one typical example (ranked with no one).
        let simulator = unseen == .mean ? fitted.addingTypicalExample() : fitted
        let columns = try testColumns(simulator)
        // References as id curricula with one starting loss per simulated test example.
        var references: [(name: String, batches: [[Int]], initial: [Double])] = []
        if !curricula.isEmpty {
            let given = try initial.map(InitialLossFile.read)
            let start = simulator.startingStep
            for path in curricula {
                let ids = try Inputs.curriculum(path)
                guard start <= ids.count else { throw SimfluenceError.input(file: path, line: nil, message: "the curriculum has \(ids.count) steps; the model starts after step \(start)") }
                let batches = try simulator.resolve(Array(ids[start...]), unseen: unseen, source: path, firstStep: start + 1)
                let losses = try columns.map { z -> Double in
                    guard let given else { return simulator.startingLosses[z] }
                    guard let x = given[simulator.testIDs[z]] else {
                        throw SimfluenceError.input(file: initial ?? "", line: nil, message: "no starting loss for test example '\(simulator.testIDs[z])'")
                    }
                    return x
                }
                references.append((path, batches, losses))
            }
        } else if let log, let split {
            let testIndex = Dictionary(uniqueKeysWithValues: log.testIDs.enumerated().map { ($1, $0) })
            for run in split.heldOut {
                let ids = run.simulatedBatches.map { $0.map { log.trainIDs[$0] } }
                let batches = try simulator.resolve(Array(ids), unseen: unseen, source: run.name, firstStep: run.firstLossStep + 1)
                let losses = try columns.map { z -> Double in
                    guard let c = testIndex[simulator.testIDs[z]] else {
                        throw SimfluenceError.invalidArgument("the log has no test example '\(simulator.testIDs[z])' of the model")
                    }
                    return run.losses[0, c]
                }
                references.append((run.name, batches, losses))
            }
        }
        let fixed = references
        // Every test example together (a saturated lag kernel rolls them out jointly), the removals
        // spread over the threads.
        let effects = RemovalEffects.meanEffects(of: simulator, tests: columns, references: fixed.map { ($0.batches, $0.initial) },
                                                 threads: compute.threadCount)
        for (k, row) in effects.enumerated() {
            if let i = row.firstIndex(where: { !$0.isFinite }) {
                throw SimfluenceError.invalidArgument(
                    "the effect of training example '\(simulator.trainIDs[i])' on test example '\(simulator.testIDs[columns[k]])' is \(row[i]): the model's simulation diverges on the reference curricula (with or without that example), so no attribution was written (check the model with 'simfluence simulate')")
            }
        }
        let present = Set(references.flatMap { $0.batches.joined() }).subtracting(unseen == .mean ? [fitted.trainIDs.count] : [])
        if let aggregate {
            let ranked = limited(RemovalEffects.aggregate(effects, present: present, by: aggregate), effect: \.effect)
            let text = json ? aggregateJSON(simulator, ranked, aggregate, tests: columns.count, references.map(\.name))
                : aggregateCSV(simulator, ranked)
            if let output { try AtomicFile.write(Data(text.utf8), to: output) } else { print(text, terminator: "") }
            return
        }
        let rankings = effects.map { ranking(RemovalEffects.ranked($0, present: present)) }
        let text = json
            ? jsonText(simulator, columns, rankings, references.map(\.name))
            : csvText(simulator, columns, rankings)
        if let output { try AtomicFile.write(Data(text.utf8), to: output) } else { print(text, terminator: "") }
    }

    private func testColumns(_ simulator: FittedSimulator) throws -> [Int] {
        if tests.isEmpty { return Array(simulator.testIDs.indices) }
        let index = Dictionary(uniqueKeysWithValues: simulator.testIDs.enumerated().map { ($1, $0) })
        return try tests.map { id in
            guard let z = index[id] else { throw ValidationError("--test \(id): the simulator has no test example '\(id)'") }
            return z
        }
    }

    /// Ranked from most helpful to most harmful, numbered; with --top K, at most K of the
    /// helpful (negative effect) from the top and K of the harmful (positive effect) from the
    /// bottom, so a list of helpers is never shown as harmful.
    private func limited<T>(_ ranked: [T], effect: (T) -> Double) -> [(rank: Int, item: T)] {
        let numbered = ranked.enumerated().map { (rank: $0.offset + 1, item: $0.element) }
        guard let top else { return numbered }
        let helpful = numbered.filter { effect($0.item) < 0 }.prefix(top)
        let harmful = numbered.filter { effect($0.item) > 0 }.suffix(top)
        return Array(helpful) + Array(harmful)
    }

    private func ranking(_ ranked: [(index: Int, effect: Double)]) -> [(rank: Int, index: Int, effect: Double)] {
        limited(ranked, effect: \.effect).map { (rank: $0.rank, index: $0.item.index, effect: $0.item.effect) }
    }

    /// "helps", "hurts" or "none": the sign of an effect in words.
    private func sign(_ effect: Double) -> String { effect < 0 ? "helps" : (effect > 0 ? "hurts" : "none") }

    private func csvText(_ s: FittedSimulator, _ columns: [Int], _ rankings: [[(rank: Int, index: Int, effect: Double)]]) -> String {
        var out = "test_id,rank,train_id,effect,sign\n"
        for (k, z) in columns.enumerated() {
            let test = CSV.field(s.testIDs[z])
            for r in rankings[k] { out += "\(test),\(r.rank),\(CSV.field(s.trainIDs[r.index])),\(r.effect),\(sign(r.effect))\n" }
        }
        return out
    }

    private func aggregateCSV(_ s: FittedSimulator, _ ranked: [(rank: Int, item: AggregateEffect)]) -> String {
        var out = "rank,train_id,effect,sign,tests_helped,tests_hurt\n"
        for r in ranked {
            out += "\(r.rank),\(CSV.field(s.trainIDs[r.item.index])),\(r.item.effect),\(sign(r.item.effect)),\(r.item.helped),\(r.item.hurt)\n"
        }
        return out
    }

    private func aggregateJSON(_ s: FittedSimulator, _ ranked: [(rank: Int, item: AggregateEffect)], _ how: RemovalEffects.Aggregation,
                               tests: Int, _ references: [String]) -> String {
        JSON.object([
            ("method", .string(s.method.name)), ("aggregate", .string(how.rawValue)), ("test_examples", .number(Double(tests))),
            ("effect", .string("\(how.rawValue) over test examples of (simulated final loss with the example minus without it, averaged over the references); negative = the example helps")),
            ("references", .array(references.map { .string($0) })),
            ("ranking", .array(ranked.map { r in
                .object([("rank", .number(Double(r.rank))), ("train_id", .string(s.trainIDs[r.item.index])),
                         ("effect", .number(r.item.effect)), ("sign", .string(sign(r.item.effect))),
                         ("tests_helped", .number(Double(r.item.helped))), ("tests_hurt", .number(Double(r.item.hurt)))])
            })),
        ]).rendered() + "\n"
    }

    private func jsonText(_ s: FittedSimulator, _ columns: [Int], _ rankings: [[(rank: Int, index: Int, effect: Double)]],
                          _ references: [String]) -> String {
        let tests: [JSON] = columns.enumerated().map { k, z in
            .object([("test_id", .string(s.testIDs[z])),
                     ("ranking", .array(rankings[k].map { r in
                         .object([("rank", .number(Double(r.rank))), ("train_id", .string(s.trainIDs[r.index])),
                                  ("effect", .number(r.effect)), ("sign", .string(sign(r.effect)))])
                     }))])
        }
        return JSON.object([
            ("method", .string(s.method.name)),
            ("effect", .string("simulated final loss with the example minus without it, averaged over the references; negative = the example helps (lowers the test loss)")),
            ("references", .array(references.map { .string($0) })),
            ("tests", .array(tests)),
        ]).rendered() + "\n"
    }
}
