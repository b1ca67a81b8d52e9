import Foundation
import Testing
@testable import SimfluenceCore

/// The lag-kernel fit's conjugate-gradient B step (``LagKernelIterative``) against the dense
/// factorisation of the same normal equations, on planted logs with unequal runs, a loss scale
/// and weighted batch entries; and its results independent of block mates and threads.
@Suite struct LagKernelIterativeTests {
    /// A planted log whose runs differ in length and first step (unbalanced step groups), 10 test
    /// examples (a full block of 8 and a partial one).
    static func unevenLog() -> (TrainingLog, LagKernelTests.Planted) {
        var (log, planted) = LagKernelTests.plantedLog(runs: 9, pool: 30, tests: 10, steps: 40, batch: 3, seed: 21)
        for r in log.runs.indices where r % 3 == 1 {
            let keep = 25 + r
            log.runs[r].batches = Array(log.runs[r].batches.prefix(keep))
            var losses = Matrix(rows: keep + 1, columns: 10)
            for t in 0...keep { for z in 0..<10 { losses[t, z] = log.runs[r].losses[t, z] } }
            log.runs[r].losses = losses
        }
        // Run 2's losses start after step 3 (its first three batches are not simulated).
        let full = log.runs[2].losses
        var late = Matrix(rows: full.rows - 3, columns: 10)
        for t in 0..<late.rows { for z in 0..<10 { late[t, z] = full[t + 3, z] } }
        log.runs[2].firstLossStep = 3
        log.runs[2].losses = late
        return (log, planted)
    }

    static func largestDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: [0.0, 1.0], [false, true])
    func matchesTheDenseSolution(lossScale: Double, weighted: Bool) throws {
        let (log, planted) = Self.unevenLog()
        let tests = Array(0..<10)
        let design = LagKernelDesign(log: log, runs: log.runs)
        var targets = try LagKernelFit.Targets(runs: log.runs, tests: tests, design: design)
        if weighted {
            var g = SeededGenerator(seed: 5)
            targets.entryWeights = design.batches.map { $0.map { $0.map { _ in 0.5 + g.nextUniform() } } }
        }
        var kernel = planted.kernel
        kernel.lossScale = lossScale
        let lambdas = [1e-2, 10, 1e-4, 0.3]
        let dense = try LagKernelFit.effectsPath(design, targets, kernel: kernel, lambdas: lambdas, prior: nil, iterative: false,
                                                 threads: 2)
        let solver = LagKernelIterative(design, entryWeights: targets.entryWeights, kernel: kernel)
        let cg = try solver.path(targets, lambdas: lambdas, tolerance: 1e-13, threads: 2)
        for p in lambdas.indices {
            let d = try #require(dense[p]), c = try #require(cg[p])
            let scale = max(1e-3, d.theta.map(abs).max() ?? 0)
            #expect(Self.largestDifference(d.theta, c.theta) < 1e-8 * scale, "lambda \(lambdas[p])")
            #expect(Self.largestDifference(d.steps, c.steps) < 1e-8 * max(1, d.steps.map(abs).max() ?? 0), "lambda \(lambdas[p])")
        }
        // The path as effectsPath runs it (its own tolerance) picks the same solver.
        let auto = try LagKernelFit.effectsPath(design, targets, kernel: kernel, lambdas: [1e-2], prior: nil, iterative: true,
                                                threads: 1)
        let d = try #require(dense[0]), a = try #require(auto[0])
        #expect(Self.largestDifference(d.theta, a.theta) < 1e-5 * max(1e-3, d.theta.map(abs).max() ?? 0))
    }

    /// A test example's solution is the same bit for bit whether it is solved alone, with other
    /// test examples in its block, or on more threads.
    @Test func resultsDoNotDependOnBlockMatesOrThreads() throws {
        let (log, planted) = Self.unevenLog()
        let design = LagKernelDesign(log: log, runs: log.runs)
        var kernel = planted.kernel
        kernel.lossScale = 1
        let all = try LagKernelFit.Targets(runs: log.runs, tests: Array(0..<10), design: design)
        let solver = LagKernelIterative(design, entryWeights: nil, kernel: kernel)
        let together = try solver.path(all, lambdas: [0.1, 1e-3], tolerance: 1e-10, threads: 1)
        let threaded = try solver.path(all, lambdas: [0.1, 1e-3], tolerance: 1e-10, threads: 3)
        for p in 0..<2 { #expect(together[p]!.theta == threaded[p]!.theta && together[p]!.steps == threaded[p]!.steps) }
        for c in [0, 6, 9] {
            let alone = try solver.path(all.column(c), lambdas: [0.1, 1e-3], tolerance: 1e-10, threads: 1)
            let n = design.n, groups = design.groupSizes.count
            for p in 0..<2 {
                #expect((0..<n).map { together[p]!.theta[$0 * 10 + c] } == alone[p]!.theta)
                #expect((0..<groups).map { together[p]!.steps[$0 * 10 + c] } == alone[p]!.steps)
            }
        }
    }

    /// A walk down lambdas with one call per lambda, each started from the last solution, gives
    /// the same bits with the blocks' setups kept between calls as without (with and without a
    /// loss scale); the setups are kept only within their memory budget.
    @Test func keptSetupsGiveTheSameWalk() throws {
        let (log, planted) = Self.unevenLog()
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: Array(0..<10), design: design)
        for scale in [0.0, 1.0] {
            var kernel = planted.kernel
            kernel.lossScale = scale
            let solver = LagKernelIterative(design, entryWeights: nil, kernel: kernel)
            let setups = try #require(solver.setups(width: 10))
            var plain: [Double]?, kept: [Double]?
            for lambda in [10, 0.1, 1e-3] {
                let a = try #require(try solver.path(targets, lambdas: [lambda], tolerance: 1e-10, start: plain, threads: 2)[0])
                let b = try #require(try solver.path(targets, lambdas: [lambda], tolerance: 1e-10, start: kept, setups: setups,
                                                     threads: 3)[0])
                #expect(a.theta == b.theta && a.steps == b.steps)
                (plain, kept) = (a.theta, b.theta)
            }
        }
        let solver = LagKernelIterative(design, entryWeights: nil, kernel: planted.kernel)
        #expect(solver.setups(width: LagKernelIterative.setupBudget / (64 * (2 * solver.rows + 2 * solver.n)) * 8 + 8) == nil)
    }

    /// The lambda search, the loss scale and the saturation exponent chosen through conjugate
    /// gradients (folds to ``LagKernelFit/foldTolerance``) are the dense path's, with scores within
    /// the folds' tolerance, and the fit records its solve.
    @Test func crossValidationThroughConjugateGradientsChoosesAsTheDensePath() throws {
        // Noisy losses, so that lambda matters: the scores fall and rise again along the grid.
        var (log, _) = LagKernelTests.plantedLog(runs: 12, pool: 30, tests: 4, steps: 30, batch: 3, seed: 9)
        var g = SeededGenerator(seed: 10)
        for r in log.runs.indices {
            for t in 0..<log.runs[r].losses.rows { for z in 0..<4 { log.runs[r].losses[t, z] += 0.02 * g.nextGaussian() } }
        }
        let tests = Array(0..<4), grid = [1e-3, 1e-2, 0.1, 1, 10, 100]
        let dense = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3, solver: .dense,
                                                   threads: 2)
        let cg = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3,
                                                solver: .iterative(tolerance: 1e-10), threads: 2)
        #expect(cg.selection.chosen == dense.selection.chosen)
        #expect(cg.pilot.lossScale == dense.pilot.lossScale && cg.pilot.saturation == dense.pilot.saturation)
        for (a, b) in zip(cg.pilot.weights, dense.pilot.weights) { #expect(abs(a - b) < 1e-5) }
        #expect(cg.saturationLambda == dense.saturationLambda)
        for (a, b) in zip(dense.selection.scores, cg.selection.scores) { #expect(abs(a - b) <= 1e-4 * a) }
        let fit = try LagKernelFit.fit(method: .lagKernel, log: log, runs: log.runs, tests: tests, lambda: cg.selection.chosen,
                                       start: cg.pilot, fixedKernel: true, saturationLambda: cg.saturationLambda,
                                       solver: .iterative(tolerance: 1e-10), threads: 2)
        let record = try #require(fit.provenance.iterative)
        #expect(record.tolerance == 1e-10 && record.maxRelativeResidual <= 1e-10 && record.maxIterations > 0)
        #expect(fit.provenance.solver?.contains("conjugate gradients") == true)
    }

    /// With many test examples the lambda search through conjugate gradients is screened: its
    /// choice is the whole search's, every point it scores has the whole search's score (the
    /// same solves, summed in another order), and it scores fewer points for most test examples.
    @Test func screenedSearchChoosesAsTheWholeSearch() throws {
        var (log, planted) = LagKernelTests.plantedLog(runs: 9, pool: 30, tests: 130, steps: 30, batch: 3, seed: 31)
        var g = SeededGenerator(seed: 32)
        for r in log.runs.indices {
            for t in 0..<log.runs[r].losses.rows { for z in 0..<130 { log.runs[r].losses[t, z] += 0.01 * g.nextGaussian() } }
        }
        let tests = Array(0..<130)
        var unscored = 0
        for grid in [[1e-3, 1e-2, 0.1, 1, 10, 100], [1, 10, 100, 1000]] {
            let split = try CrossValidationFolds(runs: log.runs, folds: 3, grid: grid)
            let screened = try LagKernelFit.searchLambda(log: log, split: split, tests: tests, pilot: planted.kernel, prior: nil,
                                                         iterative: (true, 1e-10), threads: 2).selection
            let whole = try LagKernelFit.scores(log: log, split: split, tests: tests, grid: grid, pilot: planted.kernel, prior: nil,
                                                iterative: (true, 1e-10), threads: 2)
            #expect(screened.chosen == grid[whole.best], "grid \(grid): \(screened.scores) against \(whole.values)")
            for (p, value) in screened.scores.enumerated() where !value.isNaN {
                #expect(abs(value - whole.values[p]) <= 1e-12 * whole.values[p])
            }
            unscored += screened.scores.filter(\.isNaN).count
        }
        #expect(unscored > 0, "the screen scored every point: it was not tested")
    }
}
