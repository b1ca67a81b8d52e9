import Foundation
import Testing
@testable import SimfluenceCore

/// The lag-kernel simulator: planted kernels and effects recovered from the data their own model
/// generated, the fixed-kernel fit checked against an independent dense least-squares solution,
/// and the rollout against the recurrence written out by hand.
@Suite struct LagKernelTests {
    /// A planted model: L_t = L_{t-1} + sum_{s <= t} kappa(t - s) beta(c_s) + v_t.
    struct Planted {
        var kernel: LagKernel
        var b: Matrix          // tests x pool
        var v: [[Double]]      // tests x steps (v[z][t - 1] is step t's term)
        var start: [Double]

        func rollout(_ batches: [[Int]], z: Int) -> [Double] {
            var betas: [Double] = []
            var loss = start[z]
            var out = [loss]
            for (k, batch) in batches.enumerated() {
                // The gain written out: 1 - exp(-max(L, 0) / tau) of the loss before the step (1 without tau).
                let gain = kernel.lossScale > 0 ? 1 - exp(-max(loss, 0) / kernel.lossScale) : 1
                betas.append(gain * batch.reduce(0.0) { $0 + b[z, $1] })
                var beta = 0.0
                for s in 0...k { beta += kernel.weight(lag: k - s) * betas[s] }
                loss += beta + v[z][k]
                out.append(loss)
            }
            return out
        }
    }

    static func plantedLog(runs: Int = 24, pool: Int = 12, tests: Int = 3, steps: Int = 40, batch: Int = 2,
                           seed: UInt64 = 7, lossScale: Double = 0) -> (TrainingLog, Planted) {
        var g = SeededGenerator(seed: seed)
        let starts = LagKernel.defaultStarts(lastStep: steps)
        var weights = [Double](repeating: 1, count: starts.count)
        for m in 1..<starts.count {
            let cycle = 0.9 * Double(m % 3) - 0.5
            weights[m] = cycle + 0.1 * Double(m) / Double(starts.count)
        }
        var b = Matrix(rows: tests, columns: pool)
        // Centred per test example: a common shift of every B_i moves every run's step t alike, so
        // the step terms absorb it and the (minimum-norm) fit returns the centred effects.
        for z in 0..<tests {
            for i in 0..<pool { b[z, i] = 0.02 * g.nextGaussian() }
            let mean = (0..<pool).reduce(0.0) { $0 + b[z, $1] } / Double(pool)
            for i in 0..<pool { b[z, i] -= mean }
        }
        var v = [[Double]](repeating: [Double](repeating: 0, count: steps), count: tests)
        for z in 0..<tests { for t in 0..<steps { v[z][t] = -0.01 + 0.0002 * Double(t) + 0.001 * Double(z) } }
        let planted = Planted(kernel: LagKernel(starts: starts, weights: weights, lossScale: lossScale), b: b, v: v,
                              start: (0..<tests).map { _ in (lossScale > 0 ? 3 : 1) + g.nextUniform() })
        var out: [TrainingRun] = []
        for r in 0..<runs {
            let batches = (0..<steps).map { _ in (0..<batch).map { _ in Int(g.next() % UInt64(pool)) } }
            var losses = Matrix(rows: steps + 1, columns: tests)
            for z in 0..<tests {
                for (t, l) in planted.rollout(batches, z: z).enumerated() { losses[t, z] = l }
            }
            out.append(TrainingRun(name: "run\(r + 1)", batches: batches, firstLossStep: 0, losses: losses))
        }
        let log = TrainingLog(trainIDs: (0..<pool).map(String.init), testIDs: (0..<tests).map { "t\($0)" }, runs: out)
        return (log, planted)
    }

    @Test func recoversPlantedKernelEffectsAndStepTerms() throws {
        let (log, planted) = Self.plantedLog()
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: [0, 1, 2], design: design)
        // lambda = 1e-6 biases B and v by about 1e-7; much smaller, the shared shift direction
        // (absorbed by the step terms) falls under the factorisation's pivot tolerance.
        let solution = try LagKernelFit.solve(design, targets, lambda: 1e-6,
                                              start: .immediate(starts: planted.kernel.starts),
                                              maxIterations: 2000, tolerance: 1e-12, threads: 2)
        for (w, p) in zip(solution.kernel.weights, planted.kernel.weights) { #expect(abs(w - p) < 1e-6) }
        for (j, i) in design.active.enumerated() {
            for z in 0..<3 { #expect(abs(solution.theta[j * 3 + z] - planted.b[z, i]) < 1e-6) }
        }
        // v_t absorbs what the ridge leaves of the shared shift of B times the kernel's
        // cumulative sum up to t (larger for later steps), so it is recovered less closely.
        for z in 0..<3 { for s in 1...40 { #expect(abs(solution.steps[s * 3 + z] - planted.v[z][s - 1]) < 2e-5) } }
    }

    /// With a loss scale every test example has its own design (batches count their gain of the
    /// recorded loss); the fit still recovers the planted kernel and effects, and the step terms.
    @Test func recoversPlantedEffectsUnderALossScale() throws {
        let (log, planted) = Self.plantedLog(runs: 16, steps: 30, seed: 9, lossScale: 0.8)
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: [0, 1, 2], design: design)
        let solution = try LagKernelFit.solve(design, targets, lambda: 1e-6,
                                              start: .immediate(starts: planted.kernel.starts, lossScale: 0.8),
                                              maxIterations: 150, tolerance: 1e-12, threads: 2)
        #expect(solution.kernel.lossScale == 0.8)
        // (Alternating least squares creeps along the kernel's scale direction: 150 updates bring
        // the O(1) weights within 1e-4.)
        for (w, p) in zip(solution.kernel.weights, planted.kernel.weights) { #expect(abs(w - p) < 1e-4) }
        // Unlike the shared design, a common shift of B is not absorbed by the step terms here
        // (each batch counts its own gain), so B is identified up to the ridge's bias.
        for (j, i) in design.active.enumerated() {
            for z in 0..<3 { #expect(abs(solution.theta[j * 3 + z] - planted.b[z, i]) < 1e-5) }
        }
        for z in 0..<3 { for s in 1...30 { #expect(abs(solution.steps[s * 3 + z] - planted.v[z][s - 1]) < 1e-4) } }
        // The same data fitted without the loss scale fits worse.
        let plain = try LagKernelFit.solve(design, targets, lambda: 1e-6, start: .immediate(starts: planted.kernel.starts),
                                           maxIterations: 50, tolerance: 1e-9, threads: 2)
        #expect(Self.objective(log: log, solution: plain, design: design, lambda: 0) >
                1e3 * Self.objective(log: log, solution: solution, design: design, lambda: 0))
    }

    /// On data with a loss scale, the cross-validation picks tau = 1 when the log is within
    /// ``LagKernelFit/lossScaleExampleLimit``; above it (the limit lowered below the 12 examples
    /// here) only tau = 0 and saturation exponent 0 are scored, exactly as a search asked for
    /// them alone, and tau = 1 and exponent 1 are returned as skipped; the method says so in its
    /// notes and its provenance, and `auto` and `stack` pass the notes on under the candidate's name.
    @Test func largeLogsSkipTheLossScaleSearchAndSaySo() throws {
        let (log, _) = Self.plantedLog(runs: 12, steps: 30, seed: 9, lossScale: 1)
        let tests = [0, 1, 2], grid = [0.001, 0.01, 0.1]
        let full = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3, threads: 2)
        #expect(full.pilot.lossScale == 1 && full.skippedLossScales.isEmpty)
        let capped = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3,
                                                    lossScaleExampleLimit: 11, threads: 2)
        let plain = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3,
                                                   lossScales: [0], saturations: [0], threads: 2)
        #expect(capped.pilot.lossScale == 0 && capped.skippedLossScales == [1])
        #expect(capped.pilot.saturation == 0 && capped.skippedSaturations == [1])
        #expect(capped.pilot == plain.pilot && capped.selection.scores == plain.selection.scores
                && capped.selection.chosen == plain.selection.chosen)
        #expect(try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: grid, folds: 3,
                                               lossScaleExampleLimit: 12, threads: 2).skippedSaturations.isEmpty)

        var method = LagKernelMethod.lagKernel
        method.lossScaleExampleLimit = 11
        let request = FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .auto(grid: grid, folds: 3)))
        let fit = try method.fit(request)
        #expect(fit.notes.count == 2 && fit.notes[0].hasPrefix("loss scale 1 not cross-validated: with 12 training examples (over 11)"))
        #expect(fit.notes.count == 2 && fit.notes[1].hasPrefix("saturation exponent 1 not cross-validated: with 12 training examples (over 11)"))
        #expect(fit.simulator.lagKernel?.lossScale == 0 && fit.simulator.provenance.details["loss_scale_note"] == fit.notes[0])
        #expect(fit.simulator.lagKernel?.saturation == 0 && fit.simulator.provenance.details["saturation_note"] == fit.notes.last)
        #expect(try LagKernelMethod.lagKernel.fit(request).notes.isEmpty)
        let stacked = try StackMethod(candidates: [.linear, MethodName(method)]).fit(request)
        #expect(stacked.notes == fit.notes.map { "lag-kernel: " + $0 })
    }

    /// The pilot kernel is learnt at the grid's smallest positive lambda, and a fit at a fixed
    /// lambda learns its kernel there too (``LagKernelFit/kernelLambda``, the default grid's
    /// pilot) and then fits B at its own lambda: its kernel is the cross-validation's pilot, bit
    /// for bit, whatever the lambda asked for, and its B is the fixed-kernel fit's at that lambda.
    @Test func kernelIsLearntAtThePilotLambda() throws {
        #expect(LagKernelFit.pilotLambda(grid: [0, 0.1, 1, 10]) == 0.1)
        #expect(LagKernelFit.pilotLambda(grid: [0]) == 0)
        #expect(LagKernelFit.kernelLambda == 0.01 && LagKernelFit.kernelLambda == LambdaSearch.defaultGrid.min())
        let (log, _) = Self.plantedLog(runs: 10, steps: 30, seed: 5)
        let tests = [0, 1, 2]
        let pilot = try LagKernelFit.crossValidate(log: log, runs: log.runs, tests: tests, grid: LambdaSearch.defaultGrid, folds: 3,
                                                   lossScales: [0], saturations: [0], threads: 2).pilot
        let request = FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .fixed(100)))
        let fixed = try LagKernelMethod.lagKernel.fit(request).simulator
        #expect(fixed.lagKernel == pilot)
        #expect(fixed.provenance.details["kernel_lambda"] == "0.01")
        let held = try LagKernelFit.fit(method: .lagKernel, log: log, runs: log.runs, tests: tests, lambda: 100, start: pilot,
                                        fixedKernel: true, threads: 2)
        #expect(fixed.b == held.b)
        // Learnt at lambda = 100 itself, the kernel is another one: the test can tell them apart.
        let own = try LagKernelFit.fit(method: .lagKernel, log: log, runs: log.runs, tests: tests, lambda: 100, threads: 2)
        #expect(own.lagKernel != pilot && own.provenance.details["kernel_lambda"] == nil)
    }

    /// The lambda search gives the same scores, bit for bit, on 1, 2 or 3 threads (folds in
    /// parallel without a loss scale, test examples in parallel with one), for both loss scales
    /// and with saturation.
    @Test func crossValidationScoresDoNotDependOnThreads() throws {
        let (log, _) = Self.plantedLog(runs: 10, steps: 30, seed: 4, lossScale: 1)
        let runs = try CrossValidationFolds(runs: log.runs, folds: 4, grid: [0.001, 0.1, 10])
        let starts = LagKernel.defaultStarts(lastStep: 30)
        for (scale, saturation) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)] {
            let pilot = LagKernel(starts: starts, weights: [1] + [Double](repeating: 0.2, count: starts.count - 1), lossScale: scale,
                                  saturation: saturation)
            let one = try LagKernelFit.scores(log: log, split: runs, tests: [0, 1, 2], grid: runs.grid, pilot: pilot, prior: nil, threads: 1)
            for threads in [2, 3] {
                let many = try LagKernelFit.scores(log: log, split: runs, tests: [0, 1, 2], grid: runs.grid, pilot: pilot, prior: nil,
                                                   threads: threads)
                #expect(many.values == one.values && many.best == one.best)
            }
        }
    }

    /// A prior of several components: with a large lambda, B goes to the combination of the
    /// components that fits the data, each with its own weight (one shared multiple could not).
    @Test func priorComponentsGetTheirOwnWeights() throws {
        let (log, planted) = Self.plantedLog(runs: 16, seed: 13)
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: [0, 1, 2], design: design)
        // Split B into two components (even and odd examples) and plant B = 2 g1 - 0.5 g2.
        var g1 = Matrix(rows: 3, columns: 12), g2 = Matrix(rows: 3, columns: 12)
        for z in 0..<3 {
            for i in 0..<12 {
                if i % 2 == 0 { g1[z, i] = planted.b[z, i] / 2 } else { g2[z, i] = -planted.b[z, i] / 0.5 }
            }
        }
        let solution = try LagKernelFit.solve(design, targets, lambda: 1e6, start: planted.kernel, prior: [g1, g2],
                                              fixedKernel: true, threads: 2)
        for (j, i) in design.active.enumerated() {
            for z in 0..<3 { #expect(abs(solution.theta[j * 3 + z] - planted.b[z, i]) < 1e-7) }
        }
        // The single summed component cannot express it: its best multiple leaves B far off.
        var sum = g1
        for e in sum.storage.indices { sum.storage[e] += g2.storage[e] }
        let single = try LagKernelFit.solve(design, targets, lambda: 1e6, start: planted.kernel, prior: [sum],
                                            fixedKernel: true, threads: 2)
        let error = design.active.enumerated().map { j, i in abs(single.theta[j * 3] - planted.b[0, i]) }.max()!
        #expect(error > 1e-3)
    }

    @Test func simulatorRollsOutThePlantedRecurrence() throws {
        for lossScale in [0, 0.5] {
            try rollsOut(lossScale: lossScale)
        }
    }

    func rollsOut(lossScale: Double) throws {
        let (log, planted) = Self.plantedLog(runs: 2, lossScale: lossScale)
        var sim = FittedSimulator(method: .lagKernel, form: .additive, lambda: 0, trainIDs: log.trainIDs, testIDs: log.testIDs,
                                  a: Matrix(rows: 3, columns: 12), b: planted.b, seen: Array(repeating: true, count: 12),
                                  fittedOn: [])
        sim.lagKernel = planted.kernel
        sim.stepAlpha = Matrix(rows: 3, columns: 40)
        sim.stepBeta = Matrix(rows: 3, columns: 40, storage: planted.v.flatMap { $0 })
        let run = log.runs[1]
        let rollout = sim.simulate(run.batches, initial: planted.start)
        for z in 0..<3 {
            for (t, l) in planted.rollout(run.batches, z: z).enumerated() { #expect(abs(rollout[t, z] - l) < 1e-12) }
        }
        // The final losses of many curricula agree with the rollout.
        let finals = sim.simulateFinalLosses(curricula: log.runs.map(\.batches), initial: planted.start)
        for z in 0..<3 { #expect(finals[1, z] == rollout[40, z]) }
    }

    /// With the kernel held at the immediate one, the fit is ridge regression of the loss changes
    /// on the batch counts with one unpenalised intercept per step: solved here independently, by
    /// Gaussian elimination on the full normal equations with explicit step columns.
    @Test func immediateKernelIsRidgeWithStepIntercepts() throws {
        let (log, _) = Self.plantedLog(runs: 6, pool: 8, tests: 2, steps: 10, seed: 3)
        let lambda = 0.3
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: [0, 1], design: design)
        let solution = try LagKernelFit.solve(design, targets, lambda: lambda,
                                              start: .immediate(starts: LagKernel.defaultStarts(lastStep: 10)),
                                              fixedKernel: true, threads: 1)
        let n = design.n, unknowns = n + 10
        for z in 0..<2 {
            var m = [[Double]](repeating: [Double](repeating: 0, count: unknowns + 1), count: unknowns)
            for run in log.runs {
                for (k, batch) in run.batches.enumerated() {
                    var x = [Double](repeating: 0, count: unknowns)
                    for i in batch { x[design.active.firstIndex(of: i)!] += 1 }
                    x[n + k] = 1
                    let y = run.losses[k + 1, z] - run.losses[k, z]
                    for p in 0..<unknowns {
                        for q in 0..<unknowns { m[p][q] += x[p] * x[q] }
                        m[p][unknowns] += x[p] * y
                    }
                }
            }
            for p in 0..<n { m[p][p] += lambda }
            let exact = Self.gaussianElimination(m)
            for j in 0..<n { #expect(abs(solution.theta[j * 2 + z] - exact[j]) < 1e-10) }
            for s in 1...10 { #expect(abs(solution.steps[s * 2 + z] - exact[n + s - 1]) < 1e-10) }
        }
    }

    /// The normal equations assembled from pairs of steps equal those of the explicit design:
    /// rows K Phi C per run (any kernel, gains from the loss scale, repeated ids in batches),
    /// demeaned within each step's rows; and again with every batch entry weighted (C holding
    /// the weights, as saturation does). Weights of 1 give the unweighted system bit for bit.
    @Test func normalSystemMatchesTheExplicitDesign() throws {
        var (log, _) = Self.plantedLog(runs: 5, pool: 9, tests: 1, steps: 12, batch: 3, seed: 21)
        log.runs[1].batches[4] = [2, 2, 5]
        log.runs[3].batches = Array(log.runs[3].batches.prefix(9))
        log.runs[3].losses = Matrix(rows: 10, columns: 1, storage: Array(log.runs[3].losses.storage.prefix(10)))
        let design = LagKernelDesign(log: log, runs: log.runs)
        let plain = try LagKernelFit.Targets(runs: log.runs, tests: [0], design: design)
        let starts = LagKernel.defaultStarts(lastStep: 12)
        let kernel = LagKernel(starts: starts, weights: starts.indices.map { $0 == 0 ? 1 : 0.7 * cos(Double($0)) / Double($0) },
                               lossScale: 1)
        let gains = plain.gains(kernel, column: 0)
        var g = SeededGenerator(seed: 5)
        let random = design.batches.map { $0.map { $0.map { _ in 0.2 + 1.6 * g.nextUniform() } } }
        let ones = design.batches.map { $0.map { $0.map { _ in 1.0 } } }
        var withOnes = plain
        withOnes.entryWeights = ones
        let unweighted = LagKernelFit.normalSystem(design, plain, kernel: kernel, gains: gains)
        let same = LagKernelFit.normalSystem(design, withOnes, kernel: kernel, gains: gains)
        #expect(same.normal == unweighted.normal && same.rhs == unweighted.rhs && same.groupX == unweighted.groupX)
        for entries in [ones, random] {
            var targets = plain
            targets.entryWeights = entries
            let system = LagKernelFit.normalSystem(design, targets, kernel: kernel, gains: gains)
            let n = design.n
            // Explicit rows, grouped by absolute step.
            var rowsByStep: [Int: [([Double], Double)]] = [:]
            var row = 0
            for (r, batches) in design.batches.enumerated() {
                for k in batches.indices {
                    var x = [Double](repeating: 0, count: n)
                    for s in 0...k {
                        for (e, i) in batches[s].enumerated() { x[i] += kernel.weight(lag: k - s) * gains[row - k + s] * entries[r][s][e] }
                    }
                    rowsByStep[design.firstSteps[r] + k, default: []].append((x, targets.y[row]))
                    row += 1
                }
            }
            var normal = [Double](repeating: 0, count: PackedCholesky.packedCount(n)), rhs = [Double](repeating: 0, count: n)
            for (_, rows) in rowsByStep {
                let count = Double(rows.count)
                let meanX = (0..<n).map { i in rows.reduce(0.0) { $0 + $1.0[i] } / count }
                let meanY = rows.reduce(0.0) { $0 + $1.1 } / count
                for (x, y) in rows {
                    for i in 0..<n {
                        rhs[i] += (x[i] - meanX[i]) * (y - meanY)
                        for j in 0...i { normal[PackedCholesky.rowStart(i) + j] += (x[i] - meanX[i]) * (x[j] - meanX[j]) }
                    }
                }
            }
            let scale = normal.map(abs).max()!
            #expect(scale > 0.1)
            #expect(zip(system.normal, normal).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
            let rhsScale = rhs.map(abs).max()!
            #expect(zip(system.rhs, rhs).allSatisfy { abs($0 - $1) <= 1e-12 * rhsScale })
        }
    }

    /// The symmetric products of the prior's directions: against the full matrix times each
    /// vector, and the same bits however many vectors share a pass.
    @Test func symmetricProductsMatchTheFullMatrix() {
        let n = 45
        var g = SeededGenerator(seed: 17)
        var packed = [Double](repeating: 0, count: PackedCholesky.packedCount(n))
        for e in packed.indices { packed[e] = g.nextGaussian() }
        for count in [1, 3, 8, 11, 40] {
            let v = (0..<(n * count)).map { _ in g.nextGaussian() }
            let out = LagKernelFit.symmetricProducts(packed, v, n: n, count: count)
            for c in 0..<count {
                let alone = LagKernelFit.symmetricProducts(packed, (0..<n).map { v[$0 * count + c] }, n: n, count: 1)
                #expect((0..<n).allSatisfy { out[$0 * count + c] == alone[$0] }, "count \(count), vector \(c)")
                for i in 0..<n {
                    var full = 0.0
                    for j in 0..<n { full += packed[i >= j ? PackedCholesky.rowStart(i) + j : PackedCholesky.rowStart(j) + i] * v[j * count + c] }
                    #expect(abs(out[i * count + c] - full) < 1e-12)
                }
            }
        }
    }

    /// Every kernel update lowers (never raises) the penalised objective.
    @Test func alternatingStepsNeverRaiseTheObjective() throws {
        var (log, _) = Self.plantedLog(runs: 8, seed: 11)
        var g = SeededGenerator(seed: 5)
        for r in log.runs.indices { for e in log.runs[r].losses.storage.indices { log.runs[r].losses.storage[e] += 0.01 * g.nextGaussian() } }
        let design = LagKernelDesign(log: log, runs: log.runs)
        let targets = try LagKernelFit.Targets(runs: log.runs, tests: [0, 1, 2], design: design)
        var previous = Double.infinity
        for iterations in [0, 1, 2, 4, 8] {
            let s = try LagKernelFit.solve(design, targets, lambda: 0.1, start: .immediate(starts: LagKernel.defaultStarts(lastStep: 40)),
                                           maxIterations: iterations, tolerance: 0, threads: 2)
            let objective = Self.objective(log: log, solution: s, design: design, lambda: 0.1)
            #expect(objective <= previous * (1 + 1e-12))
            previous = objective
        }
    }

    @Test func defaultBinsGrowByHalves() {
        #expect(LagKernel.defaultStarts(lastStep: 96) == [0, 1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 63, 94])
        #expect(LagKernel.defaultStarts(lastStep: 1) == [0])
        #expect(LagKernel(starts: [0, 2], weights: [1, -0.5]).weight(lag: 1) == 1)
        #expect(LagKernel(starts: [0, 2], weights: [1, -0.5]).weight(lag: 500) == -0.5)
    }

    static func objective(log: TrainingLog, solution: LagKernelFit.Solution, design: LagKernelDesign, lambda: Double) -> Double {
        let width = log.testIDs.count
        var sum = 0.0
        for z in 0..<width {
            for run in log.runs {
                var betas: [Double] = []
                for (k, batch) in run.batches.enumerated() {
                    let gain = solution.kernel.gain(run.losses[k, z])
                    betas.append(gain * batch.reduce(0.0) { $0 + solution.theta[design.active.firstIndex(of: $1)! * width + z] })
                    var beta = 0.0
                    for s in 0...k { beta += solution.kernel.weight(lag: k - s) * betas[s] }
                    let r = run.losses[k + 1, z] - run.losses[k, z] - beta - solution.steps[(k + 1) * width + z]
                    sum += r * r
                }
            }
            for j in 0..<design.n { sum += lambda * solution.theta[j * width + z] * solution.theta[j * width + z] }
        }
        return sum
    }

    /// Solves the augmented system [M | b] by Gaussian elimination with partial pivoting.
    static func gaussianElimination(_ augmented: [[Double]]) -> [Double] {
        var m = augmented
        let n = m.count
        for c in 0..<n {
            let p = (c..<n).max { abs(m[$0][c]) < abs(m[$1][c]) }!
            m.swapAt(c, p)
            for r in (c + 1)..<max(c + 1, n) where r < n {
                let f = m[r][c] / m[c][c]
                for k in c...n { m[r][k] -= f * m[c][k] }
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = m[r][n]
            for k in (r + 1)..<n { s -= m[r][k] * x[k] }
            x[r] = s / m[r][r]
        }
        return x
    }
}

/// `auto` keeps the candidate with the lowest cross-validated score and says so.
@Suite struct AutoMethodTests {
    @Test func choosesTheLowestCrossValidatedScoreAndExplains() throws {
        let (log, _) = LagKernelTests.plantedLog(runs: 10, seed: 21)
        let request = FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .auto(grid: [0.01, 0.1, 1], folds: 3)))
        let fit = try AutoMethod.auto.fit(request)
        // Data from a lag-kernel model: lag-kernel must win, and every candidate is reported.
        #expect(fit.simulator.method == .lagKernel)
        let choice = try #require(fit.simulator.provenance.details["auto_choice"])
        for name in ["linear ", "linear-carry ", "lag-kernel "] { #expect(choice.contains(name)) }
        #expect(!choice.contains("lag-kernel-tracin"))
        var scores: [String: Double] = [:]
        for m in [MethodName.linear, .linearCarry, .lagKernel] {
            scores[m.name] = try m.descriptor.fit(request).selection?.scores.min()
        }
        #expect(scores["lag-kernel"]! == scores.values.min()!)
        #expect(AutoMethod.fourDigits(0.0268528754) == "0.02685")
        #expect(throws: SimfluenceError.self) {
            _ = try AutoMethod.auto.fit(FitRequest(log: log, runs: log.runs, inputs: MethodInputs(lambda: .fixed(1))))
        }
    }
}
