import Testing
@testable import SimfluenceCore

@Suite struct EvaluationScoringTests {
    // Run A: recorded from step 0, 2 steps (rows = steps 0, 1, 2). Run B: recorded from step 1,
    // 3 steps (rows = steps 1, 2, 3). Two test examples (columns z0, z1). All values are dyadic so
    // every hand-computed number below is exact in binary floating point.
    static let runA = TrainingRun(name: "A", batches: [[0], [0]], firstLossStep: 0,
                                  losses: Matrix(rowArrays: [[1, 2], [0.75, 1.5], [0.5, 1.0]]))
    static let predA = Matrix(rowArrays: [[1, 2], [1.0, 1.5], [0.0, 1.5]])
    static let runB = TrainingRun(name: "B", batches: [[0], [0], [0]], firstLossStep: 1,
                                  losses: Matrix(rowArrays: [[2, 1], [1.5, 1.0], [1.0, 0.5]]))
    static let predB = Matrix(rowArrays: [[2, 1], [2.0, 0.5], [2.0, 2.5]])

    @Test func twoRunsTwoTestsByHand() {
        let s = Scoring.score(method: "m", lambda: 0.5, predictions: [Self.predA, Self.predB],
                              heldOut: [Self.runA, Self.runB])
        #expect(s.method == "m" && s.lambda == 0.5)
        // Errors (pred - true) at rows 1, 2:
        //   A z0: 0.25, -0.5 -> MSE (0.0625 + 0.25)/2 = 0.15625, MAE 0.375, final SE 0.25
        //   A z1: 0,    0.5  -> MSE 0.125,  MAE 0.25, final SE 0.25
        //   B z0: 0.5,  1.0  -> MSE 0.625,  MAE 0.75, final SE 1
        //   B z1: -0.5, 2.0  -> MSE 2.125,  MAE 1.25, final SE 4
        // MSE: mean 3.03125/4 = 0.7578125; deviations -0.6015625, -0.6328125, -0.1328125, 1.3671875;
        //   population variance (0.36187744140625 + 0.40045166015625 + 0.01763916015625 + 1.86920166015625)/4
        //   = 0.66229248046875.
        #expect(s.allStepsMSE.mean == 0.7578125 && s.allStepsMSE.count == 4)
        #expect(abs(s.allStepsMSE.std - 0.66229248046875.squareRoot()) < 1e-15)
        // MAE: mean 2.625/4 = 0.65625; deviations -0.28125, -0.40625, 0.09375, 0.59375;
        //   variance (0.0791015625 + 0.1650390625 + 0.0087890625 + 0.3525390625)/4 = 0.1513671875.
        #expect(s.allStepsMAE.mean == 0.65625 && s.allStepsMAE.count == 4)
        #expect(abs(s.allStepsMAE.std - 0.1513671875.squareRoot()) < 1e-15)
        // Final SE: mean 5.5/4 = 1.375; deviations -1.125, -1.125, -0.375, 2.625;
        //   variance (1.265625 + 1.265625 + 0.140625 + 6.890625)/4 = 2.390625.
        #expect(s.finalStepMSE.mean == 1.375 && s.finalStepMSE.count == 4)
        #expect(abs(s.finalStepMSE.std - 2.390625.squareRoot()) < 1e-15)
        // Spearman across examples: run A true finals [0.5, 1.0], predicted [0.0, 1.5] -> +1;
        // run B true [1.0, 0.5], predicted [2.0, 2.5] -> -1. Mean 0, population std 1.
        #expect(s.spearmanAcrossExamples == Summary(mean: 0, std: 1, count: 2))
        // Only 2 held-out runs: no Spearman across runs.
        #expect(s.spearmanAcrossRuns == nil)
    }

    @Test func spearmanAcrossRunsWithThreeRuns() {
        let runC = TrainingRun(name: "C", batches: [[0], [0]], firstLossStep: 0,
                               losses: Matrix(rowArrays: [[1, 1], [1, 1], [0.25, 2.0]]))
        let predC = Matrix(rowArrays: [[1, 1], [1, 1], [0.5, 0.25]])
        let s = Scoring.score(method: "m", lambda: nil, predictions: [Self.predA, Self.predB, predC],
                              heldOut: [Self.runA, Self.runB, runC])
        // z0: true finals (A, B, C) = [0.5, 1.0, 0.25] -> ranks [2, 3, 1];
        //     predicted [0.0, 2.0, 0.5] -> ranks [1, 3, 2]; d = [1, 0, -1], rho = 1 - 6*2/(3*8) = 0.5.
        // z1: true [1.0, 0.5, 2.0] -> ranks [2, 1, 3]; predicted [1.5, 2.5, 0.25] -> ranks [2, 3, 1];
        //     d = [0, -2, 2], rho = 1 - 6*8/24 = -1.
        // Mean (0.5 - 1)/2 = -0.25; deviations 0.75, -0.75 -> std 0.75.
        let across = try! #require(s.spearmanAcrossRuns)
        #expect(across.count == 2 && abs(across.mean + 0.25) < 1e-15 && abs(across.std - 0.75) < 1e-15)
        // Across examples gains run C: true [0.25, 2.0], predicted [0.5, 0.25] -> -1; runs give [1, -1, -1].
        #expect(s.spearmanAcrossExamples.count == 3 && abs(s.spearmanAcrossExamples.mean + 1.0 / 3) < 1e-15)
    }

    @Test func perfectPredictionScoresZeroError() {
        let s = Scoring.score(method: "oracle", lambda: nil, predictions: [Self.runA.losses, Self.runB.losses],
                              heldOut: [Self.runA, Self.runB])
        #expect(s.allStepsMSE == Summary(mean: 0, std: 0, count: 4))
        #expect(s.allStepsMAE == Summary(mean: 0, std: 0, count: 4))
        #expect(s.finalStepMSE == Summary(mean: 0, std: 0, count: 4))
        #expect(s.spearmanAcrossExamples == Summary(mean: 1, std: 0, count: 2))
    }

    @Test func divergedPredictionsAreInfiniteErrorAndNaNRanks() {
        // A z0 diverges to +inf at row 1 then NaN at the last row (inf * 0, say).
        let bad = Matrix(rowArrays: [[1, 2], [.infinity, 1.5], [.nan, 1.5]])
        let s = Scoring.score(method: "m", lambda: 1, predictions: [bad, Self.predB], heldOut: [Self.runA, Self.runB])
        #expect(s.allStepsMSE.mean == .infinity && s.allStepsMSE.std == .infinity)
        #expect(s.allStepsMAE.mean == .infinity)
        #expect(s.finalStepMSE.mean == .infinity)
        #expect(s.spearmanAcrossExamples.mean.isNaN && s.spearmanAcrossExamples.count == 2)
        // An infinite value only at an intermediate row still makes the trajectory's MSE infinite,
        // while the final-step error (finite last row) stays finite.
        let midOnly = Matrix(rowArrays: [[1, 2], [-.infinity, 1.5], [0.0, 1.5]])
        let t = Scoring.score(method: "m", lambda: 1, predictions: [midOnly], heldOut: [Self.runA])
        #expect(t.allStepsMSE.mean == .infinity && t.finalStepMSE.mean.isFinite)
        #expect(t.spearmanAcrossExamples == Summary(mean: 1, std: 0, count: 1))
    }

    @Test func singleTestExampleHasNoAcrossExampleSpearman() {
        let run = TrainingRun(name: "r", batches: [[0]], firstLossStep: 0, losses: Matrix(rowArrays: [[1], [0.5]]))
        let s = Scoring.score(method: "m", lambda: nil, predictions: [Matrix(rowArrays: [[1], [1]])], heldOut: [run])
        #expect(s.spearmanAcrossExamples.count == 0 && s.spearmanAcrossExamples.mean.isNaN)
        #expect(s.allStepsMSE == Summary(mean: 0.25, std: 0, count: 1))
    }
}
