import Testing
@testable import SimfluenceCore

/// Multi-shift CG (``IterativeRidge/solveShifted(lambdas:_:_:deliver:)``), the cross-validation
/// of the additive and multiplicative forms on large systems: every lambda of a grid from one
/// CG run, against the dense solution and against exact K-fold.
@Suite struct ShiftedSolveTests {
    static let forms: [RecurrenceForm] = [.additive, .multiplicative]

    /// Solves `tests` at every lambda of `grid` by shifted CG; returns per lambda and test the
    /// (A, B) rows over the log's training examples, and the largest reported residual.
    static func shifted(_ log: TrainingLog, form: RecurrenceForm, tests: [Int], grid: [Double],
                        tolerance: Double) throws -> (a: [[[Double]]], b: [[[Double]]], residual: Double) {
        let design = try RidgeDesign(log: log, runs: log.runs)
        let m = design.activeCount
        let solver = IterativeRidge(design: design, form: form, tolerance: tolerance)
        let ws = IterativeRidge.Workspace(m: m, rows: design.rowCount)
        let sw = IterativeRidge.ShiftedWorkspace(m: m, lambdas: grid.count)
        try solver.prepare(tests: tests, runs: log.runs, testIDs: log.testIDs, ws)
        let empty = [[Double]](repeating: [Double](repeating: 0, count: design.trainCount), count: tests.count)
        var a = [[[Double]]](repeating: empty, count: grid.count), b = a
        var residual = 0.0
        var delivered: [Int] = []
        try solver.solveShifted(lambdas: grid, ws, sw) { j, result in
            delivered.append(j)
            residual = max(residual, result.residuals.max() ?? 0)
            for k in tests.indices {
                for (l, g) in design.active.enumerated() {
                    b[j][k][g] = ws.x[2 * l][k]
                    a[j][k][g] = ws.x[2 * l + 1][k]
                }
            }
        }
        #expect(delivered == Array(grid.indices))
        return (a, b, residual)
    }

    /// Every lambda's shifted solution matches the dense exact one to 1e-8 (a block of 8 test
    /// examples and a padded block of 5; a batch with a repeated id).
    @Test(arguments: forms)
    func shiftedSolutionsMatchDense(form: RecurrenceForm) throws {
        let log = FastSolverTests.log()
        let grid = LambdaSearch.defaultGrid
        for tests in [Array(0..<8), Array(16..<21)] {
            let cg = try Self.shifted(log, form: form, tests: tests, grid: grid, tolerance: 1e-13)
            #expect(cg.residual <= 1e-12)
            try Self.expectDense(log, form: form, tests: tests, grid: grid, a: cg.a, b: cg.b)
        }
    }

    /// Expects the rows a[j], b[j] (per test example, over the log's training examples) to match
    /// the dense exact fit at every grid[j] to 1e-8 relative.
    static func expectDense(_ log: TrainingLog, form: RecurrenceForm, tests: [Int], grid: [Double],
                            a: [[[Double]]], b: [[[Double]]]) throws {
        for (j, lambda) in grid.enumerated() {
            let exact = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: lambda, tests: tests, solver: .dense)
            let aj = Matrix(rows: tests.count, columns: log.trainIDs.count, storage: a[j].flatMap { $0 })
            let bj = Matrix(rows: tests.count, columns: log.trainIDs.count, storage: b[j].flatMap { $0 })
            #expect(FastSolverTests.maxRelativeDifference(exact.a, aj) <= 1e-8, "\(form) lambda \(lambda) A")
            #expect(FastSolverTests.maxRelativeDifference(exact.b, bj) <= 1e-8, "\(form) lambda \(lambda) B")
        }
    }

    /// A test example's shifted solutions do not depend on the other test examples of its block,
    /// at the loose tolerance of cross-validation too (where some lanes may be finished by the
    /// ordinary CG).
    @Test(arguments: forms)
    func shiftedSolutionsDoNotDependOnTheBlock(form: RecurrenceForm) throws {
        let log = FastSolverTests.log(seed: 11)
        let grid = LambdaSearch.defaultGrid
        for tolerance in [1e-5, 1e-12] {
            let block = try Self.shifted(log, form: form, tests: Array(0..<8), grid: grid, tolerance: tolerance)
            let alone = try Self.shifted(log, form: form, tests: [5], grid: grid, tolerance: tolerance)
            for j in grid.indices {
                #expect(block.a[j][5] == alone.a[j][0] && block.b[j][5] == alone.b[j][0], "\(form) tolerance \(tolerance) lambda \(grid[j])")
            }
        }
    }

    /// Cross-validation through shifted CG (forced on a small log by a fold tolerance) scores
    /// like the exact dense path: to 1e-8 with tight folds; with the loose folds of large systems
    /// (1e-5) the choice is exact K-fold's, on planted logs of two noise levels.
    @Test(arguments: forms)
    func shiftedCrossValidationIsExactKFold(form: RecurrenceForm) throws {
        for (seed, noise) in [(UInt64(3), 0.01), (UInt64(5), 0.05)] {
            let model = PlantedModel.random(pool: 60, tests: 12, batchSize: 4, seed: seed)
            let log = model.generateLog(PlantedModel.LogShape(runs: 12, sample: 40, batchSize: 4, epochs: 2, noise: noise),
                                        seed: seed + 1)
            let grid = LambdaSearch.defaultGrid
            let exact = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 2,
                                                iterative: false)
            let tight = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 2,
                                                iterative: true, foldTolerance: 1e-12)
            #expect(tight.chosen == exact.chosen)
            for (x, y) in zip(exact.scores, tight.scores) { #expect(abs(x - y) <= 1e-8 * abs(x), "\(form) seed \(seed): \(x) vs \(y)") }
            let loose = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 2,
                                                iterative: true, foldTolerance: 1e-5)
            #expect(loose.chosen == exact.chosen, "\(form) seed \(seed): \(loose.chosen) vs exact \(exact.chosen)")
            let oneThread = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 1,
                                                    iterative: true, foldTolerance: 1e-5)
            #expect(oneThread == loose)
        }
    }
}
