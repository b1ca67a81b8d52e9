import Testing
@testable import SimfluenceCore

@Suite struct EvaluationBaselinesTests {
    @Test func persistenceRepeatsStartingLoss() {
        let r0 = TrainingRun(name: "a", batches: [[0], [1]], firstLossStep: 0,
                             losses: Matrix(rowArrays: [[3, 4], [2, 3], [1, 2]]))
        let r1 = TrainingRun(name: "b", batches: [[0], [1]], firstLossStep: 1,
                             losses: Matrix(rowArrays: [[5, 6], [4, 5]]))
        let p = Baselines.persistence([r0, r1])
        #expect(p == [Matrix(rowArrays: [[3, 4], [3, 4], [3, 4]]), Matrix(rowArrays: [[5, 6], [5, 6]])])
    }

    @Test func meanRunAlignsByStepNumber() {
        // Training runs (one test example):
        //   t1: from step 0, 2 steps: step0 10, step1 8, step2 6
        //   t2: from step 1, 3 steps: step1 4, step2 2, step3 1
        //   t3: from step 0, 1 step:  step0 20, step1 12
        // Means by step: step0 (10+20)/2 = 15; step1 (8+4+12)/3 = 8; step2 (6+2)/2 = 4; step3 1 (t2 only);
        // step >= 4: carried forward, 1.
        let t1 = TrainingRun(name: "t1", batches: [[0], [0]], firstLossStep: 0, losses: Matrix(rowArrays: [[10], [8], [6]]))
        let t2 = TrainingRun(name: "t2", batches: [[0], [0], [0]], firstLossStep: 1, losses: Matrix(rowArrays: [[4], [2], [1]]))
        let t3 = TrainingRun(name: "t3", batches: [[0]], firstLossStep: 0, losses: Matrix(rowArrays: [[20], [12]]))
        // Held-out h0 from step 0, 5 steps: rows are steps 0..5 -> [own 9, 8, 4, 1, 1, 1].
        let h0 = TrainingRun(name: "h0", batches: Array(repeating: [0], count: 5), firstLossStep: 0,
                             losses: Matrix(rows: 6, columns: 1, repeating: 9))
        // Held-out h1 from step 1, 3 steps: rows are steps 1..3 -> [own 7, 4, 1].
        let h1 = TrainingRun(name: "h1", batches: [[0], [0], [0]], firstLossStep: 1,
                             losses: Matrix(rows: 3, columns: 1, repeating: 7))
        let p = Baselines.meanRun(training: [t1, t2, t3], heldOut: [h0, h1])
        #expect(p[0].column(0) == [9, 8, 4, 1, 1, 1])
        #expect(p[1].column(0) == [7, 4, 1])
    }

    @Test func meanRunPerColumn() {
        let t1 = TrainingRun(name: "t1", batches: [[0]], firstLossStep: 0, losses: Matrix(rowArrays: [[1, 2], [3, 4]]))
        let t2 = TrainingRun(name: "t2", batches: [[0]], firstLossStep: 0, losses: Matrix(rowArrays: [[1, 2], [5, 8]]))
        let h = TrainingRun(name: "h", batches: [[0], [0]], firstLossStep: 0, losses: Matrix(rowArrays: [[0.5, 0.25], [0, 0], [0, 0]]))
        // Step 1: [(3+5)/2, (4+8)/2] = [4, 6]; step 2 beyond both runs: carried [4, 6].
        #expect(Baselines.meanRun(training: [t1, t2], heldOut: [h]) == [Matrix(rowArrays: [[0.5, 0.25], [4, 6], [4, 6]])])
    }

    @Test func meanRunWithoutTrainingFallsBackToPersistence() {
        let h = TrainingRun(name: "h", batches: [[0], [0]], firstLossStep: 1, losses: Matrix(rowArrays: [[3], [1]]))
        #expect(Baselines.meanRun(training: [], heldOut: [h]) == Baselines.persistence([h]))
        // Training runs that only recorded step 0: that mean is carried to every later step.
        let t = TrainingRun(name: "t", batches: [], firstLossStep: 0, losses: Matrix(rowArrays: [[5]]))
        #expect(Baselines.meanRun(training: [t], heldOut: [h])[0].column(0) == [3, 5])
    }
}
