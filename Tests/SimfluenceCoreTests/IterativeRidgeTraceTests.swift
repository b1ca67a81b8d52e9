import Dispatch
import Testing
@testable import SimfluenceCore

/// The CG solver's diagnostics go to an injected sink (the core prints nothing): one line per
/// solved block, from the same numbers the solve returns, and nothing else changes.
@Suite struct IterativeRidgeTraceTests {
    /// Lines collected from any thread.
    final class Lines: @unchecked Sendable {
        private let lock = DispatchSemaphore(value: 1)
        private var stored: [String] = []
        func append(_ line: String) { lock.wait(); stored.append(line); lock.signal() }
        var all: [String] { lock.wait(); defer { lock.signal() }; return stored }
    }

    @Test func injectedSinkReceivesOneLinePerBlock() throws {
        let log = FastSolverTests.log(tests: 5)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let lines = Lines()
        let traced = IterativeRidge(design: design, form: .linear, tolerance: 1e-12, traceSink: { lines.append($0) })
        let silent = IterativeRidge(design: design, form: .linear, tolerance: 1e-12, traceSink: nil)
        #expect(silent.traceSink == nil)
        let tests = [0, 1, 2, 3, 4]
        let ws1 = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
        let ws2 = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
        try traced.prepare(tests: tests, runs: log.runs, testIDs: log.testIDs, ws1)
        try silent.prepare(tests: tests, runs: log.runs, testIDs: log.testIDs, ws2)
        let r1 = try traced.solve(lambda: 0.5, ws1)
        let r2 = try silent.solve(lambda: 0.5, ws2)
        // Tracing changes nothing in the result.
        #expect(r1.iterations == r2.iterations && r1.residuals == r2.residuals && r1.restarts == r2.restarts)
        for i in 0..<(2 * design.activeCount) { #expect(ws1.x[i] == ws2.x[i]) }
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(line.hasPrefix("cg lambda=0.5 tests=0... iterations=\(r1.iterations) restarts=\(r1.restarts) residual="))
    }

    /// The process-wide hook is nil by default and is what new solvers report to while it is set.
    @Test func processWideHookIsReadWhenASolverIsCreated() throws {
        let log = FastSolverTests.log(tests: 3)
        let design = try RidgeDesign(log: log, runs: log.runs)
        let lines = Lines()
        let previous = IterativeRidge.trace
        IterativeRidge.trace = { lines.append($0) }
        let solver = IterativeRidge(design: design, form: .additive, tolerance: 1e-12)
        IterativeRidge.trace = previous
        #expect(solver.traceSink != nil)
        let ws = IterativeRidge.Workspace(m: design.activeCount, rows: design.rowCount)
        try solver.prepare(tests: [0, 1, 2], runs: log.runs, testIDs: log.testIDs, ws)
        _ = try solver.solve(lambda: 1, ws)
        #expect(lines.all.contains { $0.hasPrefix("cg lambda=1.0 tests=0...") })
    }
}
