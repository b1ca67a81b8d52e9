import Testing
@testable import SimfluenceCore

/// `auto` and `stack` leave out the candidates a request cannot afford (memory, or a dense solver
/// on too many training examples), say so, and fit the others.
@Suite struct AffordableCandidatesTests {
    static let cv = MethodInputs(lambda: .auto(grid: [0.01, 0.1, 1], folds: 3))

    /// A log whose two runs use `examples` distinct training examples, batches of 8, one test example.
    static func wideLog(examples: Int) -> TrainingLog {
        let steps = (examples + 15) / 16
        let runs = (0..<2).map { r -> TrainingRun in
            let batches = (0..<steps).map { s in (0..<8).map { min(examples - 1, (r * steps + s) * 8 + $0) } }
            var losses = Matrix(rows: steps + 1, columns: 1)
            for t in 0...steps { losses[t, 0] = 1 - 0.001 * Double(t) }
            return TrainingRun(name: "run\(r + 1)", batches: batches, firstLossStep: 0, losses: losses)
        }
        return TrainingLog(trainIDs: (0..<examples).map(String.init), testIDs: ["t0"], runs: runs)
    }

    /// A method whose only solver is dense (as lag-kernel-tracin, which needs gradient features).
    struct DenseOnlyMethod: RecurrenceSimulated {
        var name: String { "dense-only" }
        var family: MethodFamily { .extended }
        var summary: String { "a dense-only candidate (a test of AffordableCandidates)" }
        var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated) }
        var solvers: Set<SolverKind> { [.auto, .dense] }
        var sharding: ShardSupport { .byTestRows }
        func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate { FitMemory.Estimate(bytes: 0, detail: "") }
        func fit(_ request: FitRequest) throws -> MethodFit { throw SimfluenceError.invalidArgument("not fitted here") }
        func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
            throw SimfluenceError.invalidArgument("not fitted here")
        }
    }

    @Test func denseOnlyCandidatesStopAtTheExampleLimit() {
        let limit = AffordableCandidates.denseExampleLimit
        let at = Self.wideLog(examples: limit), above = Self.wideLog(examples: limit + 1)
        #expect(FitMemory.activeExamplesAndRows(log: above, runs: above.runs).active == limit + 1)
        let dense = MethodName(DenseOnlyMethod())
        let candidates = AutoMethod.candidates + [dense]
        let kept = AffordableCandidates(candidates, FitRequest(log: at, runs: at.runs, inputs: Self.cv))
        #expect(kept.kept == [.linear, .linearCarry, .lagKernel, dense] && kept.leftOut.isEmpty)
        // lag-kernel solves by conjugate gradients above its own limit, so it stays.
        let cut = AffordableCandidates(candidates, FitRequest(log: above, runs: above.runs, inputs: Self.cv))
        #expect(cut.kept == [.linear, .linearCarry, .lagKernel])
        #expect(cut.leftOut.map(\.method) == [dense])
        #expect(cut.explanations[0].contains("\(limit + 1) training examples") && cut.explanations[0].contains("--method dense-only"))
        #expect(cut.progressSuffix == "; left out: dense-only")
        // A stack of the same candidates leaves out the same one, and its memory is the kept ones' sum.
        let request = FitRequest(log: above, runs: above.runs, inputs: Self.cv)
        let sum = [MethodName.linear, .linearCarry, .lagKernel].reduce(0) { $0 + $1.descriptor.memoryEstimate(request).bytes }
        #expect(StackMethod(candidates: candidates).memoryEstimate(request).bytes == sum)
    }

    @Test func aMemoryBudgetLeavesOutWhatItCannotHold() throws {
        let (log, _) = LagKernelTests.plantedLog(runs: 10, seed: 21)
        var inputs = Self.cv
        let request = FitRequest(log: log, runs: log.runs, inputs: inputs)
        let bytes = Dictionary(uniqueKeysWithValues: AutoMethod.candidates.map { ($0, $0.descriptor.memoryEstimate(request).bytes) })
        // With every candidate kept, lag-kernel wins on this log (AutoMethodTests); a budget just
        // under its estimate must leave it (and anything as large) out and keep the rest.
        let budget = bytes[.lagKernel]! - 1
        let expected = [MethodName.linear, .linearCarry, .lagKernel].filter { bytes[$0]! <= budget }
        try #require(!expected.isEmpty, "a candidate smaller than lag-kernel: \(bytes)")
        inputs.memoryBudget = budget
        let budgeted = FitRequest(log: log, runs: log.runs, inputs: inputs)
        let choice = AffordableCandidates(AutoMethod.candidates, budgeted)
        #expect(choice.kept == expected)
        #expect(choice.leftOut.map(\.method).contains(.lagKernel))
        #expect(choice.explanations.allSatisfy { $0.contains("of memory, more than the") })
        #expect(AutoMethod.auto.memoryEstimate(budgeted).bytes <= budget)

        let fit = try AutoMethod.auto.fit(budgeted)
        #expect(expected.contains(fit.simulator.method))
        let explanation = try #require(fit.simulator.provenance.details["auto_choice"])
        #expect(explanation.contains("; left out: ") && explanation.contains("lag-kernel (it needs about"))
        #expect(fit.notes.contains { $0.hasPrefix("left out lag-kernel") })

        // A budget nothing fits: nothing is left out, so the pipeline's memory check names the problem.
        inputs.memoryBudget = 1
        let none = AffordableCandidates(AutoMethod.candidates, FitRequest(log: log, runs: log.runs, inputs: inputs))
        #expect(none.kept == [.linear, .linearCarry, .lagKernel] && none.leftOut.isEmpty)
    }
}
