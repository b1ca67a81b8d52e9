import Testing
@testable import SimfluenceCore

@Suite struct SimulatorTests {
    @Test func linearRecurrenceByHand() {
        // Two training examples, one test example. A = [0.5, 0.3], B = [0.1, -0.2].
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0, trainIDs: ["x", "y"], testIDs: ["z"],
                                  a: Matrix(rowArrays: [[0.5, 0.3]]), b: Matrix(rowArrays: [[0.1, -0.2]]),
                                  seen: [true, true], fittedOn: [])
        let out = sim.simulate([[0, 1], [1]], initial: [2.0])
        // step 1: (0.5+0.3)*2 + (0.1-0.2) = 1.5; step 2: 0.3*1.5 - 0.2 = 0.25
        let got = out.column(0)
        #expect(got[0] == 2.0 && abs(got[1] - 1.5) < 1e-15 && abs(got[2] - 0.25) < 1e-15)
    }

    @Test func additiveAndMultiplicativeForms() {
        let a = Matrix(rowArrays: [[0.9, 0.8]]), b = Matrix(rowArrays: [[-0.1, 0.05]])
        let add = FittedSimulator(method: .additive, form: .additive, lambda: 0, trainIDs: ["x", "y"], testIDs: ["z"],
                                  a: a, b: b, seen: [true, true], fittedOn: [])
        #expect(add.simulate([[0, 1], [0]], initial: [1.0]).column(0) == [1.0, 0.95, 0.85])
        let mul = FittedSimulator(method: .multiplicative, form: .multiplicative, lambda: 0, trainIDs: ["x", "y"],
                                  testIDs: ["z"], a: a, b: b, seen: [true, true], fittedOn: [])
        let m = mul.simulate([[0], [1]], initial: [1.0]).column(0)
        #expect(abs(m[2] - 0.72) < 1e-15)
    }

    @Test func unseenIdsErrorOrDrop() throws {
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0, trainIDs: ["x", "y"], testIDs: ["z"],
                                  a: Matrix(rows: 1, columns: 2), b: Matrix(rows: 1, columns: 2),
                                  seen: [true, false], fittedOn: [])
        #expect(throws: SimfluenceError.unseenExample(id: "y", step: 2, source: "c.json")) {
            try sim.resolve([["x"], ["x", "y"]], unseen: .error, source: "c.json")
        }
        #expect(try sim.resolve([["x"], ["q", "x"]], unseen: .zero, source: "c") == [[0], [0]])
    }

    @Test func naturalOrderSortsNumbersNumerically() {
        let names = ["run10", "run2", "run1", "run02", "a", "run"]
        #expect(names.sorted(by: naturalOrder) == ["a", "run", "run1", "run02", "run2", "run10"])
    }
}
