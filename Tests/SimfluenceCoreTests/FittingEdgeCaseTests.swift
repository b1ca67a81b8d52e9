import Testing
@testable import SimfluenceCore

/// Singular systems, unseen examples, determinism and argument checks.
@Suite struct FittingEdgeCaseTests {
    /// Examples 0 and 1 always appear together (in every batch that holds either); 2...4 vary.
    static func pairedLog() -> TrainingLog {
        var g = SeededGenerator(seed: 21)
        var runs: [TrainingRun] = []
        for r in 0..<6 {
            let batches: [[Int]] = (0..<12).map { s in
                let other = 2 + FittingFixtures.int(&g, 3)
                return s % 3 == 0 ? [0, 1, other] : [other, 2 + FittingFixtures.int(&g, 3)]
            }
            var losses = Matrix(rows: 13, columns: 2)
            for k in 0..<losses.storage.count { losses.storage[k] = FittingFixtures.uniform(&g, 0.5, 3) }
            runs.append(TrainingRun(name: "run\(r)", batches: batches, firstLossStep: 0, losses: losses))
        }
        return TrainingLog(trainIDs: ["a", "b", "c", "d", "e"], testIDs: ["z0", "z1"], runs: runs)
    }

    @Test(arguments: RecurrenceForm.allCases)
    func nonIdentifiablePairIsSingularAtLambdaZero(form: RecurrenceForm) throws {
        let log = Self.pairedLog()
        #expect(throws: SimfluenceError.singularSystem(testID: "z0", lambda: 0)) {
            try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0)
        }
        let fit = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.1)
        for z in 0..<2 {
            for m in [fit.a, fit.b] {
                #expect(m[z, 0].isFinite && m[z, 1].isFinite)
                #expect(abs(m[z, 0] - m[z, 1]) <= 1e-10 * max(1, abs(m[z, 0])), "\(form) z\(z): \(m[z, 0]) vs \(m[z, 1])")
            }
            if form.usesA { #expect(fit.a[z, 0] != 0) }
            if form.usesB { #expect(fit.b[z, 0] != 0) }
        }
    }

    @Test(arguments: RecurrenceForm.allCases)
    func unseenExamplesGetZeroParameters(form: RecurrenceForm) throws {
        // Example 3 occurs only in step 1 of a run whose first loss is after step 1; example 4 never.
        var g = SeededGenerator(seed: 31)
        var log = FittingFixtures.randomLog(&g, pool: 5, usedPool: 3, tests: 2, runs: 4, steps: 8, batch: 2...3)
        var run = log.runs[1]
        #expect(run.firstLossStep == 1)
        run.batches[0] = [3, 0]
        log.runs[1] = run
        let fit = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.5)
        #expect(fit.seen == [true, true, true, false, false])
        #expect(fit.metadata["active_examples"] == "3")
        for z in 0..<2 { for i in 3...4 { #expect(fit.a[z, i] == 0 && fit.b[z, i] == 0) } }
        // Seen examples do have parameters.
        #expect((0..<3).contains { (form.usesA ? fit.a[0, $0] : fit.b[0, $0]) != 0 })
        // lambda = 0: the minimum-norm choice for the unseen (still 0), fine for the seen ones.
        let unregularised = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0)
        for z in 0..<2 { for i in 3...4 { #expect(unregularised.a[z, i] == 0 && unregularised.b[z, i] == 0) } }
    }

    @Test func resultDoesNotDependOnThreadCount() throws {
        var g = SeededGenerator(seed: 41)
        let log = FittingFixtures.randomLog(&g, pool: 30, usedPool: 28, tests: 7, runs: 5, steps: 30, batch: 2...4)
        for form in RecurrenceForm.allCases {
            let one = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.2, threads: 1)
            let two = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.2, threads: 2)
            let five = try RidgeFit.fit(log: log, runs: log.runs, form: form, lambda: 0.2, threads: 5)
            #expect(one == two)
            #expect(one == five)
        }
    }

    @Test func rejectsBadArguments() throws {
        var g = SeededGenerator(seed: 51)
        let log = FittingFixtures.randomLog(&g, pool: 5, usedPool: 5, tests: 2, runs: 2, steps: 5, batch: 2...2)
        for lambda in [-1.0, .nan, .infinity] {
            #expect(throws: SimfluenceError.self) { try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: lambda) }
        }
        #expect(throws: SimfluenceError.self) { try RidgeFit.fit(log: log, runs: log.runs, form: .linear, lambda: 1, tests: [2]) }
        var bad = log
        bad.runs[0].losses[2, 1] = .nan
        #expect(throws: SimfluenceError.self) { try RidgeFit.fit(log: bad, runs: bad.runs, form: .additive, lambda: 1) }
        // Only z0 fitted: its losses are fine.
        _ = try RidgeFit.fit(log: bad, runs: bad.runs, form: .additive, lambda: 1, tests: [0])
        var outOfRange = log
        outOfRange.runs[1].batches[3] = [0, 9]
        #expect(throws: SimfluenceError.self) { try RidgeFit.fit(log: outOfRange, runs: outOfRange.runs, form: .linear, lambda: 1) }
    }

    @Test func noRunsGivesAllUnseenZeroSimulator() throws {
        var g = SeededGenerator(seed: 61)
        let log = FittingFixtures.randomLog(&g, pool: 4, usedPool: 4, tests: 2, runs: 2, steps: 5, batch: 2...2)
        let fit = try RidgeFit.fit(log: log, runs: [], form: .linear, lambda: 0)
        #expect(fit.seen == [false, false, false, false])
        #expect(fit.a.storage.allSatisfy { $0 == 0 } && fit.b.storage.allSatisfy { $0 == 0 })
        #expect(fit.fittedOn.isEmpty && fit.metadata["rows"] == "0")
    }
}
