/// `--method auto`: fits every candidate simulator with its own cross-validation over the
/// training runs and keeps the one with the lowest cross-validated all-steps MSE (the same folds
/// and score for all: K-fold over whole runs, rollouts of the validation runs). The model it
/// returns is the winner's (its file names the winner); `provenance.details["auto_choice"]` says
/// which won and every candidate's score. Nothing is chosen on held-out runs.
///
/// Not in ``MethodRegistry/builtIn`` (so `--method all` does not fit every candidate twice);
/// commands resolve the name "auto" to it.
public struct AutoMethod: MethodDescriptor {
    public static let auto = AutoMethod()

    /// The methods `auto` chooses among, in order (ties go to the earlier, simpler one).
    /// lag-kernel-tracin takes part only when gradient features are given.
    public static let candidates: [MethodName] = [.linear, .linearCarry, .lagKernel, .lagKernelTracin]

    public var name: String { "auto" }
    public var family: MethodFamily { .extended }
    public var summary: String {
        "picks linear, linear-carry, lag-kernel or lag-kernel-tracin (with gradients) by the lowest cross-validated all-steps MSE over the training runs"
    }
    public var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated, gradientsWhenGiven: true) }
    public var solvers: Set<SolverKind> { [.auto] }
    public var sharding: ShardSupport { .unsupported("it compares methods fitted on every test example") }

    /// The candidates the request allows and affords (``AffordableCandidates``).
    func applicable(_ request: FitRequest) -> AffordableCandidates {
        AffordableCandidates(Self.candidates, request)
    }

    /// The largest kept candidate's: they are fitted one after another.
    public func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        applicable(request).memoryEstimate(request, together: false)
    }

    public func fit(_ request: FitRequest) throws -> MethodFit {
        guard case .auto = request.inputs.lambda else {
            throw SimfluenceError.invalidArgument("auto chooses a method by cross-validation: use --lambda auto (the default), not a fixed lambda")
        }
        let clock = ContinuousClock(), start = clock.now
        var best: (fit: MethodFit, score: Double)?
        var report: [String] = []
        let affordable = applicable(request)
        let candidates = affordable.kept
        var notes = affordable.explanations.map { "left out \($0)" }
        for (k, method) in candidates.enumerated() {
            FitProgress.report("auto: fitting the candidates", method.name + affordable.progressSuffix, done: k, total: candidates.count)
            let fit = try method.descriptor.fit(request)
            notes += fit.notes.map { "\(method.name): \($0)" }
            let score = fit.selection?.scores.filter(\.isFinite).min() ?? .infinity
            report.append("\(method.name) \(Self.fourDigits(score))")
            if best == nil || score < best!.score { best = (fit, score) }
        }
        guard var winner = best?.fit else { throw SimfluenceError.invalidArgument("auto: no candidate method could be fitted") }
        winner.simulator.provenance.details["auto_choice"] = winner.simulator.method.name
            + " (cross-validated all-steps MSE: " + report.joined(separator: ", ") + ")"
            + (affordable.leftOut.isEmpty ? "" : "; left out: " + affordable.explanations.joined(separator: "; "))
        winner.seconds = (clock.now - start).inSeconds
        winner.notes = notes
        return winner
    }

    /// `x` rounded to four significant digits, for the choice's explanation.
    static func fourDigits(_ x: Double) -> String {
        guard x.isFinite && x != 0 else { return String(x) }
        var scale = 1.0
        while abs(x) * scale < 1000 { scale *= 10 }
        while abs(x) * scale >= 10000 { scale /= 10 }
        return String((x * scale).rounded() / scale)
    }

    /// A refit is the winner's.
    public func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        try fitted.method.descriptor.refit(like: fitted, request)
    }

    public func simulate<C: Collection<[Int]>>(_ model: FittedSimulator, _ batches: C, initial: [Double], tests: [Int]?,
                                               firstStep: Int) -> Rollout {
        model.method.descriptor.simulate(model, batches, initial: initial, tests: tests, firstStep: firstStep)
    }

    public func finalLosses(_ model: FittedSimulator, curricula: [[[Int]]], initial: [Double], tests: [Int]?,
                            threads: Int) -> Matrix {
        model.method.descriptor.finalLosses(model, curricula: curricula, initial: initial, tests: tests, threads: threads)
    }
}
