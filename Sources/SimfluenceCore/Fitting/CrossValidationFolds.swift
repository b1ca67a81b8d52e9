/// The whole-run folds every lambda search uses (``LambdaSearch``, the extended methods'
/// search, ``LagKernelFit``): K = min(folds, runs.count) folds, fold k holding the runs at
/// positions i with i % K == k, in the given order.
struct CrossValidationFolds {
    /// The runs split into folds.
    let runs: [TrainingRun]
    /// K, the number of folds used.
    let count: Int
    /// The grid's distinct lambdas, ascending.
    let grid: [Double]

    /// Checks a search request: at least 2 runs and 2 folds, a non-empty grid of finite lambdas >= 0.
    init(runs: [TrainingRun], folds: Int, grid: [Double]) throws {
        guard runs.count >= 2 else {
            throw SimfluenceError.invalidArgument(
                "choosing lambda by cross-validation needs at least 2 training runs (got \(runs.count)); pass a fixed lambda instead")
        }
        guard folds >= 2 else { throw SimfluenceError.invalidArgument("cross-validation needs at least 2 folds (got \(folds))") }
        guard !grid.isEmpty else { throw SimfluenceError.invalidArgument("the lambda grid is empty") }
        for lambda in grid where !(lambda.isFinite && lambda >= 0) {
            throw SimfluenceError.invalidArgument("every lambda in the grid must be a finite number >= 0 (got \(lambda))")
        }
        var sorted: [Double] = []
        for lambda in grid.sorted() where sorted.last != lambda { sorted.append(lambda) }
        self.runs = runs
        self.count = min(folds, runs.count)
        self.grid = sorted
    }

    /// The runs fitted in fold `fold`: every run outside it.
    func training(_ fold: Int) -> [TrainingRun] {
        runs.enumerated().filter { $0.offset % count != fold }.map(\.element)
    }

    /// The runs fold `fold` validates on: its runs that record at least one step to predict.
    func validation(_ fold: Int) -> [TrainingRun] {
        runs.enumerated().filter { $0.offset % count == fold && $0.element.losses.rows >= 2 }.map(\.element)
    }
}
