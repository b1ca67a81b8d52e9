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

    /// Every point the screen scores has the whole search's score, bit for bit; the points below
    /// it are NaN; the choice is the whole search's. The noise levels put the choices inside the
    /// grid, so the screen does cut the grid (checked: otherwise the test would prove nothing).
    @Test func screenedScoresAreTheWholeSearchs() throws {
        var cut = 0
        for (seed, noise) in [(UInt64(3), 0.05), (UInt64(5), 0.2), (UInt64(7), 0.5), (UInt64(9), 1.0)] {
            let log = Self.log(seed: seed, noise: noise)
            for form in [RecurrenceForm.linear, .multiplicative, .additive] {
                let whole = try Self.search(log, form, .off)
                let screened = try Self.search(log, form, .always(LambdaScreen(sampleSize: 8, margin: 2)))
                #expect(screened.chosen == whole.chosen, "seed \(seed) \(form): \(screened.chosen) vs \(whole.chosen)")
                #expect(screened.grid == whole.grid && screened.folds == whole.folds)
                for p in whole.scores.indices {
                    if p < screened.screened {
                        #expect(screened.scores[p].isNaN)
                    } else {
                        #expect(screened.scores[p] == whole.scores[p], "seed \(seed) \(form) point \(p)")
                    }
                }
                #expect(whole.screened == 0)
                if screened.screened > 0 { cut += 1 }
            }
        }
        #expect(cut >= 4, "the screen cut the grid in only \(cut) of 12 searches")
    }

    /// With no margin, a choice on the screen's edge is the rule, not the exception: the search
    /// then goes down the whole grid and returns exactly the whole search. Otherwise the choice
    /// lies above the sample's and still equals the whole search's.
    @Test func aChoiceOnTheEdgeSendsTheSearchDownTheWholeGrid() throws {
        var fellBack = 0, kept = 0
        for (seed, noise) in [(UInt64(3), 0.05), (UInt64(5), 0.2), (UInt64(7), 0.5), (UInt64(9), 1.0), (UInt64(11), 0.3)] {
            let log = Self.log(seed: seed, noise: noise)
            let whole = try Self.search(log, .linear, .off)
            let edge = try Self.search(log, .linear, .always(LambdaScreen(sampleSize: 8, margin: 0)))
            #expect(edge.chosen == whole.chosen, "seed \(seed): \(edge.chosen) vs \(whole.chosen)")
            if edge.screened == 0 {
                #expect(edge == whole, "seed \(seed)")
                if whole.chosen > whole.grid[0] { fellBack += 1 }
            } else {
                kept += 1
            }
        }
        // The sample alone (every test example in it): its choice is the whole search's, so
        // always on the edge.
        let log = Self.log(seed: 5, noise: 0.2)
        let whole = try Self.search(log, .linear, .off)
        let all = try Self.search(log, .linear, .always(LambdaScreen(sampleSize: 40, margin: 0)))
        #expect(whole.chosen > whole.grid[0] && all == whole)
        #expect(fellBack > 0 && kept > 0, "fell back \(fellBack), kept the screen \(kept)")
    }

    /// One thread or two: the same selection, bit for bit.
    @Test func screenIsIndependentOfThreads() throws {
        let log = Self.log(seed: 7, noise: 0.5)
        let screen = LambdaScreen.Policy.always(LambdaScreen(sampleSize: 8, margin: 2))
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
