import Testing
@testable import SimfluenceCore

/// The screen of the lambda search (``LambdaScreen``): forced on small planted logs, against the
/// whole search (every test example down the whole grid) on the same folds and solver.
@Suite struct LambdaScreenTests {
    static func log(seed: UInt64, noise: Double, tests: Int = 40) -> TrainingLog {
        let model = PlantedModel.random(pool: 60, tests: tests, batchSize: 4, seed: seed)
        return model.generateLog(PlantedModel.LogShape(runs: 12, sample: 40, batchSize: 4, epochs: 2, noise: noise),
                                 seed: seed + 1)
    }

    static func search(_ log: TrainingLog, _ form: RecurrenceForm, _ screen: LambdaScreen.Policy,
                       threads: Int = 2) throws -> LambdaSelection {
        try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: LambdaSearch.defaultGrid, folds: 5,
                                threads: threads, iterative: true, foldTolerance: nil, screen: screen)
    }

    /// `log` with only the test examples `tests`, in that order.
    static func restricted(_ log: TrainingLog, to tests: [Int]) -> TrainingLog {
        let runs = log.runs.map { run in
            var losses = Matrix(rows: run.losses.rows, columns: tests.count)
            for r in 0..<run.losses.rows { for (c, z) in tests.enumerated() { losses[r, c] = run.losses[r, z] } }
            return TrainingRun(name: run.name, batches: run.batches, firstLossStep: run.firstLossStep, losses: losses)
        }
        return TrainingLog(trainIDs: log.trainIDs, testIDs: tests.map { log.testIDs[$0] }, runs: runs)
    }

    /// The choice is the whole search's; every point the screen scores has the whole search's
    /// score bit for bit (the walk from the grid's top is the same wherever it stops); the points
    /// below are NaN. The noise levels put the choices inside the grid, and a sample of one test
    /// example often misleads, so the screen both stops one point below the sample's choice and
    /// goes further down (checked against the sample's own choice, from a search on the sample
    /// alone: otherwise the test would prove nothing).
    @Test func screenedChoiceIsTheWholeSearchs() throws {
        var cut = 0, lowered = 0, kept = 0
        for (seed, noise) in [(UInt64(3), 0.05), (UInt64(5), 0.2), (UInt64(7), 0.5), (UInt64(9), 1.0)] {
            let log = Self.log(seed: seed, noise: noise)
            for form in [RecurrenceForm.linear, .multiplicative, .additive] {
                let whole = try Self.search(log, form, .off)
                #expect(whole.screened == 0)
                for size in [1, 8] {
                    let screened = try Self.search(log, form, .always(LambdaScreen(sampleSize: size, margin: 1)))
                    let label = "seed \(seed) \(form) sample \(size)"
                    #expect(screened.chosen == whole.chosen, "\(label): \(screened.chosen) vs \(whole.chosen)")
                    #expect(screened.grid == whole.grid && screened.folds == whole.folds)
                    for p in whole.scores.indices {
                        if p < screened.screened {
                            #expect(screened.scores[p].isNaN, "\(label) point \(p)")
                        } else {
                            #expect(screened.scores[p] == whole.scores[p], "\(label) point \(p)")
                        }
                    }
                    let sample = ScoringSample.tests(Array(0..<log.testIDs.count), runs: log.runs, size: size)
                    let alone = try Self.search(Self.restricted(log, to: sample), form, .off)
                    let first = max(0, alone.grid.firstIndex(of: alone.chosen)! - 1)
                    #expect(screened.screened <= first, "\(label)")
                    if screened.screened > 0 { cut += 1 }
                    if screened.screened < first { lowered += 1 } else if first > 0 { kept += 1 }
                }
            }
        }
        #expect(cut >= 8 && lowered >= 2 && kept >= 2, "cut \(cut), lowered \(lowered), kept \(kept) of 24 searches")
    }

    /// The multi-shift folds of the additive and multiplicative forms (the loose large-system
    /// path, forced here): the screen solves the scored points from the lowest of them, so the
    /// scores agree with the whole search's to the folds' tolerance and the choice is the same.
    @Test func screenedShiftedFoldsPickTheWholeSearchsChoice() throws {
        var cut = 0
        for (seed, noise) in [(UInt64(5), 0.2), (UInt64(9), 1.0)] {
            let log = Self.log(seed: seed, noise: noise)
            for form in [RecurrenceForm.additive, .multiplicative] {
                func search(_ screen: LambdaScreen.Policy) throws -> LambdaSelection {
                    try LambdaSearch.select(log: log, runs: log.runs, form: form, grid: LambdaSearch.defaultGrid, folds: 5,
                                            threads: 2, iterative: true, foldTolerance: 1e-5, screen: screen)
                }
                let whole = try search(.off)
                let screened = try search(.always(LambdaScreen(sampleSize: 8, margin: 1)))
                #expect(screened.chosen == whole.chosen, "seed \(seed) \(form): \(screened.chosen) vs \(whole.chosen)")
                for p in whole.scores.indices where p >= screened.screened {
                    #expect(abs(screened.scores[p] - whole.scores[p]) <= 1e-2 * abs(whole.scores[p]), "seed \(seed) \(form) point \(p)")
                }
                if screened.screened > 0 { cut += 1 }
            }
        }
        #expect(cut >= 2, "the screen cut the grid in only \(cut) of 4 searches")
    }

    /// One thread or two: the same selection, bit for bit.
    @Test func screenIsIndependentOfThreads() throws {
        let log = Self.log(seed: 7, noise: 0.5)
        let screen = LambdaScreen.Policy.always(LambdaScreen(sampleSize: 8, margin: 1))
        let one = try Self.search(log, .linear, screen, threads: 1)
        let two = try Self.search(log, .linear, screen, threads: 2)
        #expect(one.chosen == two.chosen && one.screened == two.screened)
        #expect(zip(one.scores, two.scores).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    /// The default screens only large systems with many test examples: the paper-sized planted
    /// logs here are searched whole.
    @Test func smallSystemsAreNotScreened() throws {
        let log = Self.log(seed: 5, noise: 0.2, tests: LambdaScreen.standard.minimumTests)
        let auto = try Self.search(log, .linear, .automatic)
        #expect(auto == (try Self.search(log, .linear, .off)))
    }
}
