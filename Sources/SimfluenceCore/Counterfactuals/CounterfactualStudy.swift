/// How many runs of each family a counterfactual study trains, and which edits it makes.
public struct CounterfactualDesign: Sendable, Equatable {
    /// Runs the simulators are fitted on (random subsets, one order each).
    public var fitRuns: Int
    /// Held-out runs on further random subsets (LDS).
    public var randomRuns: Int
    /// Held-out order groups: `orderSubsets` random subsets, each trained in `orders` orders (order-LDS).
    public var orderSubsets: Int
    public var orders: Int
    /// Targeted edits: on the first `editReferences` random held-out runs, for the
    /// `editTests` test examples whose final loss varies most across the fit runs, every
    /// ``EditKind`` for every k in `editSizes`, per method.
    public var editReferences: Int
    public var editTests: Int
    public var editSizes: [Int]

    /// A design; by default 32 fit runs, 48 random runs, 8 subsets x 6 orders, and edits of 2
    /// references x 3 test examples x k = 5, 10, 20.
    public init(fitRuns: Int = 32, randomRuns: Int = 48, orderSubsets: Int = 8, orders: Int = 6, editReferences: Int = 2,
                editTests: Int = 3, editSizes: [Int] = [5, 10, 20]) {
        self.fitRuns = fitRuns
        self.randomRuns = randomRuns
        self.orderSubsets = orderSubsets
        self.orders = orders
        self.editReferences = editReferences
        self.editTests = editTests
        self.editSizes = editSizes
    }

    /// Subsets, in the workload's numbering: fit runs 1...fitRuns, random held-out runs next,
    /// then the order groups' subsets.
    var randomSubsets: ClosedRange<Int> { (fitRuns + 1)...(fitRuns + max(1, randomRuns)) }
    var orderSubsetRange: ClosedRange<Int> { (fitRuns + randomRuns + 1)...(fitRuns + randomRuns + max(1, orderSubsets)) }
}

/// One edit's outcome: what a method predicted it would do to a test example's final loss and
/// what real retraining did.
public struct EditOutcome: Sendable {
    public var method: String
    /// The reference run the edit starts from, and the test example (an id).
    public var reference: String
    public var test: String
    public var kind: EditKind
    public var k: Int
    /// Simulated final loss of the edited curriculum minus that of the reference, both from the
    /// reference run's starting loss (loss units).
    public var predictedChange: Double
    /// Real final loss of the retrained edited curriculum minus the reference run's.
    public var realChange: Double
    /// The name of the retrained run in the edits log.
    public var run: String
}

/// Every score of one method in a counterfactual study.
public struct CounterfactualScores: Sendable {
    public var method: String
    /// Scores on the random held-out runs (all-steps MSE, LDS = Spearman across runs, ...).
    public var random: MethodScores
    /// Scores on the order groups (order-LDS = Spearman across orders).
    public var orders: MethodScores
    /// Scores on the fit runs themselves, simulated from their starting losses like held-out
    /// runs (in-sample): the fit-run LDS (``MethodScores/spearmanAcrossRuns``) is the ranking of
    /// curricula the method reaches on the very runs it learned from. Near the held-out LDS, the
    /// model class limits the method (more runs will not help); far above it, the method has the
    /// model but not the data (more runs, priors or sharing across test examples help).
    public var fitRuns: MethodScores
    /// Scores of the method's own targeted edits; nil for baselines.
    public var edits: EditScores?
    /// Wall time of the fit, seconds (0 for baselines).
    public var fitSeconds: Double
}

/// What a counterfactual study found, and every run it trained.
public struct CounterfactualResult: Sendable {
    /// One entry per method, then "persistence" and "mean-run".
    public var scores: [CounterfactualScores]
    /// Every edit of every method.
    public var edits: [EditOutcome]
    /// The mean share of a test example's final-loss variance across random runs that comes
    /// from order alone (``OrderGroups/orderShare(groups:random:)``).
    public var orderShare: Double
    /// The logs trained: fit runs, random held-out runs, order groups, edited curricula.
    public var fitLog: TrainingLog
    public var randomLog: TrainingLog
    public var orderLog: TrainingLog
    public var editsLog: TrainingLog
    /// Wall time of each stage, in order: (name, seconds).
    public var stageSeconds: [(String, Double)]
}

/// The instrument simulators are judged by: real retraining of a ``RetrainableWorkload`` on held-out
/// random subsets (LDS), on the same subsets in several orders (order-LDS), and on the edits
/// each method's own attribution suggests (sign, size and ranking of predicted changes).
public enum CounterfactualStudy {
    /// Runs the study: trains the fit runs and the held-out families, fits every method on the
    /// fit runs (`inputs`; gradient features come from the workload when a method needs them),
    /// scores them beside the persistence and mean-run baselines, then makes, simulates and
    /// really retrains every targeted edit. `progress` receives a line per stage (no I/O here).
    public static func run(_ workload: some RetrainableWorkload, design: CounterfactualDesign, methods: [MethodName],
                           inputs: MethodInputs, unseen: UnseenPolicy = .mean, threads: Int = Parallel.defaultThreads,
                           progress: @Sendable (String) -> Void = { _ in }) throws -> CounterfactualResult {
        guard design.fitRuns >= 2, design.randomRuns >= 3, design.orderSubsets >= 1, design.orders >= 3 else {
            throw SimfluenceError.invalidArgument("a counterfactual study needs at least 2 fit runs, 3 random held-out runs and order groups of at least 3 orders")
        }
        let clock = ContinuousClock()
        var stages: [(String, Double)] = []
        var start = clock.now
        func stage(_ name: String) {
            let now = clock.now
            stages.append((name, (now - start).inSeconds))
            start = now
        }

        progress("training \(design.fitRuns) fit runs, \(design.randomRuns) random held-out runs and \(design.orderSubsets) x \(design.orders) order runs")
        var plan: [(name: String, batches: [[Int]])] = []
        for s in 1...design.fitRuns { plan.append(("run\(s)", workload.curriculum(subset: s, order: 0))) }
        for (k, s) in design.randomSubsets.enumerated() { plan.append(("random\(k + 1)", workload.curriculum(subset: s, order: 0))) }
        for (g, s) in design.orderSubsetRange.enumerated() {
            for o in 0..<design.orders { plan.append(("group\(g + 1)-order\(o + 1)", workload.curriculum(subset: s, order: o))) }
        }
        let planned = plan
        let trained = try Parallel.map(planned.count, threads: threads) { k in
            workload.retrain(name: planned[k].name, batches: planned[k].batches)
        }
        let fitRuns = Array(trained[0..<design.fitRuns])
        let randomRuns = Array(trained[design.fitRuns..<(design.fitRuns + design.randomRuns)])
        let orderRuns = Array(trained[(design.fitRuns + design.randomRuns)...])
        func log(_ runs: [TrainingRun]) -> TrainingLog {
            TrainingLog(trainIDs: workload.trainIDs, testIDs: workload.testIDs, runs: runs, metadata: workload.logMetadata)
        }
        let all = log(fitRuns + randomRuns + orderRuns)
        stage("training the fit and held-out runs")

        var inputs = inputs
        if methods.contains(where: \.readsGradients) && inputs.gradients == nil {
            progress("recording gradient features")
            inputs.gradients = try workload.referenceGradients(threads: threads)
        }
        var scores: [CounterfactualScores] = []
        var fitted: [(MethodName, FittedSimulator)] = []
        for (m, method) in methods.enumerated() {
            FitProgress.report("fitting methods", "\(method)", done: m, total: methods.count)
            let fit = try MethodFitting.fit(method, log: all, runs: fitRuns, inputs: inputs, threads: threads)
            // Held-out families and, in-sample, the fit runs, each simulated from its runs' starting losses.
            func scored(_ runs: [TrainingRun]) throws -> MethodScores {
                Scoring.score(method: method.name, lambda: fit.simulator.lambda,
                              predictions: try HeldOutSimulation.predict(fit.simulator, heldOut: runs, unseen: unseen), heldOut: runs)
            }
            scores.append(CounterfactualScores(method: method.name, random: try scored(randomRuns), orders: try scored(orderRuns),
                                               fitRuns: try scored(fitRuns), edits: nil, fitSeconds: fit.seconds))
            fitted.append((method, fit.simulator))
        }
        // The baselines (persistence, mean-run of the fit runs), scored on the same families.
        func baselines(_ runs: [TrainingRun]) -> [MethodScores] {
            Baselines.all(training: fitRuns, heldOut: runs).map {
                Scoring.score(method: $0.name, lambda: nil, predictions: $0.predictions, heldOut: runs)
            }
        }
        let (random, orders, own) = (baselines(randomRuns), baselines(orderRuns), baselines(fitRuns))
        for k in random.indices {
            scores.append(CounterfactualScores(method: random[k].method, random: random[k], orders: orders[k], fitRuns: own[k],
                                               edits: nil, fitSeconds: 0))
        }
        stage("fitting every method and simulating the held-out runs")

        // Targeted edits: per method, reference and test example, every kind and size.
        let references = Array(randomRuns.prefix(design.editReferences))
        let tests = mostVariableTests(fitRuns, count: design.editTests)
        var pending: [Pending] = []
        for (m, (_, sim)) in fitted.enumerated() {
            progress("editing curricula by \(sim.method)'s attribution")
            for (r, reference) in references.enumerated() {
                for z in tests {
                    let initial = reference.losses[0, z]
                    let base = sim.simulate(reference.batches, initial: [initial], tests: [z])
                    let baseFinal = base[base.rows - 1, 0]
                    for edit in TargetedEdit.edits(of: sim, test: z, reference: reference.batches, initial: initial, ks: design.editSizes) {
                        let p = sim.simulate(edit.batches, initial: [initial], tests: [z])
                        pending.append(Pending(method: m, reference: r, test: z, edit: edit, predicted: p[p.rows - 1, 0] - baseFinal))
                    }
                }
            }
        }
        // Retrain each distinct edited curriculum once.
        var index: [[[Int]]: Int] = [:]
        var distinct: [[[Int]]] = []
        for p in pending where index[p.edit.batches] == nil {
            index[p.edit.batches] = distinct.count
            distinct.append(p.edit.batches)
        }
        progress("retraining \(distinct.count) edited curricula")
        let curricula = distinct
        let editRuns = try Parallel.map(curricula.count, threads: threads) { k in
            workload.retrain(name: "edit\(k + 1)", batches: curricula[k])
        }
        var outcomes: [EditOutcome] = []
        for p in pending {
            let run = editRuns[index[p.edit.batches]!]
            let reference = references[p.reference]
            outcomes.append(EditOutcome(method: fitted[p.method].0.name, reference: reference.name, test: workload.testIDs[p.test],
                                        kind: p.edit.kind, k: p.edit.k, predictedChange: p.predicted,
                                        realChange: run.finalLosses[p.test] - reference.finalLosses[p.test], run: run.name))
        }
        for m in fitted.indices {
            let mine = outcomes.filter { $0.method == scores[m].method }
            scores[m].edits = EditScores(predicted: mine.map(\.predictedChange), real: mine.map(\.realChange))
        }
        stage("editing, simulating and retraining curricula")

        let groups = OrderGroups.groups(orderRuns).map { $0.map { orderRuns[$0] } }
        return CounterfactualResult(scores: scores, edits: outcomes, orderShare: OrderGroups.orderShare(groups: groups, random: randomRuns),
                                    fitLog: log(fitRuns), randomLog: log(randomRuns), orderLog: log(orderRuns),
                                    editsLog: log(editRuns), stageSeconds: stages)
    }

    /// An edit awaiting its retraining: which method, reference and test example, and its prediction.
    struct Pending {
        var method: Int, reference: Int, test: Int
        var edit: TargetedEdit
        var predicted: Double
    }

    /// The `count` test examples whose final loss has the largest variance across `runs`
    /// (ties: the lower index).
    public static func mostVariableTests(_ runs: [TrainingRun], count: Int) -> [Int] {
        let tests = runs.first?.losses.columns ?? 0
        let spread: [Double] = (0..<tests).map { z in
            let finals = runs.map { $0.finalLosses[z] }
            let mean = finals.reduce(0, +) / Double(max(1, finals.count))
            return finals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        }
        return Array((0..<tests).sorted { spread[$0] != spread[$1] ? spread[$0] > spread[$1] : $0 < $1 }.prefix(count))
    }
}
