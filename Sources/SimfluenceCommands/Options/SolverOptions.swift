import ArgumentParser
import Simfluence

/// How `fit` solves the ridge normal equations.
struct SolverOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Ridge solver: auto (dense exact Cholesky for up to \(RidgeFit.denseUnknownLimit) unknowns per test example, else conjugate gradients), dense, or cg. Only linear, additive, multiplicative and lag-kernel take cg; the other extended methods take auto or dense, the classic methods auto.",
        valueName: "auto|dense|cg"))
    var solver: SolverKind = .auto

    @Option(help: "Relative residual at which --solver cg stops (default \(RidgeFit.defaultIterativeTolerance)).")
    var cgTolerance: Double?

    func validate() throws {
        if let t = cgTolerance {
            guard solver == .cg else { throw ValidationError("--cg-tolerance needs --solver cg") }
            guard t.isFinite, t > 0 else { throw ValidationError("--cg-tolerance must be a number > 0") }
        }
    }

    /// The solver choice the flags ask for.
    var choice: RidgeSolverChoice {
        switch solver {
        case .auto: .automatic
        case .dense: .dense
        case .cg: .iterative(tolerance: cgTolerance ?? RidgeFit.defaultIterativeTolerance)
        }
    }
}
