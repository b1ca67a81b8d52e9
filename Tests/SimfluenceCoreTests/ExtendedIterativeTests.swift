import Testing
@testable import SimfluenceCore

/// The extended methods' conjugate-gradient path (``ExtendedIterative`` on ``ExtendedStructure``)
/// against the dense Cholesky path (``ExtendedSolver``), which assembles and factors the normal
/// equations independently, on small planted logs.
@Suite struct ExtendedIterativeTests {
    /// A planted log with repeated ids inside some batches (multiplicities > 1).
    static func log(runs: Int, tests: Int = 11, seed: UInt64) -> TrainingLog {
        let model = PlantedExtended.random(pool: 24, tests: tests, batch: 4, timeTerms: true, seed: seed)
        var log = model.log(runs: runs, sample: 16, batch: 4, epochs: 3, noise: 1e-3, seed: seed + 1)
        for r in stride(from: 0, to: log.runs.count, by: 2) {
            var batches = log.runs[r].batches
            batches[3][1] = batches[3][0]
            batches[7][2] = batches[7][0]
            log.runs[r] = TrainingRun(name: log.runs[r].name, batches: batches, firstLossStep: log.runs[r].firstLossStep,
                                      losses: log.runs[r].losses)
        }
        return log
    }

    /// Largest difference over A, B and the step terms, relative to the largest dense value of each.
    static func difference(_ x: FittedSimulator, _ y: FittedSimulator) -> Double {
        func rel(_ a: [Double], _ b: [Double]) -> Double {
            let scale = max(b.map(abs).max() ?? 0, 1e-300)
            return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
        }
        var worst = max(rel(x.a.storage, y.a.storage), rel(x.b.storage, y.b.storage))
        if let u = x.stepAlpha, let v = y.stepAlpha { worst = max(worst, rel(u.storage, v.storage)) }
        if let u = x.stepBeta, let v = y.stepBeta { worst = max(worst, rel(u.storage, v.storage)) }
        #expect((x.stepAlpha == nil) == (y.stepAlpha == nil))
        return worst
    }

    /// Largest difference between the two simulators' rollouts of every run of `log` (from its
    /// recorded starting losses), relative to the largest simulated loss.
    static func rolloutDifference(_ x: FittedSimulator, _ y: FittedSimulator, log: TrainingLog) -> Double {
        var worst = 0.0, scale = 0.0
        let tests = Array(0..<log.testIDs.count)
        for run in log.runs {
            let batches = Array(run.simulatedBatches)
            let initial = tests.map { run.losses[0, $0] }
            let p = x.simulate(batches, initial: initial, tests: tests), q = y.simulate(batches, initial: initial, tests: tests)
            for (a, b) in zip(p.storage, q.storage) { worst = max(worst, abs(a - b)); scale = max(scale, abs(b)) }
        }
        return worst / max(scale, 1e-300)
    }

    static let cases: [(name: String, config: ExtendedConfiguration, carry: Double)] = {
        var time4 = ExtendedRidgeMethod.linearTime.configuration
        time4.stepKnots = 4
        var pooledTimeCarry = time4
        pooledTimeCarry.pooled = true
        var oneKnot = time4
        oneKnot.stepKnots = 1
        return [
            ("plain linear (no extended terms)", .plainLinear, 0),
            ("linear-pooled", ExtendedRidgeMethod.linearPooled.configuration, 0),
            ("linear-time, 4 knots", time4, 0),
            ("linear-time, 16 knots", ExtendedRidgeMethod.linearTime.configuration, 0),
            ("linear-time, 1 knot", oneKnot, 0),
            ("linear-carry, rho 0.7", time4, 0.7),
            ("pooled + step terms + carry-over 0.5", pooledTimeCarry, 0.5),
        ]
    }()

    @Test(arguments: [30, 3])
    func conjugateGradientsMatchTheDenseSolution(runs: Int) throws {
        // 30 runs: more rows than unknowns (example blocks preconditioned); 3 runs: fewer.
        let log = Self.log(runs: runs, seed: 21)
        for c in Self.cases {
            for lambda in [0.05, 2.0] {
                let dense = try ExtendedFit.fitFixed(config: c.config, method: .linearTime, log: log, runs: log.runs,
                                                     lambda: lambda, smoothing: c.config.stepKnots > 0 ? 100 : 0, carry: c.carry,
                                                     solver: .dense)
                let cg = try ExtendedFit.fitFixed(config: c.config, method: .linearTime, log: log, runs: log.runs,
                                                  lambda: lambda, smoothing: c.config.stepKnots > 0 ? 100 : 0, carry: c.carry,
                                                  threads: 2, solver: .iterative(tolerance: 1e-13))
                #expect(cg.provenance.iterative != nil && dense.provenance.iterative == nil)
                // Simulations of every run's curriculum (what a user sees) match to 1e-8. The
                // parameters do too without step terms; with them, a direction that shifts every
                // A_i against u (or B_i against v) leaves every constant-batch-size simulation
                // unchanged and is held only by the ridge, so both solvers resolve it to
                // (condition number) x (rounding), ~1e-7 of the largest value.
                let r = Self.rolloutDifference(cg, dense, log: log)
                #expect(r < 1e-8, "\(c.name), \(runs) runs, lambda \(lambda): simulations differ by \(r)")
                let d = Self.difference(cg, dense)
                #expect(d < (c.config.stepKnots > 0 ? 5e-7 : 1e-8), "\(c.name), \(runs) runs, lambda \(lambda): relative difference \(d)")
                #expect(cg.lossLower == dense.lossLower && cg.lossUpper == dense.lossUpper)
            }
        }
    }

    /// Deflated CG (the tolerances of large systems: ``ExtendedIterative/deflationTolerance`` and
    /// looser) reaches the dense solution: simulations to 1e-7 at a relative residual of 1e-10
    /// (measured: at most 1.1e-8), parameters to 1e-4 (at most 1.2e-5, along the directions only
    /// the ridge holds), in every configuration with shared terms and on both sides of the
    /// preconditioner's rows-per-unknown rule.
    @Test(arguments: [30, 3])
    func deflatedConjugateGradientsMatchTheDenseSolution(runs: Int) throws {
        let log = Self.log(runs: runs, seed: 21)
        let tolerance = ExtendedIterative.deflationTolerance
        for c in Self.cases where c.config.pooled || c.config.stepKnots > 0 {
            for lambda in [0.05, 2.0] {
                let smoothing = c.config.stepKnots > 0 ? 100.0 : 0
                let dense = try ExtendedFit.fitFixed(config: c.config, method: .linearTime, log: log, runs: log.runs,
                                                     lambda: lambda, smoothing: smoothing, carry: c.carry, solver: .dense)
                let cg = try ExtendedFit.fitFixed(config: c.config, method: .linearTime, log: log, runs: log.runs,
                                                  lambda: lambda, smoothing: smoothing, carry: c.carry, threads: 2,
                                                  solver: .iterative(tolerance: tolerance))
                let r = Self.rolloutDifference(cg, dense, log: log), d = Self.difference(cg, dense)
                #expect(r < 1e-7, "\(c.name), \(runs) runs, lambda \(lambda): simulations differ by \(r)")
                #expect(d < 1e-4, "\(c.name), \(runs) runs, lambda \(lambda): relative difference \(d)")
            }
        }
    }

    /// Rollout fitting from the CG start reaches the dense start's refinement.
    @Test func rolloutFittingFromTheIterativeStartMatches() throws {
        let log = Self.log(runs: 12, tests: 3, seed: 5)
        var config = ExtendedRidgeMethod.linearRollout.configuration
        config.stepKnots = 4
        let dense = try ExtendedFit.fitFixed(config: config, method: .linearRollout, log: log, runs: log.runs,
                                             lambda: 0.5, smoothing: 100, solver: .dense)
        let cg = try ExtendedFit.fitFixed(config: config, method: .linearRollout, log: log, runs: log.runs,
                                          lambda: 0.5, smoothing: 100, solver: .iterative(tolerance: 1e-13))
        // L-BFGS (150 iterations at most, stopped on a relative decrease) amplifies the ~1e-9
        // difference of the starts; the simulations it produces agree closely.
        let r = Self.rolloutDifference(cg, dense, log: log)
        #expect(r < 1e-5, "simulations differ by \(r)")
    }

    /// Results do not depend on the thread count or on which test examples share a block.
    @Test func iterativeFitIsDeterministic() throws {
        let log = Self.log(runs: 10, seed: 8)
        let config = ExtendedRidgeMethod.linearCarry.configuration
        let one = try ExtendedFit.fitFixed(config: config, method: .linearCarry, log: log, runs: log.runs, lambda: 0.3,
                                           smoothing: 100, carry: 0.8, threads: 1, solver: .iterative(tolerance: 1e-10))
        let two = try ExtendedFit.fitFixed(config: config, method: .linearCarry, log: log, runs: log.runs, lambda: 0.3,
                                           smoothing: 100, carry: 0.8, threads: 2, solver: .iterative(tolerance: 1e-10))
        let alone = try ExtendedFit.fitFixed(config: config, method: .linearCarry, log: log, runs: log.runs, lambda: 0.3,
                                             smoothing: 100, carry: 0.8, tests: [9], threads: 1,
                                             solver: .iterative(tolerance: 1e-10))
        #expect(one.a.storage.map(\.bitPattern) == two.a.storage.map(\.bitPattern))
        #expect(one.b.storage.map(\.bitPattern) == two.b.storage.map(\.bitPattern))
        #expect(alone.a.row(0).map(\.bitPattern) == one.a.row(9).map(\.bitPattern))
    }

    /// Cross-validation by CG scores every (carry-over, lambda) point as the dense path does and
    /// picks the same point.
    @Test func crossValidationByConjugateGradientsPicksTheDenseChoice() throws {
        let log = Self.log(runs: 10, seed: 13)
        var config = ExtendedRidgeMethod.linearCarry.configuration
        config.stepKnots = 4
        config.carryGrid = [0, 0.7]
        let grid = [1e-3, 1e-2, 0.1, 1, 10]
        let dense = try ExtendedFit.fit(.linearCarry, log: log, runs: log.runs, lambda: .auto(grid: grid, folds: 3),
                                        configuration: config, solver: .dense)
        let cg = try ExtendedFit.fit(.linearCarry, log: log, runs: log.runs, lambda: .auto(grid: grid, folds: 3),
                                     configuration: config, solver: .iterative(tolerance: 1e-12))
        let ds = try #require(dense.selection), cs = try #require(cg.selection)
        #expect(cs.chosen == ds.chosen && cg.simulator.carry == dense.simulator.carry)
        // CV solves stop at a relative residual of 1e-10: scores agree to ~1e-8 relative.
        for (a, b) in zip(cs.scores, ds.scores) { #expect(abs(a - b) <= 1e-7 * abs(b), "scores \(a) vs \(b)") }
    }
}
