import Foundation
import ArgumentParser
import Simfluence

/// How a command chooses the ridge penalty.
struct LambdaOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Ridge penalty lambda: a number >= 0, or 'auto' to choose it by cross-validation.",
        discussion: "With 'auto', each grid value is scored by the all-steps MSE of rolled-out simulations of held-out folds of whole training runs, and the best is used.",
        valueName: "number|auto"))
    var lambda: String = "auto"

    @Option(help: "Folds for --lambda auto; each fold holds out whole training runs.")
    var folds: Int = 5

    @Option(help: ArgumentHelp("Comma-separated lambda grid for --lambda auto.", valueName: "x,y,..."))
    var lambdaGrid: String?

    /// Decades 10^-2 ... 10^3 (6 values): the grid of the commands that fit every method at once
    /// (`demo`, `counterfactuals`), which keeps them within about a minute on 2 cores.
    static let decades: [Double] = [1e-2, 1e-1, 1, 10, 100, 1000]

    /// The choice these options describe; with `--lambda auto` and no `--lambda-grid`, the
    /// cross-validation runs over `defaultGrid`.
    func choice(defaultGrid: [Double] = LambdaSearch.defaultGrid) throws -> LambdaChoice {
        if lambda.lowercased() == "auto" {
            guard folds >= 2 else { throw ValidationError("--folds must be at least 2 (got \(folds))") }
            var grid = defaultGrid
            if let text = lambdaGrid {
                grid = try text.split(separator: ",").map { part in
                    guard let x = Double(part.trimmingCharacters(in: .whitespaces)), x.isFinite, x >= 0 else {
                        throw ValidationError("--lambda-grid: '\(part)' is not a number >= 0")
                    }
                    return x
                }.sorted()
                guard !grid.isEmpty else { throw ValidationError("--lambda-grid is empty") }
            }
            return .auto(grid: grid, folds: folds)
        }
        guard let x = Double(lambda), x.isFinite, x >= 0 else {
            throw ValidationError("--lambda must be a number >= 0 or 'auto' (got '\(lambda)')")
        }
        return .fixed(x)
    }
}

/// Options every computing command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores). Results are identical for any count.")
    var threads: Int?

    @Flag(help: "Print no progress on standard error (results and errors still print).")
    var quiet = false

    var threadCount: Int { max(1, threads ?? Parallel.defaultThreads) }
}
