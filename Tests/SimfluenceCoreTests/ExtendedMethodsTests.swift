import Testing
@testable import SimfluenceCore

/// A planted model of the extended methods' own form:
/// L_t = (sum A_i + u_t) L_{t-1} + sum B_i + v_t + noise, with u, v linear in t (exactly
/// representable by the piecewise-linear step basis, and free under the second-difference penalty).
/// With `carry` = rho != 0 the additive part carries over: sum B_i is replaced by the running sum
/// beta_t = rho beta_{t-1} + sum_{i in c_t} B_i.
struct PlantedExtended {
    var a: Matrix, b: Matrix
    var u0: Double, u1: Double, v0: Double, v1: Double
    var start: [Double]
    var carry = 0.0

    func u(_ t: Int) -> Double { u0 + u1 * Double(t) }
    func v(_ t: Int) -> Double { v0 + v1 * Double(t) }

    static func random(pool: Int, tests: Int, batch: Int, timeTerms: Bool, seed: UInt64) -> PlantedExtended {
        var g = SeededGenerator(seed: seed)
        var a = Matrix(rows: tests, columns: pool), b = Matrix(rows: tests, columns: pool)
        let k = Double(batch)
        for z in 0..<tests {
            let meanA = (0.97 - 0.02 * Double(z)) / k, meanB = 0.01 / k
            for i in 0..<pool {
                a[z, i] = meanA + 0.01 * g.nextGaussian() / k
                b[z, i] = meanB + 0.01 * g.nextGaussian() / k
            }
        }
        let start = (0..<tests).map { _ in 1.5 + g.nextUniform() }
        return timeTerms ? PlantedExtended(a: a, b: b, u0: 0.01, u1: -0.0004, v0: -0.01, v1: 0.0002, start: start)
                         : PlantedExtended(a: a, b: b, u0: 0, u1: 0, v0: 0, v1: 0, start: start)
    }

    /// One step's (alpha_t + u_t, beta_t + v_t).
    func coefficients(z: Int, batch: [Int], step t: Int) -> (Double, Double) {
        var alpha = u(t), beta = v(t)
        for i in batch { alpha += a[z, i]; beta += b[z, i] }
        return (alpha, beta)
    }

    /// One step's (alpha_t + u_t, beta_t + v_t), with the carried additive sum updated.
    func coefficients(z: Int, batch: [Int], step t: Int, carried: inout Double) -> (Double, Double) {
        var alpha = u(t), own = 0.0
        for i in batch { alpha += a[z, i]; own += b[z, i] }
        carried = carry * carried + own
        return (alpha, carried + v(t))
    }

    func rollout(_ batches: [[Int]], z: Int) -> [Double] {
        var loss = start[z]
        var out = [loss]
        var carried = 0.0
        for (j, batch) in batches.enumerated() {
            let (alpha, beta) = coefficients(z: z, batch: batch, step: j + 1, carried: &carried)
            loss = alpha * loss + beta
            out.append(loss)
        }
        return out
    }

    func log(runs: Int, sample: Int, batch: Int, epochs: Int, noise: Double, seed: UInt64) -> TrainingLog {
        let pool = a.columns, tests = a.rows
        let shape = PlantedModel.LogShape(runs: runs, sample: sample, batchSize: batch, epochs: epochs, noise: noise)
        let curricula = PlantedModel.curricula(pool: pool, shape: shape, seed: seed)
        var g = SeededGenerator(seed: seed ^ 0xABCDEF)
        var out: [TrainingRun] = []
        for (r, batches) in curricula.enumerated() {
            var losses = Matrix(rows: batches.count + 1, columns: tests)
            for z in 0..<tests { losses[0, z] = start[z] }
            var carried = [Double](repeating: 0, count: tests)
            for (j, batch) in batches.enumerated() {
                for z in 0..<tests {
                    let (alpha, beta) = coefficients(z: z, batch: batch, step: j + 1, carried: &carried[z])
                    losses[j + 1, z] = alpha * losses[j, z] + beta + noise * g.nextGaussian()
                }
            }
            out.append(TrainingRun(name: "run\(r + 1)", batches: batches, firstLossStep: 0, losses: losses))
        }
        return TrainingLog(trainIDs: (0..<pool).map { "e\($0)" }, testIDs: (0..<tests).map { "t\($0)" }, runs: out)
    }
}

@Suite struct ExtendedMethodsTests {
    static let pool = 24, batch = 4, tests = 2

    /// Worst difference between the fitted and planted one-step maps (alpha_t, beta_t) over a
    /// fresh curriculum, and between their noiseless rollouts.
    static func compare(_ sim: FittedSimulator, _ model: PlantedExtended, seed: UInt64) -> (alpha: Double, beta: Double, rollout: Double) {
        let shape = PlantedModel.LogShape(runs: 1, sample: pool, batchSize: batch, epochs: 2, noise: 0)
        let batches = PlantedModel.curricula(pool: pool, shape: shape, seed: seed)[0]
        var wa = 0.0, wb = 0.0, wr = 0.0
        for z in 0..<tests {
            for (j, batch) in batches.enumerated() {
                let t = j + 1
                var alpha = FittedSimulator.stepTerm(sim.stepAlpha, z: z, step: t)
                var beta = FittedSimulator.stepTerm(sim.stepBeta, z: z, step: t)
                for i in batch { alpha += sim.a[z, i]; beta += sim.b[z, i] }
                let (ta, tb) = model.coefficients(z: z, batch: batch, step: t)
                wa = max(wa, abs(alpha - ta))
                wb = max(wb, abs(beta - tb))
            }
            let predicted = sim.simulate(batches, initial: [model.start[z]], tests: [z], firstStep: 1).column(0)
            for (p, q) in zip(predicted, model.rollout(batches, z: z)) { wr = max(wr, abs(p - q)) }
        }
        return (wa, wb, wr)
    }

    @Test func pooledRecoversItsPlantedModel() throws {
        let model = PlantedExtended.random(pool: Self.pool, tests: Self.tests, batch: Self.batch, timeTerms: false, seed: 1)
        let log = model.log(runs: 60, sample: 16, batch: Self.batch, epochs: 3, noise: 1e-4, seed: 2)
        let sim = try ExtendedFit.fitFixed(config: ExtendedRidgeMethod.linearPooled.configuration, method: .linearPooled,
                                           log: log, runs: log.runs, lambda: 1e-4, smoothing: 0)
        var worst = 0.0
        for z in 0..<Self.tests { for i in 0..<Self.pool { worst = max(worst, abs(sim.a[z, i] - model.a[z, i]), abs(sim.b[z, i] - model.b[z, i])) } }
        #expect(worst < 0.01, "worst parameter error \(worst)")
        let c = Self.compare(sim, model, seed: 9)
        #expect(c.rollout < 0.02, "rollout error \(c.rollout)")
        #expect(sim.lossUpper != nil && sim.stepAlpha == nil)
    }

    @Test func timeTermsRecoverTheirPlantedModel() throws {
        let model = PlantedExtended.random(pool: Self.pool, tests: Self.tests, batch: Self.batch, timeTerms: true, seed: 3)
        let log = model.log(runs: 60, sample: 16, batch: Self.batch, epochs: 3, noise: 1e-4, seed: 4)
        var config = ExtendedRidgeMethod.linearTime.configuration
        config.stepKnots = 4
        let sim = try ExtendedFit.fitFixed(config: config, method: .linearTime, log: log, runs: log.runs,
                                           lambda: 1e-4, smoothing: 100)
        // A_i and u_t are identified only up to a shared shift (a constant batch size); the
        // one-step maps and rollouts are identified.
        let c = Self.compare(sim, model, seed: 10)
        #expect(c.alpha < 2e-3 && c.beta < 2e-3, "one-step map errors \(c.alpha), \(c.beta)")
        #expect(c.rollout < 0.02, "rollout error \(c.rollout)")
        #expect(sim.stepAlpha?.columns == 12)
        // Without step terms the same data is fitted worse.
        let plain = try ExtendedFit.fitFixed(config: ExtendedRidgeMethod.linearPooled.configuration, method: .linearPooled,
                                             log: log, runs: log.runs, lambda: 1e-4, smoothing: 0)
        #expect(Self.compare(plain, model, seed: 10).rollout > 2 * c.rollout)
    }

    @Test func rolloutFittingRecoversItsPlantedModelFromGappedLosses() throws {
        let model = PlantedExtended.random(pool: Self.pool, tests: Self.tests, batch: Self.batch, timeTerms: true, seed: 5)
        let log = model.log(runs: 60, sample: 16, batch: Self.batch, epochs: 3, noise: 1e-4, seed: 6)
        // Losses recorded every 3 steps only: teacher forcing sees interpolated losses (biased),
        // rollout fitting scores only the recorded ones.
        let gapped = LossSubsampling.interpolated(log.runs, every: 3)
        #expect(gapped[0].losses[1, 0] != log.runs[0].losses[1, 0] && gapped[0].losses[3, 0] == log.runs[0].losses[3, 0])
        var config = ExtendedRidgeMethod.linearRollout.configuration
        config.stepKnots = 4
        config.rolloutSharedOnly = false
        config.rolloutIterations = 300
        let rolled = try ExtendedFit.fitFixed(config: config, method: .linearRollout, log: log, runs: gapped,
                                              lambda: 1e-4, smoothing: 100, every: 3)
        config.rollout = false
        let forced = try ExtendedFit.fitFixed(config: config, method: .linearTime, log: log, runs: gapped,
                                              lambda: 1e-4, smoothing: 100, every: 3)
        let r = Self.compare(rolled, model, seed: 11), f = Self.compare(forced, model, seed: 11)
        #expect(r.rollout < 0.03, "rollout-fitted error \(r.rollout)")
        #expect(r.rollout < f.rollout, "rollout fitting \(r.rollout) should beat teacher forcing on interpolated losses \(f.rollout)")
    }

    @Test func rolloutGradientMatchesFiniteDifferences() throws {
        let model = PlantedExtended.random(pool: 10, tests: 1, batch: 2, timeTerms: true, seed: 7)
        let log = model.log(runs: 3, sample: 8, batch: 2, epochs: 2, noise: 1e-3, seed: 8)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let basis = StepBasis(knots: 3, lastStep: 8)
        for (pooled, carry) in [(false, 0.0), (true, 0.0), (false, 0.6), (true, 0.6)] {
            let layout = ExtendedLayout(m: design.activeCount, pooled: pooled, knots: basis.knots)
            let runs = log.runs.map { LocalRun(run: $0, local: design.local, basis: basis, every: 2) }
            let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots, carry: carry)
            var g = SeededGenerator(seed: 11)
            var theta = (0..<layout.n).map { _ in 0.01 * g.nextGaussian() }
            for i in 0..<layout.m { theta[layout.aDev + i] = 0.45 + 0.01 * g.nextGaussian() }
            let states = UnsafeMutablePointer<Double>.allocate(capacity: 64), alphas = UnsafeMutablePointer<Double>.allocate(capacity: 64)
            let flags = UnsafeMutablePointer<Bool>.allocate(capacity: 64)
            defer { states.deallocate(); alphas.deallocate(); flags.deallocate() }
            func f(_ x: [Double], _ grad: UnsafeMutablePointer<Double>?) -> Double {
                x.withUnsafeBufferPointer {
                    rollout.sumOfSquares(runs, z: 0, theta: $0.baseAddress!, lo: -.infinity, hi: .infinity, grad: grad,
                                         states: states, alphas: alphas, clampedFlags: flags)
                }
            }
            var grad = [Double](repeating: 0, count: layout.n)
            _ = grad.withUnsafeMutableBufferPointer { f(theta, $0.baseAddress!) }
            var worst = 0.0
            for i in 0..<layout.n {
                let h = 1e-6
                var plus = theta, minus = theta
                plus[i] += h; minus[i] -= h
                let fd = (f(plus, nil) - f(minus, nil)) / (2 * h)
                worst = max(worst, abs(fd - grad[i]) / max(1, abs(fd)))
            }
            #expect(worst < 1e-5, "pooled \(pooled), carry \(carry): worst relative gradient error \(worst)")
        }
    }

    @Test(arguments: MethodRegistry.builtIn.methods.compactMap { $0.descriptor as? ExtendedRidgeMethod }.map(\.name))
    func everyExtraTermOffReducesToLinear(_ name: String) throws {
        let method = try #require(MethodName(name)?.descriptor as? ExtendedRidgeMethod)
        let planted = PlantedModel.random(pool: 15, tests: 3, batchSize: 3, seed: 12)
        let log = planted.generateLog(.init(runs: 8, sample: 12, batchSize: 3, epochs: 2, noise: 1e-3), seed: 13)
        var config = method.configuration
        config.pooled = false
        config.stepKnots = 0
        config.rollout = false
        config.clampMultiple = nil
        config.carryGrid = [0]
        #expect(config == ExtendedConfiguration.plainLinear || config.rolloutSharedOnly)
        for lambda in [0.01, 0.7] {
            let ext = try ExtendedFit.fitFixed(config: config, method: MethodName(method), log: log, runs: log.runs,
                                               lambda: lambda, smoothing: 0)
            let ridge = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: lambda)
            #expect(ext.a.storage == ridge.a.storage && ext.b.storage == ridge.b.storage)
            #expect(!ext.isExtended)
            let run = log.runs[0]
            #expect(ext.simulate(run.simulatedBatches, initial: run.initialLosses)
                    == ridge.simulate(run.simulatedBatches, initial: run.initialLosses))
        }
        // Rollout fitting that only refines shared terms, with none to refine, changes nothing.
        var rollout = config
        rollout.rollout = true
        rollout.rolloutSharedOnly = true
        let r = try ExtendedFit.fitFixed(config: rollout, method: MethodName(method), log: log, runs: log.runs, lambda: 0.7, smoothing: 0)
        let ridge = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.7)
        #expect(r.a.storage == ridge.a.storage && r.b.storage == ridge.b.storage)
    }

    @Test func carryOverOffIsLinearTimeExactly() throws {
        let model = PlantedExtended.random(pool: Self.pool, tests: Self.tests, batch: Self.batch, timeTerms: true, seed: 16)
        let log = model.log(runs: 12, sample: 16, batch: Self.batch, epochs: 2, noise: 1e-3, seed: 17)
        var config = ExtendedRidgeMethod.linearCarry.configuration
        config.carryGrid = [0]
        let carry = try ExtendedFit.fit(.linearCarry, log: log, runs: log.runs, lambda: .fixed(0.3), configuration: config).simulator
        let time = try ExtendedFit.fit(.linearTime, log: log, runs: log.runs, lambda: .fixed(0.3)).simulator
        #expect(carry.a == time.a && carry.b == time.b && carry.stepAlpha == time.stepAlpha && carry.stepBeta == time.stepBeta)
        #expect(carry.carry == 0)
        let run = log.runs[0]
        #expect(carry.simulate(run.simulatedBatches, initial: run.initialLosses)
                == time.simulate(run.simulatedBatches, initial: run.initialLosses))
    }

    @Test func carriedDesignColumnsAreTheDecayedCounts() throws {
        // One run, batches [0], [1], [0, 0]: B columns rho^(t-s) count_i(c_s) summed over s <= t.
        let losses = Matrix(rows: 4, columns: 1, storage: [1, 0.9, 0.8, 0.7])
        let log = TrainingLog(trainIDs: ["a", "b"], testIDs: ["t"],
                              runs: [TrainingRun(name: "r", batches: [[0], [1], [0, 0]], firstLossStep: 0, losses: losses)])
        let design = try RidgeDesign(log: log, runs: log.runs)
        let c = ExtendedSolver.carried(design, rho: 0.5)
        #expect(c.start == [0, 1, 3, 5])
        #expect(c.local == [0, 0, 1, 0, 1] && c.weight == [1, 0.5, 1, 2.25, 0.5] && c.size == [1, 1.5, 2.75])
    }

    @Test func carryOverRecoversItsPlantedModelAndItsDecay() throws {
        var model = PlantedExtended.random(pool: Self.pool, tests: Self.tests, batch: Self.batch, timeTerms: true, seed: 18)
        model.carry = 0.7
        let log = model.log(runs: 40, sample: 16, batch: Self.batch, epochs: 3, noise: 1e-4, seed: 19)
        var config = ExtendedRidgeMethod.linearCarry.configuration
        config.stepKnots = 4
        // The decay is chosen by cross-validation over whole runs, with lambda.
        let fit = try ExtendedFit.fit(.linearCarry, log: log, runs: log.runs, lambda: .auto(grid: [1e-4, 1e-2], folds: 4),
                                      configuration: config, threads: 1)
        #expect(fit.simulator.carry == 0.7)
        #expect(fit.simulator.metadata["cv_carry_grid"] == "0.0,0.5,0.7,0.8,0.9")
        let c = Self.compare(fit.simulator, model, seed: 20)
        #expect(c.rollout < 0.02, "rollout error \(c.rollout)")
        // Without carry-over the same data is fitted worse.
        config.carryGrid = [0]
        let plain = try ExtendedFit.fitFixed(config: config, method: .linearTime, log: log, runs: log.runs,
                                             lambda: fit.simulator.lambda ?? 0, smoothing: 100)
        #expect(Self.compare(plain, model, seed: 20).rollout > 2 * c.rollout)
    }

    @Test func simulationCarriesTheAdditiveEffectsOver() {
        var sim = FittedSimulator(method: .linear, form: .linear, lambda: 1, trainIDs: ["a", "b"], testIDs: ["t"],
                                  a: Matrix(rows: 1, columns: 2, storage: [0.5, 0.5]), b: Matrix(rows: 1, columns: 2, storage: [1, 2]),
                                  seen: [true, true], fittedOn: [])
        sim.carry = 0.5
        #expect(sim.isExtended)
        // beta: 1, 0.5 + 2 = 2.5, 1.25 + 1 = 2.25; L: 1 -> 0.5 + 1 = 1.5 -> 0.75 + 2.5 = 3.25 -> 1.625 + 2.25 = 3.875.
        let out = sim.simulate([[0], [1], [0]], initial: [1])
        #expect(out.column(0) == [1, 1.5, 3.25, 3.875])
    }

    @Test func clampingBoundsDivergingRollouts() {
        var sim = FittedSimulator(method: .linear, form: .linear, lambda: 1, trainIDs: ["a"], testIDs: ["t"],
                                  a: Matrix(rows: 1, columns: 1, storage: [1.5]), b: Matrix(rows: 1, columns: 1),
                                  seen: [true], fittedOn: [])
        let batches = [[Int]](repeating: [0], count: 40)
        let free = sim.simulate(batches, initial: [1])
        #expect(free[40, 0] > 1e6)
        sim.lossLower = [0]
        sim.lossUpper = [4]
        let rollout = sim.simulation(batches, initial: [1], firstStep: 1)
        let (clamped, count) = (rollout.losses, rollout.clamped)
        #expect(clamped[40, 0] == 4 && count == 37)
        #expect(clamped.column(0).allSatisfy { $0 >= 0 && $0 <= 4 })
    }

    @Test func bootstrapIntervalCoversAtAboutItsNominalRate() throws {
        let planted = PlantedModel.random(pool: 30, tests: 4, batchSize: 3, seed: 14)
        let log = planted.generateLog(.init(runs: 40, sample: 24, batchSize: 3, epochs: 2, noise: 0.01), seed: 15)
        let split = try HoldoutSplit.last(12, of: log)
        let fit = try ExtendedFit.fit(.linearPooled, log: log, runs: split.training, lambda: .fixed(1), threads: 1)
        let iv = try Bootstrap.heldOut(.linearPooled, fitted: fit.simulator, log: log, training: split.training,
                                       heldOut: split.heldOut, inputs: MethodInputs(lambda: .fixed(1)), replicates: 20, seed: 3,
                                       threads: 1)
        let coverage = Bootstrap.coverage(iv, heldOut: split.heldOut)
        // Nominal 80% (10th-90th percentile).
        #expect(coverage.predictive > 0.68 && coverage.predictive < 0.92, "predictive coverage \(coverage.predictive)")
        #expect(coverage.parameter <= coverage.predictive)
        #expect(coverage.meanWidth > 0)
    }
}

/// The fitting rollout (``ExtendedRollout``, on the solver's unknowns) and the simulation rollout
/// (``FittedSimulator/recurrenceRollout(_:initial:tests:firstStep:)``, on a fitted model) are two
/// implementations of one recurrence: built from the same parameters they give the same errors.
@Suite struct RolloutAgreementTests {
    @Test(arguments: [(false, 0.0), (true, 0.0), (false, 0.6), (true, 0.6)])
    func fittingRolloutEqualsTheSimulation(pooled: Bool, carry: Double) throws {
        let model = PlantedExtended.random(pool: 10, tests: 1, batch: 2, timeTerms: true, seed: 7)
        let log = model.log(runs: 3, sample: 8, batch: 2, epochs: 2, noise: 1e-3, seed: 8)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let lastStep = log.runs.map { $0.firstLossStep + $0.losses.rows - 1 }.max()!
        let basis = StepBasis(knots: 3, lastStep: lastStep)
        let layout = ExtendedLayout(m: design.activeCount, pooled: pooled, knots: basis.knots)
        var g = SeededGenerator(seed: 12)
        var theta = (0..<layout.n).map { _ in 0.05 * g.nextGaussian() }
        for i in 0..<layout.m { theta[layout.aDev + i] = 0.45 + 0.05 * g.nextGaussian() }
        // The simulator holding the same parameters: A_i = a + a_i, B_i = b + b_i, u_t and v_t at every step.
        let n = log.trainIDs.count
        var a = Matrix(rows: 1, columns: n), b = Matrix(rows: 1, columns: n)
        for (l, i) in design.active.enumerated() {
            a[0, i] = (pooled ? theta[layout.aPool] : 0) + theta[layout.aDev + l]
            b[0, i] = (pooled ? theta[layout.bPool] : 0) + theta[l]
        }
        var sim = FittedSimulator(method: .linearCarry, form: .linear, lambda: 1, trainIDs: log.trainIDs, testIDs: log.testIDs,
                                  a: a, b: b, seen: Array(repeating: true, count: n), fittedOn: [])
        theta.withUnsafeBufferPointer { t in
            sim.stepAlpha = Matrix(rows: 1, columns: lastStep, storage: (1...lastStep).map { basis.value(t.baseAddress! + layout.uStart, at: $0) })
            sim.stepBeta = Matrix(rows: 1, columns: lastStep, storage: (1...lastStep).map { basis.value(t.baseAddress! + layout.vStart, at: $0) })
        }
        sim.carry = carry
        let (lo, hi) = (0.2, 3.0)
        sim.lossLower = [lo]
        sim.lossUpper = [hi]
        let rollout = ExtendedRollout(layout: layout, basisKnots: basis.knots, carry: carry)
        for run in log.runs {
            let local = LocalRun(run: run, local: design.local, basis: basis, every: nil)
            let fitting = theta.withUnsafeBufferPointer { rollout.mse(local, z: 0, theta: $0.baseAddress!, lo: lo, hi: hi) }
            let predicted = sim.simulate(run.simulatedBatches, initial: run.initialLosses, firstStep: run.firstLossStep + 1)
            let simulated = TrajectoryError.allStepsMSE(predicted: predicted, truth: run.losses, predictedColumn: 0, truthColumn: 0)
            #expect(abs(fitting - simulated) <= 1e-12 * max(1, simulated), "run \(run.name): \(fitting) vs \(simulated)")
        }
    }
}
