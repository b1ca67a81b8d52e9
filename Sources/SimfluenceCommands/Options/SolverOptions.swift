import ArgumentParser
import Simfluence

/// How `fit` solves the ridge normal equations.
struct SolverOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Ridge solver: auto (dense exact Cholesky for up to \(RidgeFit.denseUnknownLimit) unknowns per test example, else conjugate gradients), dense, or cg.",
        valueName: "auto|dense|cg"))
    var solver: String = "auto"

    @Option(help: "Relative residual at which --solver cg stops (default \(RidgeFit.defaultIterativeTolerance)).")
    var cgTolerance: Double?

    func choice() throws -> RidgeSolverChoice {
        switch solver.lowercased() {
        case "auto":
            if cgTolerance != nil { throw ValidationError("--cg-tolerance needs --solver cg") }
            return .automatic
        case "dense": return .dense
        case "cg", "iterative":
            let t = cgTolerance ?? RidgeFit.defaultIterativeTolerance
            guard t.isFinite, t > 0 else { throw ValidationError("--cg-tolerance must be a number > 0") }
            return .iterative(tolerance: t)
        default: throw ValidationError("--solver must be auto, dense or cg (got '\(solver)')")
        }
    }
}
