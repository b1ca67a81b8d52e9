import Testing
@testable import SimfluenceCore

@Suite struct EvaluationHeldOutSimulationTests {
    // Three training examples, two test examples.
    static let sim = FittedSimulator(
        method: .linear, form: .linear, lambda: 0.1, trainIDs: ["x", "y", "w"], testIDs: ["z0", "z1"],
        a: Matrix(rowArrays: [[0.5, 0.25, 0.0], [1.0, 0.5, 0.0]]),
        b: Matrix(rowArrays: [[0.25, -0.5, 0.0], [0.0, 0.125, 0.0]]),
        seen: [true, true, false], fittedOn: ["t1"])

    @Test func matchesSimulateFromFirstRecordedLoss() throws {
        // Recorded from step 1: the step-1 batch [2] (unseen!) is not applied and not checked.
        let run = TrainingRun(name: "h1", batches: [[2], [0, 1], [1]], firstLossStep: 1,
                              losses: Matrix(rowArrays: [[2, 4], [0, 0], [0, 0]]))
        let p = try HeldOutSimulation.predict(Self.sim, heldOut: [run], unseen: .error)
        // z0: step 2: (0.5+0.25)*2 + (0.25-0.5) = 1.25; step 3: 0.25*1.25 - 0.5 = -0.1875
        // z1: step 2: (1+0.5)*4 + 0.125 = 6.125; step 3: 0.5*6.125 + 0.125 = 3.1875
        #expect(p == [Matrix(rowArrays: [[2, 4], [1.25, 6.125], [-0.1875, 3.1875]])])
        #expect(p[0] == Self.sim.simulate([[0, 1], [1]], initial: [2, 4]))
    }

    @Test func shapesFollowEachRun() throws {
        let r0 = TrainingRun(name: "a", batches: [[0], [1]], firstLossStep: 0, losses: Matrix(rows: 3, columns: 2, repeating: 1))
        let r1 = TrainingRun(name: "b", batches: [[0]], firstLossStep: 1, losses: Matrix(rows: 1, columns: 2, repeating: 1))
        let p = try HeldOutSimulation.predict(Self.sim, heldOut: [r0, r1], unseen: .error)
        #expect(p.map(\.rows) == [3, 1] && p.map(\.columns) == [2, 2])
    }

    @Test func unseenErrorVersusZero() throws {
        let run = TrainingRun(name: "run7", batches: [[0], [0, 2]], firstLossStep: 0,
                              losses: Matrix(rowArrays: [[1, 1], [0, 0], [0, 0]]))
        #expect(throws: SimfluenceError.unseenExample(id: "w", step: 2, source: "run7")) {
            try HeldOutSimulation.predict(Self.sim, heldOut: [run], unseen: .error)
        }
        let p = try HeldOutSimulation.predict(Self.sim, heldOut: [run], unseen: .zero)
        #expect(p == [Self.sim.simulate([[0], [0]], initial: [1, 1])])
        // Dropping is not the same as applying the unseen example's (here non-zero) parameters.
        var loud = Self.sim
        loud.a[0, 2] = 3
        let q = try HeldOutSimulation.predict(loud, heldOut: [run], unseen: .zero)
        #expect(q == p)
    }

    @Test func mismatchedRunsAreInvalidArguments() {
        let wide = TrainingRun(name: "w", batches: [[0]], firstLossStep: 0, losses: Matrix(rows: 2, columns: 3))
        #expect(throws: SimfluenceError.self) { try HeldOutSimulation.predict(Self.sim, heldOut: [wide], unseen: .zero) }
        let outOfRange = TrainingRun(name: "o", batches: [[5]], firstLossStep: 0, losses: Matrix(rows: 2, columns: 2))
        #expect(throws: SimfluenceError.self) { try HeldOutSimulation.predict(Self.sim, heldOut: [outOfRange], unseen: .zero) }
    }
}
