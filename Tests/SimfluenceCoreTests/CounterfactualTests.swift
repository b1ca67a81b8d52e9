import Testing
@testable import SimfluenceCore

/// Order groups, the order-aware Spearman, targeted edits and their scores, on hand cases.
@Suite struct CounterfactualTests {
    /// A run whose recorded losses start at 1 and stay there until the last step, which records `finals`.
    static func run(_ name: String, _ batches: [[Int]], finals: [Double]) -> TrainingRun {
        let start = Array(repeating: 1.0, count: finals.count)
        return TrainingRun(name: name, batches: batches, firstLossStep: 0,
                           losses: Matrix(rowArrays: Array(repeating: start, count: batches.count) + [finals]))
    }

    @Test func groupsAreMultisetsOfExamples() {
        let runs = [
            Self.run("a", [[1, 2], [2, 3]], finals: [0]),        // {1, 2, 2, 3}
            Self.run("b", [[2, 3, 2], [1]], finals: [0]),        // same multiset, other order and batching
            Self.run("c", [[1, 2], [3]], finals: [0]),           // 2 only once: another group
            Self.run("d", [[3], [2], [2], [1]], finals: [0]),    // same as a, b (unequal lengths)
            Self.run("e", [[1, 2], [3]], finals: [0]),           // same as c
            Self.run("f", [[4]], finals: [0]),
        ]
        #expect(OrderGroups.groups(runs) == [[0, 1, 3], [2, 4], [5]])
    }

    @Test func spearmanAcrossOrdersIsTheHandComputation() {
        // Group 1 (runs 0, 1, 2): true finals per test [z0, z1]; group 2 (runs 3, 4) has only 2 runs.
        let runs = [
            Self.run("a", [[1, 2]], finals: [3, 1]), Self.run("b", [[2, 1]], finals: [1, 2]),
            Self.run("c", [[1], [2]], finals: [2, 3]),
            Self.run("d", [[5]], finals: [1, 1]), Self.run("e", [[5]], finals: [2, 2]),
        ]
        func prediction(_ z0: Double, _ z1: Double, steps: Int = 1) -> Matrix {
            Matrix(rowArrays: Array(repeating: [1, 1], count: steps) + [[z0, z1]])
        }
        // z0: truth (3, 1, 2), predicted (30, 20, 10): ranks (3,1,2) vs (3,2,1): rho = 0.5.
        // z1: truth (1, 2, 3), predicted (1, 2, 3): rho = 1.
        let predictions = [prediction(30, 1), prediction(20, 2), prediction(10, 3, steps: 2), prediction(0, 0), prediction(0, 0)]
        #expect(OrderGroups.spearmanWithinGroups(predictions: predictions, runs: runs) == [0.5, 1])
        let scores = Scoring.score(method: "m", lambda: nil, predictions: predictions, heldOut: runs)
        #expect(scores.spearmanAcrossOrders == Summary(of: [0.5, 1]))
        #expect(abs(scores.spearmanAcrossOrders!.mean - 0.75) < 1e-15)
        // No group of 3: nil. An order-blind prediction (equal up to rounding): 0.
        #expect(Scoring.score(method: "m", lambda: nil, predictions: Array(predictions[3...]), heldOut: Array(runs[3...]))
            .spearmanAcrossOrders == nil)
        let blind = [prediction(2, 2), prediction(2 + 1e-15, 2), prediction(2 - 1e-15, 2, steps: 2)]
        #expect(OrderGroups.spearmanWithinGroups(predictions: blind, runs: Array(runs[0..<3])) == [0, 0])
    }

    @Test func editsAreMadeAsSpecified() {
        let reference = [[0, 1], [2, 3], [1, 4], [5]]
        // Drop re-batches and drops a final partial batch, as attribute does.
        #expect(CurriculumEdits.dropping([1], from: reference, batchSize: 2) == [[0, 2], [3, 4]])
        // Moving keeps every example's count (the final partial batch stays).
        let toEnd = CurriculumEdits.moving([1], in: reference, toStart: false, batchSize: 2)
        #expect(toEnd == [[0, 2], [3, 4], [5, 1], [1]])
        #expect(CurriculumEdits.moving([1, 5], in: reference, toStart: true, batchSize: 2) == [[1, 1], [5, 0], [2, 3], [4]])
        #expect(toEnd.joined().sorted() == reference.joined().sorted())
        // Duplicating doubles every occurrence in place.
        #expect(CurriculumEdits.duplicating([1], in: reference, batchSize: 2) == [[0, 1], [1, 2], [3, 1], [1, 4], [5]])
    }

    @Test func editsFollowTheSimulatorsAttribution() {
        // Additive simulator: example i's effect is B_i times its count; B = (-3, -1, 0, 2, 5, -2).
        let b: [Double] = [-3, -1, 0, 2, 5, -2]
        let sim = FittedSimulator(method: .additive, form: .additive, lambda: 0, trainIDs: (0..<6).map(String.init), testIDs: ["z"],
                                  a: Matrix(rows: 1, columns: 6), b: Matrix(rowArrays: [b]), seen: Array(repeating: true, count: 6),
                                  fittedOn: [])
        let reference = [[0], [1], [2], [3], [4], [5]]  // batch size 1: removal effects are exactly B_i
        let edits = TargetedEdit.edits(of: sim, test: 0, reference: reference, initial: 10, ks: [1, 2])
        #expect(edits.count == 2 * EditKind.allCases.count)
        let drop1 = edits.first { $0.kind == .dropHelpers && $0.k == 1 }!
        #expect(drop1.examples == [0] && drop1.batches == [[1], [2], [3], [4], [5]])
        let harm2 = edits.first { $0.kind == .dropHarmers && $0.k == 2 }!
        #expect(harm2.examples == [4, 3] && harm2.batches == [[0], [1], [2], [5]])
        let dup2 = edits.first { $0.kind == .duplicateHelpers && $0.k == 2 }!
        #expect(dup2.examples == [0, 5] && dup2.batches == [[0], [0], [1], [2], [3], [4], [5], [5]])
        let start2 = edits.first { $0.kind == .moveHelpersToStart && $0.k == 2 }!
        #expect(start2.batches == [[0], [5], [1], [2], [3], [4]])
    }

    @Test func editScoresOnAHandCase() {
        let s = EditScores(predicted: [1, -2, 0.5, 3], real: [2, -1, -0.5, 3])
        #expect(s.count == 4 && s.signAccuracy == 0.75)
        // Relative errors 0.5, 1, 2, 0: median (0.5 + 1) / 2.
        #expect(s.medianRelativeError == 0.75)
        #expect(abs(s.spearman - RankCorrelation.spearman([2, -1, -0.5, 3], [1, -2, 0.5, 3])) < 1e-15)
        #expect(EditScores(predicted: [], real: []).signAccuracy.isNaN)
    }

    @Test func orderShareIsWithinOverTotalVariance() {
        // Random runs: finals 0, 2 (variance 1). Groups: (1, 1) variance 0 and (0, 1) variance 0.25: share 0.125.
        let random = [Self.run("r1", [[0]], finals: [0]), Self.run("r2", [[1]], finals: [2])]
        let groups = [[Self.run("a", [[0]], finals: [1]), Self.run("b", [[0]], finals: [1])],
                      [Self.run("c", [[1]], finals: [0]), Self.run("d", [[1]], finals: [1])]]
        #expect(OrderGroups.orderShare(groups: groups, random: random) == 0.125)
    }

    /// A workload whose truth is the additive model: every step adds B_i(z) of its examples.
    struct PlantedAdditive: RetrainableWorkload {
        static let b: [[Double]] = [[-0.31, 0.17, -0.05, 0.23, -0.41, 0.09, 0.37, -0.13],
                                    [0.11, -0.29, 0.43, -0.07, 0.19, -0.37, 0.03, 0.27]]
        var trainIDs: [String] { (0..<8).map(String.init) }
        var testIDs: [String] { ["z0", "z1"] }
        var logMetadata: [String: String] { [:] }
        func curriculum(subset: Int, order: Int) -> [[Int]] {
            var g = SeededGenerator(seed: UInt64(subset))
            let chosen = Array((0..<8).shuffled(using: &g).prefix(5))
            var o = SeededGenerator(seed: UInt64(1000 + order))
            return chosen.shuffled(using: &o).map { [$0] }
        }
        func retrain(name: String, batches: [[Int]]) -> TrainingRun {
            var rows: [[Double]] = [[1, 1]]
            for batch in batches {
                let last = rows[rows.count - 1]
                rows.append((0..<2).map { z in last[z] + batch.reduce(0) { $0 + Self.b[z][$1] } })
            }
            return TrainingRun(name: name, batches: batches, firstLossStep: 0, losses: Matrix(rowArrays: rows))
        }
        func referenceGradients(threads: Int) throws -> GradientFeatures? { nil }
    }

    @Test func fitRunScoresAreTheMethodsOwnRunsInSample() throws {
        let design = CounterfactualDesign(fitRuns: 12, randomRuns: 6, orderSubsets: 1, orders: 3, editReferences: 1, editTests: 1,
                                          editSizes: [1])
        let result = try CounterfactualStudy.run(PlantedAdditive(), design: design, methods: [.additive],
                                                 inputs: MethodInputs(lambda: .fixed(1e-9)), threads: 2)
        let additive = try #require(result.scores.first { $0.method == "additive" })
        // The additive simulator recovers the planted model: its own runs are reproduced, so it
        // ranks them (fit-run LDS 1 up to runs that drew the same subset: their true finals tie,
        // their predictions differ by rounding), and the held-out ones too.
        #expect(additive.fitRuns.allStepsMSE.mean < 1e-12)
        #expect(try #require(additive.fitRuns.spearmanAcrossRuns?.mean) > 0.99)
        #expect(try #require(additive.random.spearmanAcrossRuns?.mean) > 0.99)
        // Scored on the fit runs, not the held-out ones: 12 trajectories per test example.
        #expect(additive.fitRuns.allStepsMSE.count == 12 * 2)
        // mean-run predicts one trajectory for every run: no ranking, on its own runs either.
        let meanRun = try #require(result.scores.first { $0.method == "mean-run" })
        #expect(meanRun.fitRuns.spearmanAcrossRuns?.mean == 0)
        #expect(meanRun.fitRuns.allStepsMSE.mean > 1e-3)
    }
}
