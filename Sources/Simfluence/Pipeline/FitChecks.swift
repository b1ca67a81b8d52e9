import Foundation

/// Checks made before expensive work and before writing results, so that a fit never crashes,
/// hangs, prints a wrong number silently or leaves a half-written file.
public enum FitChecks {
    /// Refuses, before any allocation, a fit that needs more memory than this process may use
    /// (``MemoryLimit``), with the method's estimate (``MethodDescriptor/memoryEstimate(_:)``)
    /// and what to change.
    public static func requireMemory(_ method: MethodName, _ request: FitRequest,
                                     environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let estimate = method.descriptor.memoryEstimate(request)
        try requireMemory(Double(estimate.bytes), what: "fitting \(method.name)", detail: estimate.detail,
                          advice: "use fewer --threads, fewer training examples, or a method with fewer unknowns (additive fits half as many as linear)",
                          environment: environment)
    }

    /// Refuses work that keeps `bytes` in memory (an estimate made before allocating it) when the
    /// process may not use that much; `what` names the work in the message.
    public static func requireMemory(_ bytes: Double, what: String, detail: String, advice: String,
                                     environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try MemoryLimit.require(bytes < 9e18 ? Int(bytes) : Int.max, budget: try MemoryLimit.current(environment: environment),
                                what: what, detail: detail, advice: advice)
    }

    /// Refuses a model whose parameters are not all finite (a fit that overflowed), naming the
    /// first test and training example affected; a stack's are its components'.
    public static func requireFiniteParameters(_ sim: FittedSimulator) throws {
        for part in sim.components { try requireFiniteParameters(part.simulator) }
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
    public static func requireFiniteRollout(_ losses: Matrix, simulator: FittedSimulator, columns: [Int], start: Int,
                                            source: String) throws {
        for (c, z) in columns.enumerated() {
            for r in 0..<losses.rows where !losses[r, c].isFinite {
                let previous = r > 0 ? " (it was \(losses[r - 1, c]) after step \(start + r - 1))" : ""
                throw SimfluenceError.invalidArgument(
                    "\(source): the simulation of test example '\(simulator.testIDs[z])' diverged: its loss is \(losses[r, c]) after step \(start + r)\(previous); the model's parameters make the rollout overflow, so nothing was written (check the model, or simulate a shorter curriculum)")
            }
        }
    }
}
