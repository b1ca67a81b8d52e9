import Testing
@testable import SimfluenceCore

/// Numerical edge cases of issue 7 through the library (the CLI side is in
/// SimfluenceCommandsTests/RobustnessCommandTests.swift).
@Suite struct NumericalRobustnessTests {
    /// Examples 0 and 1 always appear together; example 3 never appears.
    func log(scale: Double = 1) -> TrainingLog {
        func run(_ name: String, _ batches: [[Int]], _ seed: Double) -> TrainingRun {
            let rows = (0...batches.count).map { t in [scale * (2 + seed) / Double(t + 1), scale * (1 + 0.5 * seed)] }
            return TrainingRun(name: name, batches: batches, firstLossStep: 0, losses: Matrix(rowArrays: rows))
        }
        return TrainingLog(trainIDs: ["a", "b", "c", "never"], testIDs: ["x", "y"], runs: [
            run("r1", [[0, 1], [2], [0, 1, 2]], 0), run("r2", [[2], [0, 1]], 0.3), run("r3", [[0, 1], [2, 2]], 0.7),
        ])
    }

    @Test(arguments: RecurrenceForm.allCases)
    func inseparableExamplesGetEqualFiniteParameters(form: RecurrenceForm) throws {
        let sim = try RidgeFit.fit(log: log(), runs: log().runs, form: form, lambda: 0.1, threads: 1)
        for z in 0..<2 {
            #expect((sim.a.row(z) + sim.b.row(z)).allSatisfy { $0.isFinite })
            #expect(abs(sim.a[z, 0] - sim.a[z, 1]) <= 1e-12 * max(1, abs(sim.a[z, 0])))
            #expect(abs(sim.b[z, 0] - sim.b[z, 1]) <= 1e-12 * max(1, abs(sim.b[z, 0])))
            // Never seen: zero, flagged unseen.
            #expect(sim.a[z, 3] == 0 && sim.b[z, 3] == 0)
        }
        #expect(sim.seen == [true, true, true, false])
        #expect(throws: SimfluenceError.unseenExample(id: "never", step: 2, source: "c")) {
            try sim.resolve([["a"], ["never"]], unseen: .error, source: "c")
        }
        #expect(try sim.resolve([["a"], ["never"]], unseen: .zero, source: "c") == [[0], []])
    }

    @Test func lambdaZeroOnASingularSystemIsAClearError() {
        do {
            _ = try RidgeFit.fit(log: log(), runs: log().runs, form: .linear, lambda: 0, threads: 1)
            Issue.record("expected a singular system")
        } catch let e as SimfluenceError {
            guard case .singularSystem = e else { Issue.record("\(e)"); return }
            #expect(e.description.contains("use a lambda > 0"))
        } catch { Issue.record("\(error)") }
    }

    @Test(arguments: [1e-8, 1e4]) func extremeScalesStayFinite(scale: Double) throws {
        let l = log(scale: scale)
        for form in RecurrenceForm.allCases {
            let s = try LambdaSearch.select(log: l, runs: l.runs, form: form, grid: LambdaSearch.defaultGrid, folds: 3, threads: 1)
            let sim = try RidgeFit.fit(log: l, runs: l.runs, form: form, lambda: s.chosen, threads: 1)
            #expect((sim.a.storage + sim.b.storage).allSatisfy { $0.isFinite })
            let out = sim.simulate(l.runs[0].batches, initial: l.runs[0].initialLosses)
            #expect(out.storage.allSatisfy { $0.isFinite })
        }
    }

    @Test func crossValidationWithOneRunNamesTheFix() {
        let one = TrainingLog(trainIDs: log().trainIDs, testIDs: log().testIDs, runs: [log().runs[0]])
        #expect(throws: SimfluenceError.invalidArgument(
            "choosing lambda by cross-validation needs at least 2 training runs (got 1); pass a fixed lambda instead")) {
            try LambdaSearch.select(log: one, runs: one.runs, form: .linear)
        }
    }

    @Test func fitMemoryEstimateFollowsTheSolversShapes() {
        let l = log()
        let linear = FitMemory.estimate(log: l, runs: l.runs, form: .linear, lambdas: 1, threads: 1)
        let additive = FitMemory.estimate(log: l, runs: l.runs, form: .additive, lambdas: 1, threads: 1)
        #expect(linear.bytes > additive.bytes && linear.detail.contains("6 unknowns per test example from 3 training examples"))
        // Threads multiply the per-thread part; many lambdas the shared factors.
        #expect(FitMemory.estimate(log: l, runs: l.runs, form: .linear, lambdas: 1, threads: 2).bytes > linear.bytes)
        #expect(FitMemory.estimate(log: l, runs: l.runs, form: .linear, lambdas: 11, threads: 1).bytes > linear.bytes)
        // A paper-sized pool: 200 examples, linear: 400 unknowns, packed ~80k doubles per matrix.
        var big = l
        big.trainIDs = (0..<200).map(String.init)
        big.runs = [TrainingRun(name: "r", batches: (0..<50).map { [4 * $0, 4 * $0 + 1, 4 * $0 + 2, 4 * $0 + 3] }, firstLossStep: 0,
                                losses: Matrix(rows: 51, columns: 2, repeating: 1))]
        let e = FitMemory.estimate(log: big, runs: big.runs, form: .linear, lambdas: 1, threads: 1, lambda: 1, solver: .dense)
        #expect(e.bytes > 8 * 80_000 * 2 && e.bytes < 8 * 80_000 * 4, "\(e)")
        // The automatic choice takes CG there (400 unknowns > 256): a workspace of 8 test
        // examples, 64 bytes a lane vector, 16 x 200 + 4 x 50 of them (0.22 MB), plus the
        // pattern (200 entries, 50 rows) and the results (2 x 2 x 200 doubles): 19 KB.
        let cg = FitMemory.estimate(log: big, runs: big.runs, form: .linear, lambdas: 1, threads: 1, lambda: 1)
        #expect(cg.detail.contains("conjugate gradients") && cg.bytes > 64 * 3_400 && cg.bytes < 64 * 3_400 + 20_000, "\(cg)")
    }
}
