/// `--method stack`: a convex combination of simulators, weighed by cross-validation over the
/// training runs. It fits every candidate (by default ``AutoMethod``'s: linear, linear-carry,
/// lag-kernel, and lag-kernel-tracin when gradient features are given; any methods with
/// ``StackMethod/init(candidates:)``) with its own cross-validation, refits
/// each with its chosen hyperparameters on the training runs of every fold, rolls the fold's
/// validation runs out with all of them, and takes the weights (>= 0, summing to 1) whose
/// combination of those rollouts has the lowest all-steps squared error (``StackWeights``; the
/// folds and the score of every lambda search). The stack's trajectory is that combination of
/// the candidates' own rollouts, each fitted on all training runs. When one candidate takes all
/// the weight, the result is that candidate's simulator, as `auto` would return it. A candidate
/// that cannot be fitted (it throws, on all runs or on a fold) is left out and named in the
/// explanation; the stack fails only when every candidate does.
///
/// Candidates' errors partly cancel: a simulator of momentum (lag-kernel) and one of
/// loss-proportional effects (linear-carry) miss in different ways. Nothing is chosen on
/// held-out runs. The weights are chosen after the candidates' own hyperparameters, on the same
/// folds, with each candidate's lambda (and, for lag-kernel, its kernel) held at the values the
/// fit on all training runs chose.
///
/// Not in ``MethodRegistry/builtIn`` (so `--method all` does not fit every candidate twice);
/// commands and model files resolve the name "stack" to it.
public struct StackMethod: MethodDescriptor {
    /// The stack of `auto`'s candidates (what `--method stack` and model files name "stack").
    public static let stack = StackMethod()

    /// The methods weighed, in order (ties go to earlier ones); nil for ``AutoMethod/candidates``.
    /// Methods that need gradient features take part only when the request has them.
    public let candidates: [MethodName]?

    /// A stack of `candidates` (default: `auto`'s). Its components are stored with their own
    /// method names, so a model file of a stack of custom methods reads back with a registry
    /// that knows them.
    public init(candidates: [MethodName]? = nil) {
        self.candidates = candidates
    }

    /// The candidates the request allows and affords (``AffordableCandidates``).
    func applicable(_ request: FitRequest) -> AffordableCandidates {
        AffordableCandidates(candidates ?? AutoMethod.candidates, request)
    }

    public var name: String { "stack" }
    public var family: MethodFamily { .extended }
    public var summary: String {
        "a convex combination of the trajectories of linear, linear-carry, lag-kernel and (with gradients) lag-kernel-tracin, weighed by the all-steps error of their rollouts of cross-validation folds of the training runs"
    }
    public var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated, gradientsWhenGiven: true) }
    public var solvers: Set<SolverKind> { [.auto] }
    public var sharding: ShardSupport { .unsupported("its weights are chosen on every test example at once") }

    /// Every candidate's estimate added up: their simulators are all kept until the weights are known.
    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        applicable(request).memoryEstimate(request, together: true)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        guard case .auto(let grid, let folds) = request.inputs.lambda else {
            throw SimfluenceError.invalidArgument("stack weighs methods by cross-validation: use --lambda auto (the default), not a fixed lambda")
        }
        let clock = ContinuousClock(), start = clock.now
        let split = try CrossValidationFolds(runs: request.runs, folds: folds, grid: grid)
        let affordable = applicable(request)
        let applicable = affordable.kept
        var candidates: [MethodName] = [], fits: [MethodFit] = [], skipped = affordable.explanations
        var firstError: (any Error)?
        for (k, method) in applicable.enumerated() {
            FitProgress.report("stack: fitting the candidates", method.name + affordable.progressSuffix, done: k, total: applicable.count)
            do {
                fits.append(try method.descriptor.fit(request))
                candidates.append(method)
            } catch {
                firstError = firstError ?? error
                skipped.append("\(method.name) (\(error))")
            }
        }
        guard !fits.isEmpty else {
            throw firstError ?? SimfluenceError.invalidArgument("stack: no candidate method applies to this log")
        }
        let notes = affordable.explanations.map { "left out \($0)" }
            + zip(candidates, fits).flatMap { method, fit in fit.notes.map { "\(method.name): \($0)" } }
        let errors = try foldErrors(fits.map(\.simulator), request, split: split)
        for c in candidates.indices where !errors.finite[c] {
            skipped.append("\(candidates[c].name) (\(errors.failures[c] ?? "its fold rollouts diverged"))")
        }
        let usable = candidates.indices.filter { errors.finite[$0] }
        guard !usable.isEmpty else {
            throw SimfluenceError.invalidArgument("stack: no candidate could be weighed: " + skipped.joined(separator: "; "))
        }
        let k = candidates.count
        let solved = StackWeights.solve(gram: usable.flatMap { c in usable.map { d in errors.gram[c * k + d] } },
                                        rhs: usable.map { errors.rhs[$0] })
        var weights = [Double](repeating: 0, count: k)
        for (m, c) in usable.enumerated() { weights[c] = solved.weights[m] }
        let n = Double(errors.trajectories)
        let single = usable.map { c in "\(candidates[c].name) \(AutoMethod.fourDigits((errors.gram[c * k + c] - 2 * errors.rhs[c] + errors.squares) / n))" }
        let chosen = candidates.indices.filter { weights[$0] > 0 }
        let summary = chosen.map { "\(candidates[$0].name) \(AutoMethod.fourDigits(weights[$0]))" }.joined(separator: ", ")
        let explanation = summary + " (cross-validated all-steps MSE: stack " + AutoMethod.fourDigits((solved.objective + errors.squares) / n)
            + ", " + single.joined(separator: ", ") + ")" + (skipped.isEmpty ? "" : "; left out: " + skipped.joined(separator: "; "))
        if chosen.count == 1 {
            var fit = fits[chosen[0]]
            fit.simulator.provenance.details["stack_weights"] = explanation
            fit.seconds = (clock.now - start).inSeconds
            fit.notes = notes
            return fit
        }
        var provenance = FitProvenance()
        provenance.details["stack_weights"] = explanation
        let stack = FittedSimulator.stack(chosen.map { StackComponent(weight: weights[$0], simulator: fits[$0].simulator) },
                                          method: MethodName(self), provenance: provenance)
        return MethodFit(simulator: stack, selection: nil, seconds: (clock.now - start).inSeconds, notes: notes)
    }

    /// The squared-error sums of the candidates' rollouts of every fold's validation runs, each
    /// candidate refitted like itself on the fold's training runs: gram[c * k + d] = sum of
    /// P_c P_d / steps, rhs[c] = sum of P_c Y / steps, squares = sum of Y^2 / steps over every
    /// predicted step of every validation trajectory (run x test example; dividing by the
    /// trajectory's steps weighs trajectories as the all-steps MSE does), and whether every
    /// rollout of a candidate stayed finite and every refit succeeded (`failures` says why not,
    /// for a refit that threw). Ids a fold's training runs never contain are dropped from its
    /// validation batches (no effect), as in every lambda search.
    func foldErrors(_ fitted: [FittedSimulator], _ request: FitRequest, split: CrossValidationFolds) throws
        -> (gram: [Double], rhs: [Double], squares: Double, trajectories: Int, finite: [Bool], failures: [String?]) {
        let k = fitted.count
        let tests = request.tests ?? Array(0..<request.log.testIDs.count)
        var gram = [Double](repeating: 0, count: k * k), rhs = [Double](repeating: 0, count: k), squares = 0.0
        var finite = [Bool](repeating: true, count: k)
        var failures = [String?](repeating: nil, count: k)
        var trajectories = 0
        for fold in 0..<split.count {
            FitProgress.report("stack: weighing the candidates", "fold \(fold + 1) of \(split.count)", done: fold, total: split.count)
            let validation = split.validation(fold)
            guard !validation.isEmpty else { continue }
            var foldRequest = request
            foldRequest.runs = split.training(fold)
            let models = fitted.indices.map { c -> FittedSimulator? in
                guard finite[c] else { return nil }
                do {
                    return try fitted[c].method.descriptor.refit(like: fitted[c], foldRequest)
                } catch {
                    finite[c] = false
                    failures[c] = "refitting it on fold \(fold + 1) failed: \(error)"
                    return nil
                }
            }
            let live = fitted.indices.filter { models[$0] != nil }
            for run in validation {
                let initial = tests.map { run.losses[0, $0] }
                var rollouts = [Matrix](repeating: Matrix(rows: 0, columns: 0), count: k)
                for c in live {
                    let model = models[c]!
                    let batches = run.simulatedBatches.map { $0.filter { i in i >= 0 && i < model.seen.count && model.seen[i] } }
                    rollouts[c] = model.simulation(batches, initial: initial, firstStep: run.firstLossStep + 1).losses
                }
                let steps = run.losses.rows - 1
                let scale = 1 / Double(steps)
                for (j, z) in tests.enumerated() {
                    trajectories += 1
                    for r in 1...steps {
                        let y = run.losses[r, z]
                        squares += scale * y * y
                        for c in live {
                            let p = rollouts[c][r, j]
                            if !p.isFinite { finite[c] = false }
                            rhs[c] += scale * p * y
                            for d in live where d <= c { gram[c * k + d] += scale * p * rollouts[d][r, j] }
                        }
                    }
                }
            }
        }
        guard trajectories > 0 else {
            throw SimfluenceError.invalidArgument("no validation run records a step to predict; cannot weigh a stack")
        }
        for c in 0..<k { for d in 0..<c { gram[d * k + c] = gram[c * k + d] } }
        return (gram, rhs, squares, trajectories, finite, failures)
    }

    /// Refits every component like itself and keeps the weights.
    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        guard !fitted.components.isEmpty else { return try fitted.method.descriptor.refit(like: fitted, request) }
        let parts = try fitted.components.map { part in
            StackComponent(weight: part.weight, simulator: try part.simulator.method.descriptor.refit(like: part.simulator, request))
        }
        return FittedSimulator.stack(parts, method: fitted.method, provenance: fitted.provenance)
    }

    public func simulate<C: Collection<[Int]>>(_ model: FittedSimulator, _ batches: C, initial: [Double], tests: [Int]?,
                                               firstStep: Int) -> Rollout {
        model.stackRollout(batches, initial: initial, tests: tests, firstStep: firstStep)
    }

    public func finalLosses(_ model: FittedSimulator, curricula: [[[Int]]], initial: [Double], tests: [Int]?,
                            threads: Int) -> Matrix {
        model.stackFinalLosses(curricula: curricula, initial: initial, tests: tests, threads: threads)
    }
}
