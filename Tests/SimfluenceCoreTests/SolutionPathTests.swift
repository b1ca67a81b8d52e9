import Testing
@testable import SimfluenceCore

/// Starts of the cross-validation walk down a lambda grid from the earlier solutions
/// (``IterativeRidge/SolutionPath``, ``IterativeRidge/projectStart(lambda:_:_:)``): the
/// solutions still match the dense ones, the start is at least as good as the last solution in
/// the energy norm CG minimises, a test example's results do not depend on its block, and the
/// walk takes fewer iterations than one started from the last solution alone.
@Suite struct SolutionPathTests {
    static let forms: [RecurrenceForm] = [.linear, .multiplicative, .additive]

    /// phi(x) = x.(X^T X + lambda I) x / 2 - b.x per lane (the energy-norm error up to a constant).
    static func energy(_ solver: IterativeRidge, lambda: Double, _ ws: IterativeRidge.Workspace) -> IterativeRidge.Lanes {
        let n = 2 * solver.design.activeCount
        solver.apply(ws.x, into: ws.q, lambda: lambda, ws)
        var e = IterativeRidge.Lanes()
        for i in 0..<n { e += 0.5 * ws.x[i] * ws.q[i] - ws.b[i] * ws.x[i] }
        return e
    }

    /// Walks `grid` (descending) for `tests`: per lambda the (A, B) rows over the log's training
    /// examples and the block's iterations; `projected` false starts every solve from the last
    /// solution alone (the previous walk).
    static func walk(_ log: TrainingLog, form: RecurrenceForm, tests: [Int], grid: [Double], tolerance: Double,
                     projected: Bool = true) throws -> (a: [[[Double]]], b: [[[Double]]], iterations: Int) {
        let design = try RidgeDesign(log: log, runs: log.runs)
        let solver = IterativeRidge(design: design, form: form, tolerance: tolerance)
        let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
        let path = IterativeRidge.SolutionPath(m: design.activeCount)
        try solver.prepare(tests: tests, runs: log.runs, testIDs: log.testIDs, ws)
        let empty = [[Double]](repeating: [Double](repeating: 0, count: design.trainCount), count: tests.count)
        var a = [[[Double]]](repeating: empty, count: grid.count), b = a
        var iterations = 0
        for (j, lambda) in grid.enumerated() {
            if projected { solver.projectStart(lambda: lambda, path, ws) }
            let result = try solver.solve(lambda: lambda, ws, warmStart: projected || j > 0)
            if projected { solver.record(lambda: lambda, ws, on: path) }
            iterations += result.iterations.max() ?? 0
            for k in tests.indices {
                for (l, g) in design.active.enumerated() {
                    b[j][k][g] = ws.x[2 * l][k]
                    a[j][k][g] = ws.x[2 * l + 1][k]
                }
            }
        }
        return (a, b, iterations)
    }

    /// Every solution of the walk matches the dense exact one to 1e-8 (a full block and a padded
    /// one; a batch with a repeated id).
    @Test(arguments: forms)
    func walkSolutionsMatchDense(form: RecurrenceForm) throws {
        let log = FastSolverTests.log()
        let grid = Array(LambdaSearch.defaultGrid.reversed())
        for tests in [Array(0..<8), Array(16..<21)] {
            let cg = try Self.walk(log, form: form, tests: tests, grid: grid, tolerance: 1e-13)
            try ShiftedSolveTests.expectDense(log, form: form, tests: tests, grid: grid, a: cg.a, b: cg.b)
        }
    }

    /// The projected start is never worse than the last solution alone in the energy norm, and
    /// strictly better somewhere on the walk (with several solutions kept).
    @Test(arguments: forms)
    func projectedStartBeatsTheLastSolution(form: RecurrenceForm) throws {
        let log = FastSolverTests.log(pool: 60, runs: 9, tests: 8, seed: 7, duplicates: false)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let solver = IterativeRidge(design: design, form: form, tolerance: 1e-5)
        let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
        let path = IterativeRidge.SolutionPath(m: design.activeCount)
        try solver.prepare(tests: Array(0..<8), runs: log.runs, testIDs: log.testIDs, ws)
        let n = 2 * design.activeCount
        var last = [IterativeRidge.Lanes](repeating: .init(), count: n)
        var improved = false
        for (j, lambda) in LambdaSearch.defaultGrid.reversed().enumerated() {
            solver.projectStart(lambda: lambda, path, ws)
            if j > 0 {
                let projected = Self.energy(solver, lambda: lambda, ws)
                let start = (0..<n).map { ws.x[$0] }
                for i in 0..<n { ws.x[i] = last[i] }
                let plain = Self.energy(solver, lambda: lambda, ws)
                for k in 0..<8 {
                    #expect(projected[k] <= plain[k] + 1e-12 * abs(plain[k]), "\(form) lambda \(lambda) lane \(k)")
                    if projected[k] < plain[k] - 1e-6 * abs(plain[k]) { improved = true }
                }
                for i in 0..<n { ws.x[i] = start[i] }
            }
            _ = try solver.solve(lambda: lambda, ws, warmStart: true)
            solver.record(lambda: lambda, ws, on: path)
            for i in 0..<n { last[i] = ws.x[i] }
        }
        #expect(improved, "\(form)")
    }

    /// A test example's walk gives the same bits in a block of 8 as alone (1e-5, the large
    /// systems' fold tolerance, and 1e-10, the small ones').
    @Test(arguments: forms)
    func walkDoesNotDependOnTheBlock(form: RecurrenceForm) throws {
        let log = FastSolverTests.log(seed: 11)
        let grid = Array(LambdaSearch.defaultGrid.reversed())
        for tolerance in [1e-5, 1e-10] {
            let block = try Self.walk(log, form: form, tests: Array(0..<8), grid: grid, tolerance: tolerance)
            let alone = try Self.walk(log, form: form, tests: [5], grid: grid, tolerance: tolerance)
            for j in grid.indices {
                #expect(block.a[j][5] == alone.a[j][0] && block.b[j][5] == alone.b[j][0], "\(form) tolerance \(tolerance) lambda \(grid[j])")
            }
        }
    }

    /// On a design like the benchmark's (about as many rows as unknowns), the projected walk
    /// takes fewer CG iterations than the walk from the last solution alone.
    @Test func projectedWalkTakesFewerIterations() throws {
        let model = PlantedModel.random(pool: 400, tests: 8, batchSize: 4, seed: 21)
        let log = model.generateLog(PlantedModel.LogShape(runs: 10, sample: 160, batchSize: 4, epochs: 1, noise: 0.02), seed: 22)
        let grid = Array(LambdaSearch.defaultGrid.reversed())
        let projected = try Self.walk(log, form: .linear, tests: Array(0..<8), grid: grid, tolerance: 1e-5)
        let plain = try Self.walk(log, form: .linear, tests: Array(0..<8), grid: grid, tolerance: 1e-5, projected: false)
        #expect(projected.iterations < plain.iterations, "projected \(projected.iterations), plain \(plain.iterations)")
    }
}
