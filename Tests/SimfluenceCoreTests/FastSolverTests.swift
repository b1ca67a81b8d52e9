import Testing
@testable import SimfluenceCore

/// The fast paths (CG fit, CG cross-validation, batch rollout, sharding) against the exact ones.
@Suite struct FastSolverTests {
    /// A small planted log: `pool` examples, 21 test examples (not a multiple of the SIMD width,
    /// so padded lanes are exercised), runs with repeated ids in some batches.
    static func log(pool: Int = 24, runs: Int = 7, tests: Int = 21, seed: UInt64 = 3, duplicates: Bool = true) -> TrainingLog {
        let model = PlantedModel.random(pool: pool, tests: tests, batchSize: 3, seed: seed)
        let shape = PlantedModel.LogShape(runs: runs, sample: pool * 2 / 3, batchSize: 3, epochs: 3, noise: 0.01)
        var log = model.generateLog(shape, seed: seed + 1)
        if duplicates {
            // Repeat an id inside a batch of the first run (multiplicity 2).
            var run = log.runs[0]
            run.batches[2][1] = run.batches[2][0]
            log.runs[0] = TrainingRun(name: run.name, batches: run.batches, firstLossStep: run.firstLossStep, losses: run.losses)
        }
        return log
    }

    static func maxRelativeDifference(_ x: Matrix, _ y: Matrix) -> Double {
        var scale = 0.0, diff = 0.0
        for (a, b) in zip(x.storage, y.storage) {
            scale = max(scale, abs(a))
            diff = max(diff, abs(a - b))
        }
        return scale == 0 ? diff : diff / scale
    }

    @Test(arguments: RecurrenceForm.allCases, [0.01, 1.0])
    func iterativeMatchesDense(form: RecurrenceForm, lambda: Double) throws {
        let log = Self.log()
        let exact = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: lambda, solver: .dense)
        let cg = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: lambda, solver: .iterative(tolerance: 1e-13))
        #expect(Self.maxRelativeDifference(exact.a, cg.a) <= 1e-8, "\(form) A")
        #expect(Self.maxRelativeDifference(exact.b, cg.b) <= 1e-8, "\(form) B")
        #expect(cg.seen == exact.seen)
        #expect(cg.metadata["solver"]?.contains("conjugate gradients") == true)
    }

    /// Fewer design rows than unknowns: CG runs without the block preconditioner there, and must
    /// still reach the dense solution (both with and without it, forced).
    @Test(arguments: RecurrenceForm.allCases)
    func underdeterminedDesignMatchesDense(form: RecurrenceForm) throws {
        let model = PlantedModel.random(pool: 120, tests: 5, batchSize: 4, seed: 9)
        let log = model.generateLog(PlantedModel.LogShape(runs: 2, sample: 80, batchSize: 4, epochs: 1, noise: 0.01), seed: 10)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let unknowns = form == .linear ? 2 * design.activeCount : design.activeCount
        #expect(design.rowCount < unknowns || form != .linear)
        #expect(IterativeRidge(design: design, form: .linear, tolerance: 1e-12).preconditioned == false)
        let exact = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.3, solver: .dense)
        let cg = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.3, solver: .iterative(tolerance: 1e-13))
        #expect(Self.maxRelativeDifference(exact.a, cg.a) <= 1e-8, "\(form) A")
        #expect(Self.maxRelativeDifference(exact.b, cg.b) <= 1e-8, "\(form) B")
        for preconditioned in [true, false] {
            let solver = IterativeRidge(design: design, form: form, tolerance: 1e-13, preconditioned: preconditioned)
            let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
            try solver.prepare(tests: [0, 1, 2, 3, 4], runs: log.runs, testIDs: log.testIDs, ws)
            let result = try solver.solve(lambda: 0.3, ws)
            #expect(result.residuals.allSatisfy { $0 <= 1e-12 }, "preconditioned \(preconditioned): \(result.residuals)")
        }
    }

    /// Mixed precision (single-precision gathers, double residuals), forced on small designs
    /// (by default it starts at 16,384 active examples): the true residual, recomputed in double,
    /// meets the tolerance, at 1e-7 within the single-precision cycles and at 1e-12 also when the
    /// later restarts run in double; and the solution matches the dense one as far as that
    /// residual allows.
    @Test(arguments: RecurrenceForm.allCases)
    func mixedPrecisionReachesTheDoubleTolerance(form: RecurrenceForm) throws {
        for (pool, runs, sample) in [(120, 2, 80), (24, 7, 16)] {   // under- and overdetermined
            let model = PlantedModel.random(pool: pool, tests: 5, batchSize: 4, seed: 9)
            let log = model.generateLog(PlantedModel.LogShape(runs: runs, sample: sample, batchSize: 4, epochs: 1, noise: 0.01), seed: 10)
            let design = try RidgeDesign(log: log, runs: log.runs)
            #expect(!IterativeRidge(design: design, form: form, tolerance: 1e-7).mixedPrecision)
            let exact = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.3, solver: .dense)
            for tolerance in [1e-7, 1e-12] {
                let solver = IterativeRidge(design: design, form: form, tolerance: tolerance, mixedPrecision: true)
                let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount, mixedPrecision: true)
                var a = [Double](repeating: .nan, count: 5 * design.trainCount), b = a
                let result = try solver.solveBlock(tests: [0, 1, 2, 3, 4], outRows: [0, 1, 2, 3, 4], lambda: 0.3, runs: log.runs,
                                                   testIDs: log.testIDs, aOut: &a, bOut: &b, ws)
                #expect(result.residuals.allSatisfy { $0 <= tolerance }, "\(form) pool \(pool) tol \(tolerance): \(result.residuals)")
                #expect(result.iterations.allSatisfy { $0 > 0 })
                // At 1e-7 the single-precision cycles alone get there (no fallback to double).
                if tolerance == 1e-7 { #expect(result.restarts <= 1, "\(form) pool \(pool)") }
                let bound = tolerance < 1e-10 ? 1e-8 : 1e-4
                #expect(Self.maxRelativeDifference(exact.a, Matrix(rows: 5, columns: design.trainCount, storage: a)) <= bound, "\(form) A")
                #expect(Self.maxRelativeDifference(exact.b, Matrix(rows: 5, columns: design.trainCount, storage: b)) <= bound, "\(form) B")
            }
        }
    }

    /// Blocks are filled in increasing order of each test example's sum of squared losses over
    /// the runs' rows but the last (computed here directly), ties in the given order; and the
    /// fitted rows do not depend on that order (every lane is its own CG).
    @Test func blocksFollowTheConvergenceOrder() throws {
        var log = Self.log(tests: 21)
        // Two test columns with identical losses: a tie.
        for k in log.runs.indices {
            var losses = log.runs[k].losses
            for r in 0..<losses.rows { losses[r, 7] = losses[r, 3] }
            log.runs[k] = TrainingRun(name: log.runs[k].name, batches: log.runs[k].batches,
                                      firstLossStep: log.runs[k].firstLossStep, losses: losses)
        }
        let tests = [20, 3, 7, 0, 11, 5]
        let order = IterativeRidge.convergenceOrder(tests: tests, runs: log.runs)
        var key = [Double](repeating: 0, count: 21)
        for run in log.runs {
            for r in 0..<(run.losses.rows - 1) { for z in 0..<21 { key[z] += run.losses[r, z] * run.losses[r, z] } }
        }
        #expect(order.sorted() == Array(tests.indices))
        for (a, b) in zip(order, order.dropFirst()) {
            #expect(key[tests[a]] < key[tests[b]] || (key[tests[a]] == key[tests[b]] && a < b))
        }
        #expect(order.firstIndex(of: 1)! < order.firstIndex(of: 2)!)   // 3 before 7: the tie
        let all = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.5, solver: .iterative(tolerance: 1e-10))
        let some = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.5, tests: tests,
                                    solver: .iterative(tolerance: 1e-10))
        for (row, z) in tests.enumerated() {
            for g in 0..<all.trainIDs.count {
                #expect(some.a[row, g].bitPattern == all.a[z, g].bitPattern && some.b[row, g].bitPattern == all.b[z, g].bitPattern)
            }
        }
    }

    @Test func automaticChoiceFollowsTheThreshold() throws {
        let small = Self.log()
        let fit = try RidgeFit.fit(log: small, runs: small.runs, form: .linear, lambda: 0.5)
        #expect(fit.metadata["solver"]?.contains("dense") == true)
        let big = Self.log(pool: 300, runs: 8, tests: 3, duplicates: false)   // 2 x ~300 unknowns > 256
        let auto = try RidgeFit.fit(log: big, runs: big.runs, form: .linear, lambda: 0.5)
        #expect(auto.metadata["solver"]?.contains("conjugate gradients") == true)
        let exact = try RidgeFit.fit(log: big, runs: big.runs, form: .linear, lambda: 0.5, solver: .dense)
        #expect(Self.maxRelativeDifference(exact.a, auto.a) <= 1e-8)
        #expect(Self.maxRelativeDifference(exact.b, auto.b) <= 1e-8)
    }

    @Test func iterativeIsDeterministicAcrossThreadsAndSubsets() throws {
        let log = Self.log()
        let choice = RidgeSolverChoice.iterative(tolerance: 1e-10)
        let one = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3, threads: 1, solver: choice)
        let two = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3, threads: 2, solver: choice)
        let five = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3, threads: 5, solver: choice)
        #expect(one.a == two.a && one.b == two.b && one.a == five.a && one.b == five.b)
        // A test example's parameters do not depend on which others share its SIMD vector.
        let subset = [20, 3, 7]
        let part = try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 0.3, tests: subset, solver: choice)
        for (row, z) in subset.enumerated() {
            #expect(part.a.row(row) == one.a.row(z))
            #expect(part.b.row(row) == one.b.row(z))
        }
    }

    @Test(arguments: [RecurrenceForm.linear, .multiplicative])
    func iterativeCrossValidationMatchesDense(form: RecurrenceForm) throws {
        for seed: UInt64 in [3, 11] {
            let log = Self.log(seed: seed)
            let grid = LambdaSearch.defaultGrid
            let exact = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 2, iterative: false)
            let fast = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 2, iterative: true)
            #expect(fast.chosen == exact.chosen)
            for (x, y) in zip(exact.scores, fast.scores) {
                #expect(abs(x - y) <= 1e-8 * abs(x), "\(form) seed \(seed): \(x) vs \(y)")
            }
            let again = try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: grid, folds: 5, threads: 1, iterative: true)
            #expect(again == fast)
        }
    }

    @Test func crossValidationWithLambdaZeroFallsBackToDense() throws {
        let log = Self.log()
        let exact = try LambdaSearch.select(log: log, runs: log.runs, form: .linear, grid: [0, 0.1, 1], folds: 3, threads: 2, iterative: false)
        let fast = try LambdaSearch.select(log: log, runs: log.runs, form: .linear, grid: [0, 0.1, 1], folds: 3, threads: 2, iterative: true)
        #expect(fast.chosen == exact.chosen)
        for (x, y) in zip(exact.scores, fast.scores) where x.isFinite {
            #expect(abs(x - y) <= 1e-8 * abs(x))
        }
    }

    @Test(arguments: RecurrenceForm.allCases)
    func batchRolloutIsBitIdenticalToSimulate(form: RecurrenceForm) throws {
        let log = Self.log()
        let sim = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.2)
        let curricula = log.runs.map { Array($0.simulatedBatches) }
        let initial = (0..<sim.testIDs.count).map { 1 + 0.01 * Double($0) }
        let tests = [4, 0, 20, 9, 1, 2, 3, 5, 6, 7, 8, 11, 12]
        let fast = sim.simulateFinalLosses(curricula: curricula, initial: tests.map { initial[$0] }, tests: tests, threads: 2)
        for (c, batches) in curricula.enumerated() {
            let full = sim.simulate(batches, initial: tests.map { initial[$0] }, tests: tests)
            for k in tests.indices {
                #expect(fast[c, k].bitPattern == full[batches.count, k].bitPattern)
            }
        }
    }

    /// Extended simulators (step terms, carry-over, clamping) are rolled out by `simulate` itself.
    @Test func finalLossesOfExtendedSimulatorsFollowSimulate() throws {
        let log = Self.log()
        let sim = try ExtendedFit.fitFixed(config: ExtendedRidgeMethod.linearCarry.configuration, method: .linearCarry,
                                           log: log, runs: log.runs, lambda: 0.2, smoothing: 100, carry: 0.7)
        #expect(sim.isExtended && sim.carry == 0.7)
        let curricula = log.runs.map { Array($0.simulatedBatches) }
        let tests = [4, 0, 20]
        let initial = [1.0, 1.5, 2.0]
        let fast = sim.simulateFinalLosses(curricula: curricula, initial: initial, tests: tests)
        for (c, batches) in curricula.enumerated() {
            let full = sim.simulate(batches, initial: initial, tests: tests)
            for k in tests.indices { #expect(fast[c, k].bitPattern == full[batches.count, k].bitPattern) }
        }
    }

    @Test func shardsCoverTheTestSetOnce() throws {
        for total in [0, 1, 7, 16, 1000] {
            for n in [1, 3, 16] {
                var next = 0
                for k in 1...n {
                    let r = try ShardSpec(index: k, count: n).range(tests: total)
                    #expect(r.lowerBound == next)
                    next = r.upperBound
                }
                #expect(next == total)
            }
        }
        #expect(try ShardSpec(parsing: "3/16") == ShardSpec(index: 3, count: 16))
        #expect(throws: SimfluenceError.self) { try ShardSpec(parsing: "0/4") }
        #expect(throws: SimfluenceError.self) { try ShardSpec(parsing: "5/4") }
        #expect(throws: SimfluenceError.self) { try ShardSpec(parsing: "3") }
    }

    @Test func fingerprintSeesLossesCurriculaAndIds() {
        let log = Self.log()
        let base = LogFingerprint.compute(log)
        #expect(base == LogFingerprint.compute(log))
        var changed = log
        changed.runs[1].losses.storage[5] += 1e-12
        #expect(LogFingerprint.compute(changed) != base)
        changed = log
        changed.runs[0].batches[0].swapAt(0, 1)
        #expect(LogFingerprint.compute(changed) != base)
        changed = log
        changed.testIDs[0] = "other"
        #expect(LogFingerprint.compute(changed) != base)
    }

    /// What `fit --shard` records, done in-process.
    static func shardFit(_ log: TrainingLog, _ spec: ShardSpec?, lambda: Double = 0.2, solver: RidgeSolverChoice = .automatic) throws -> FittedSimulator {
        let tests = spec.map { Array($0.range(tests: log.testIDs.count)) }
        var sim = try MethodFitting.fit(.linear, log: log, runs: log.runs, lambda: .fixed(lambda), tests: tests, solver: solver).simulator
        sim.provenance.logFingerprint = LogFingerprint.compute(log)
        if let spec {
            sim.provenance.shard = spec
            sim.provenance.shardTotalTests = log.testIDs.count
        }
        return sim
    }

    @Test(arguments: [RidgeSolverChoice.dense, .iterative(tolerance: 1e-9)])
    func mergedShardsEqualTheUnshardedFit(solver: RidgeSolverChoice) throws {
        let log = Self.log()
        let whole = try Self.shardFit(log, nil, solver: solver)
        let parts = try (1...4).map { try Self.shardFit(log, ShardSpec(index: $0, count: 4), solver: solver) }
        let merged = try ShardMerge.merge([parts[2], parts[0], parts[3], parts[1]])
        #expect(merged.a.storage.map(\.bitPattern) == whole.a.storage.map(\.bitPattern))
        #expect(merged.b.storage.map(\.bitPattern) == whole.b.storage.map(\.bitPattern))
        #expect(merged.testIDs == whole.testIDs)
        #expect(merged.startingLosses == whole.startingLosses)
        #expect(merged.lambda == whole.lambda && merged.seen == whole.seen && merged.fittedOn == whole.fittedOn)
    }

    @Test func mergeRefusesPartsThatDoNotBelongTogether() throws {
        let log = Self.log()
        let parts = try (1...3).map { try Self.shardFit(log, ShardSpec(index: $0, count: 3)) }
        // Missing and duplicated slices.
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1]]) }
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1], parts[1]]) }
        // A different lambda.
        let otherLambda = try Self.shardFit(log, ShardSpec(index: 3, count: 3), lambda: 0.3)
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1], otherLambda]) }
        // A different log (one loss changed).
        var changed = log
        changed.runs[2].losses.storage[0] += 0.001
        let otherLog = try Self.shardFit(changed, ShardSpec(index: 3, count: 3))
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1], otherLog]) }
        // A different method.
        var additive = try MethodFitting.fit(.additive, log: log, runs: log.runs, lambda: .fixed(0.2),
                                             tests: Array(ShardSpec(index: 3, count: 3).range(tests: 21))).simulator
        additive.provenance = parts[2].provenance
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1], additive]) }
        // Overlapping slicings (a part of a 4-way split among a 3-way split).
        let four = try Self.shardFit(log, ShardSpec(index: 3, count: 4))
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([parts[0], parts[1], four]) }
        // An unsharded model.
        let whole = try Self.shardFit(log, nil)
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge([whole]) }
        // The right parts merge.
        _ = try ShardMerge.merge(parts)
    }
}
