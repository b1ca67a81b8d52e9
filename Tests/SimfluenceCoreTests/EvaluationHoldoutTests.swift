import Testing
@testable import SimfluenceCore

@Suite struct EvaluationHoldoutTests {
    static func run(_ name: String, rows: Int = 2) -> TrainingRun {
        TrainingRun(name: name, batches: Array(repeating: [0], count: rows - 1), firstLossStep: 0,
                    losses: Matrix(rows: rows, columns: 1, repeating: 1))
    }

    static func log(_ names: [String]) -> TrainingLog {
        // Logs keep runs in natural name order; build one the way a reader would.
        TrainingLog(trainIDs: ["x"], testIDs: ["z"], runs: names.sorted(by: naturalOrder).map { run($0) })
    }

    @Test func lastKInNaturalOrder() throws {
        let log = Self.log(["run10", "run2", "run1", "run3"])
        #expect(log.runs.map(\.name) == ["run1", "run2", "run3", "run10"])
        let split = try HoldoutSplit.last(2, of: log)
        #expect(split.training.map(\.name) == ["run1", "run2"])
        #expect(split.heldOut.map(\.name) == ["run3", "run10"])
        #expect(try HoldoutSplit.last(3, of: log).training.map(\.name) == ["run1"])
    }

    @Test func lastKErrors() {
        let log = Self.log(["run1", "run2", "run3"])
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.last(0, of: log) }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.last(-1, of: log) }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.last(3, of: log) }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.last(4, of: log) }
    }

    @Test func namedKeepsLogOrder() throws {
        let log = Self.log(["run1", "run2", "run10", "run11"])
        let split = try HoldoutSplit.named(["run11", "run2", "run2"], of: log)
        #expect(split.heldOut.map(\.name) == ["run2", "run11"])
        #expect(split.training.map(\.name) == ["run1", "run10"])
    }

    @Test func namedErrors() {
        let log = Self.log(["run1", "run2"])
        do {
            _ = try HoldoutSplit.named(["run3", "run1"], of: log)
            Issue.record("unknown name accepted")
        } catch let SimfluenceError.invalidArgument(message) {
            #expect(message.contains("'run3'") && message.contains("run1, run2"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.named([], of: log) }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.named(["run1", "run2"], of: log) }
    }

    @Test func heldOutRunsNeedTwoRows() throws {
        let log = TrainingLog(trainIDs: ["x"], testIDs: ["z"], runs: [Self.run("run1"), Self.run("run2", rows: 1)])
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.last(1, of: log) }
        #expect(throws: SimfluenceError.self) { try HoldoutSplit.named(["run2"], of: log) }
        // A one-row run may still be a training run.
        #expect(try HoldoutSplit.named(["run1"], of: log).training.map(\.name) == ["run2"])
    }
}
