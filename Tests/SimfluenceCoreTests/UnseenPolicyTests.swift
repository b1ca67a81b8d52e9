import Testing
@testable import SimfluenceCore

/// What an example no fitted run contained does in a simulation (issue 14, H).
@Suite struct UnseenPolicyTests {
    /// A log from a planted linear model in which the training runs never use examples 0-3 and
    /// the held-out runs do: under `.mean` they act as the average example, which the planted
    /// A_i ~ 1/b, B_i small make close to right; under `.zero` each unseen example removes its
    /// share of alpha, and the loss collapses.
    @Test func meanActsAsATypicalExampleWhereZeroDrifts() throws {
        let planted = PlantedModel.random(pool: 24, tests: 5, batchSize: 4, seed: 41)
        var rng = SeededGenerator(seed: 42)
        // Training runs draw 16 of examples 4...23; held-out runs 16 of all 24.
        func run(_ name: String, from pool: [Int]) -> TrainingRun {
            var order = pool
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let batches = (0..<4).map { Array(order[(4 * $0)..<(4 * $0 + 4)]) } + (0..<4).map { Array(order[(4 * $0 + 2)..<(4 * $0 + 6)]) }
            return TrainingRun(name: name, batches: batches, firstLossStep: 0, losses: planted.rollout(batches))
        }
        let training = (1...16).map { run("train\($0)", from: Array(4..<24)) }
        let heldOut = (1...4).map { run("held\($0)", from: Array(0..<24)) }
        let log = TrainingLog(trainIDs: (0..<24).map { "e\($0)" }, testIDs: (0..<5).map { "t\($0)" }, runs: training + heldOut)
        try #require(heldOut.allSatisfy { $0.batches.joined().contains { $0 < 4 } })
        let fit = try MethodFitting.fit(.linear, log: log, runs: training, lambda: .fixed(1e-3))
        #expect(fit.simulator.seen[0...3].allSatisfy { !$0 })
        func mse(_ policy: UnseenPolicy) throws -> Double {
            let predictions = try HeldOutSimulation.predict(fit.simulator, heldOut: heldOut, unseen: policy)
            return Scoring.score(method: "linear", lambda: 1e-3, predictions: predictions, heldOut: heldOut).allStepsMSE.mean
        }
        let mean = try mse(.mean), zero = try mse(.zero)
        #expect(mean < 0.05 * zero, "mean \(mean), zero \(zero)")
        // The typical example's parameters are the means over the seen examples.
        let typical = fit.simulator.addingTypicalExample()
        let seen = (0..<24).filter { fit.simulator.seen[$0] }
        for z in 0..<5 {
            let a = seen.map { fit.simulator.a[z, $0] }.reduce(0, +) / Double(seen.count)
            #expect(abs(typical.a[z, 24] - a) < 1e-15)
        }
    }

    @Test func planKeepsTheSimulatorWhenNothingIsUnseen() throws {
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 1, trainIDs: ["a", "b"], testIDs: ["z"],
                                  a: Matrix(rowArrays: [[0.5, 0.3]]), b: Matrix(rowArrays: [[0.1, -0.1]]),
                                  seen: [true, true], fittedOn: [])
        let plain = try sim.plan([["a", "b"]], unseen: .mean, source: "c")
        #expect(plain.simulator == sim && plain.batches == [[0, 1]])
        let typical = try sim.plan([["a", "x"]], unseen: .mean, source: "c")
        #expect(typical.batches == [[0, 2]] && typical.simulator.a[0, 2] == 0.4 && typical.simulator.b[0, 2] == 0)
        // A batch of two unseen examples keeps alpha at its usual size.
        let out = typical.simulator.simulate(try typical.simulator.resolve([["x", "y"]], unseen: .mean, source: "c"), initial: [2.5])
        #expect(abs(out[1, 0] - 2.5 * 0.8) < 1e-12)
    }
}
