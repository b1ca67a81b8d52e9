import Simfluence

/// Checks the commands make before expensive work and before writing results (issue 7: never
/// crash, hang, print a wrong number silently, or leave a half-written file).
enum Robustness {
    /// Refuses, before any allocation, a fit of `method` that needs more memory than this process
    /// may use (see ``MemoryLimit``), with the estimate and what to change.
    /// Classic methods (gradient dot products, no ridge solve) are not estimated.
    static func requireFitMemory(_ name: MethodName, log: TrainingLog, runs: [TrainingRun],
                                 lambda: LambdaChoice, threads: Int, solver: RidgeSolverChoice = .automatic) throws {
        guard case .simfluence(let method) = name else { return }
        let lambdas: Int, fixed: Double?
        switch lambda {
        case .fixed(let value): lambdas = 1; fixed = value
        case .auto(let grid, _): lambdas = grid.count; fixed = nil
        }
        let estimate = FitMemory.estimate(log: log, runs: runs, form: method.form, lambdas: lambdas, threads: threads,
                                          lambda: fixed, solver: solver)
        try MemoryLimit.require(estimate.bytes, budget: try MemoryLimit.current(), what: "fitting \(method.rawValue)",
                                detail: estimate.detail,
                                advice: "use fewer --threads, fewer training examples, or the additive method (half the unknowns, no per-test factorisation)")
    }

    /// Refuses to write a model whose parameters are not all finite (a fit that overflowed), naming
    /// the first test and training example affected.
    static func requireFiniteParameters(_ sim: FittedSimulator) throws {
        for (name, m) in [("A", sim.a), ("B", sim.b)] {
            if let k = m.storage.firstIndex(where: { !$0.isFinite }) {
                let z = k / max(1, m.columns), i = k % max(1, m.columns)
                throw SimfluenceError.invalidArgument(
                    "the fit produced a non-finite parameter (\(name) = \(m.storage[k]) for test example '\(sim.testIDs[z])', training example '\(sim.trainIDs[i])'), so no model was written; the losses may be too large or badly scaled, try a larger --lambda")
            }
        }
    }

    /// Refuses simulated trajectories that overflowed: names the first test example (in output
    /// order) and the first step where its rollout stopped being finite. `columns` maps the
    /// matrix's columns to the simulator's test examples; row r is step `start + r`.
    static func requireFiniteRollout(_ losses: Matrix, simulator: FittedSimulator, columns: [Int], start: Int, source: String) throws {
        for (c, z) in columns.enumerated() {
            for r in 0..<losses.rows where !losses[r, c].isFinite {
                let previous = r > 0 ? " (it was \(losses[r - 1, c]) after step \(start + r - 1))" : ""
                throw SimfluenceError.invalidArgument(
                    "\(source): the simulation of test example '\(simulator.testIDs[z])' diverged: its loss is \(losses[r, c]) after step \(start + r)\(previous); the model's parameters make the rollout overflow, so nothing was written (check the model, or simulate a shorter curriculum)")
            }
        }
    }
}
