import Testing
@testable import SimfluenceCore

/// The stack's weights (a convex combination closest in squared error) and the stack simulator.
@Suite struct StackWeightsTests {
    /// G and b of candidate predictions `p` (one array per candidate) against `y`.
    static func moments(_ p: [[Double]], _ y: [Double]) -> (gram: [Double], rhs: [Double]) {
        let k = p.count
        var gram = [Double](repeating: 0, count: k * k), rhs = [Double](repeating: 0, count: k)
        for c in 0..<k {
            for d in 0..<k { gram[c * k + d] = zip(p[c], p[d]).reduce(0) { $0 + $1.0 * $1.1 } }
            rhs[c] = zip(p[c], y).reduce(0) { $0 + $1.0 * $1.1 }
        }
        return (gram, rhs)
    }

    static func noise(_ count: Int, _ g: inout SeededGenerator) -> [Double] { (0..<count).map { _ in g.nextGaussian() } }

    @Test func anExactMixtureIsRecovered() {
        var g = SeededGenerator(seed: 3)
        let p = (0..<3).map { _ in Self.noise(40, &g) }
        let y = (0..<40).map { 0.3 * p[0][$0] + 0.7 * p[1][$0] }
        let m = Self.moments(p, y)
        let solved = StackWeights.solve(gram: m.gram, rhs: m.rhs)
        #expect(abs(solved.weights[0] - 0.3) < 1e-10 && abs(solved.weights[1] - 0.7) < 1e-10 && solved.weights[2] == 0)
        // The objective is |P w - y|^2 - |y|^2 = -|y|^2 at an exact fit.
        let yy = y.reduce(0) { $0 + $1 * $1 }
        #expect(abs(solved.objective + yy) < 1e-9 * yy)
    }

    @Test func anOptimumOutsideTheSimplexStopsAtItsEdge() {
        var g = SeededGenerator(seed: 4)
        let p = (0..<2).map { _ in Self.noise(30, &g) }
        // On the line through both candidates the best point is w = (1.5, -0.5): the simplex's is (1, 0).
        let y = (0..<30).map { 1.5 * p[0][$0] - 0.5 * p[1][$0] }
        let m = Self.moments(p, y)
        #expect(StackWeights.solve(gram: m.gram, rhs: m.rhs).weights == [1, 0])
    }

    @Test func identicalCandidatesGoToTheEarlierOne() {
        var g = SeededGenerator(seed: 5)
        let a = Self.noise(20, &g), c = Self.noise(20, &g), e = Self.noise(20, &g)
        let y = (0..<20).map { a[$0] + 0.3 * c[$0] + 0.1 * e[$0] }
        let m = Self.moments([a, a, c], y)
        let w = StackWeights.solve(gram: m.gram, rhs: m.rhs).weights
        #expect(w[1] == 0, "a copy of an earlier candidate never takes weight: \(w)")
        #expect(abs(w.reduce(0, +) - 1) < 1e-12)
    }

    /// Against a fine grid over the simplex of 3 candidates: no grid point does better, and the
    /// best grid point is within a grid step of the solution.
    @Test func noPointOfAFineGridDoesBetter() {
        for seed in UInt64(10)..<16 {
            var g = SeededGenerator(seed: seed)
            let p = (0..<3).map { _ in Self.noise(25, &g) }
            let y = Self.noise(25, &g).enumerated().map { 0.5 * $0.element + p[Int(seed) % 3][$0.offset] }
            let m = Self.moments(p, y)
            let solved = StackWeights.solve(gram: m.gram, rhs: m.rhs)
            #expect(solved.weights.allSatisfy { $0 >= 0 } && abs(solved.weights.reduce(0, +) - 1) < 1e-12)
            var bestGrid = (value: Double.infinity, w: [Double]())
            let steps = 200
            for i in 0...steps {
                for j in 0...(steps - i) {
                    let w = [Double(i) / Double(steps), Double(j) / Double(steps), Double(steps - i - j) / Double(steps)]
                    let value = StackWeights.objective(w, gram: m.gram, rhs: m.rhs)
                    if value < bestGrid.value { bestGrid = (value, w) }
                }
            }
            #expect(solved.objective <= bestGrid.value + 1e-12 * abs(bestGrid.value))
            #expect(zip(solved.weights, bestGrid.w).allSatisfy { abs($0 - $1) <= 0.02 }, "seed \(seed): \(solved.weights) vs \(bestGrid.w)")
        }
    }
}

@Suite struct StackMethodTests {
    /// On data a lag-kernel model generated, lag-kernel is exact, so the stack gives it (almost)
    /// all the weight; and the fold errors it weighs by are each candidate's own cross-validated
    /// score (linear's lambda search scores the same folds the same way).
    @Test func weighsTheExactCandidateAndScoresFoldsAsTheLambdaSearch() throws {
        let (log, _) = LagKernelTests.plantedLog(runs: 10, seed: 21)
        let request = FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .auto(grid: [0.01, 0.1, 1], folds: 3)))
        let fit = try StackMethod.stack.fit(request)
        let explanation = try #require(fit.simulator.provenance.details["stack_weights"])
        let lagKernelWeight = fit.simulator.components.isEmpty
            ? (fit.simulator.method == .lagKernel ? 1 : 0)
            : fit.simulator.components.filter { $0.simulator.method == .lagKernel }.map(\.weight).reduce(0, +)
        #expect(lagKernelWeight >= 0.9, "\(explanation)")
        let linear = try MethodName.linear.descriptor.fit(request)
        let score = try #require(linear.selection?.scores.filter(\.isFinite).min())
        #expect(explanation.contains("linear \(AutoMethod.fourDigits(score))"), "\(explanation) vs linear's own \(score)")
    }

    /// A stack rolls out the weighted sum of its components' trajectories, its final losses are
    /// that sum's last row, and a refit keeps the weights.
    @Test func simulatesTheWeightedSumOfItsComponents() throws {
        let (log, _) = LagKernelTests.plantedLog(runs: 8, seed: 22)
        let request = FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .fixed(0.1)))
        let linear = try MethodName.linear.descriptor.fit(request).simulator
        let lag = try MethodName.lagKernel.descriptor.fit(request).simulator
        let stack = FittedSimulator.stack([StackComponent(weight: 0.25, simulator: linear), StackComponent(weight: 0.75, simulator: lag)],
                                          method: MethodName(StackMethod.stack), provenance: FitProvenance())
        let run = log.runs[0]
        let initial = (0..<3).map { run.losses[0, $0] }
        let got = stack.simulate(run.batches, initial: initial)
        let a = linear.simulate(run.batches, initial: initial), b = lag.simulate(run.batches, initial: initial)
        for r in 1..<got.rows {
            for c in 0..<3 { #expect(abs(got[r, c] - (0.25 * a[r, c] + 0.75 * b[r, c])) <= 1e-14 * max(1, abs(got[r, c]))) }
        }
        for c in 0..<3 { #expect(got[0, c] == initial[c]) }
        let finals = stack.simulateFinalLosses(curricula: [run.batches, log.runs[1].batches], initial: initial, threads: 2)
        for c in 0..<3 { #expect(finals[0, c] == got[got.rows - 1, c]) }
        let refitted = try StackMethod.stack.refit(like: stack, FitRequest(log: log, runs: Array(log.runs.prefix(5)), inputs: request.inputs))
        #expect(refitted.components.map(\.weight) == [0.25, 0.75])
        #expect(refitted.components.map(\.simulator.method) == [.linear, .lagKernel])
        // It clamps through its extended component, and refits without gradient features.
        #expect(stack.clamps && !linear.clamps && lag.clamps)
        #expect(!stack.refitNeedsGradients)
        // The typical unseen example reaches every component.
        let widened = stack.addingTypicalExample()
        #expect(widened.components.allSatisfy { $0.simulator.trainIDs.count == log.trainIDs.count + 1 })
    }

    /// A candidate that cannot be fitted is left out, named with its error; the others are
    /// weighed. When none can be fitted, the first error is the stack's.
    @Test func leavesOutACandidateThatFails() throws {
        let (log, _) = LagKernelTests.plantedLog(runs: 8, seed: 24)
        let inputs = MethodInputs(lambda: .auto(grid: [0.01, 0.1, 1], folds: 3))
        let failing = MethodName(FailingMethod())
        let stack = StackMethod(candidates: [failing, .linear, .lagKernel])
        let fit = try stack.fit(FitRequest(log: log, runs: log.runs, inputs: inputs))
        let explanation = try #require(fit.simulator.provenance.details["stack_weights"])
        #expect(explanation.contains("left out: failing (failing on purpose)"), "\(explanation)")
        #expect(explanation.contains("lag-kernel "))
        let methods = fit.simulator.components.isEmpty ? [fit.simulator.method] : fit.simulator.components.map(\.simulator.method)
        #expect(!methods.contains(failing))
        #expect(throws: SimfluenceError.invalidArgument("failing on purpose")) {
            _ = try StackMethod(candidates: [failing]).fit(FitRequest(log: log, runs: log.runs, inputs: inputs))
        }
    }

    @Test func needsCrossValidation() {
        let (log, _) = LagKernelTests.plantedLog(runs: 4, seed: 23)
        #expect(throws: SimfluenceError.self) {
            _ = try StackMethod.stack.fit(FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .fixed(1))))
        }
        #expect(MethodName("stack")?.name == "stack" && MethodName("auto")?.name == "auto")
        #expect(!MethodName.allCases.contains { $0.name == "stack" || $0.name == "auto" })
    }
}

/// A method whose fit always throws (for the stack's handling of candidates that fail).
struct FailingMethod: RecurrenceSimulated {
    var name: String { "failing" }
    var family: MethodFamily { .extended }
    var summary: String { "always fails (a test of the stack)" }
    var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated) }
    var solvers: Set<SolverKind> { [.auto] }
    var sharding: ShardSupport { .byTestRows }
    func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate { FitMemory.Estimate(bytes: 0, detail: "") }
    func fit(_ request: FitRequest) throws -> MethodFit { throw SimfluenceError.invalidArgument("failing on purpose") }
    func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        throw SimfluenceError.invalidArgument("failing on purpose")
    }
}
