/// The test examples on which cross-validation scores the carry-over decay of linear-carry on
/// large systems, a choice that all test examples share: a cross-validation score is a mean over
/// (validation run, test example) trajectories, and a sample of test examples spread over their
/// loss scales estimates it well enough for the coarse decay grid, whose scores differ by
/// factors (``ExtendedConfiguration/defaultCarryGrid``).
///
/// Used only above ``LambdaSearch/exactCrossValidationLimit`` unknowns per test example
/// (``ExtendedFit``), where the sample makes each fold cost a fraction of a fit (16 of 200 test
/// examples on the medium benchmark workload), enough to solve the folds to the fit's own
/// tolerance instead of the loose 1e-5 of ``ExtendedFit/crossValidationTolerance(_:unknowns:)``,
/// which distorts the scores of high decays. Small systems score every test example. Tests check
/// that the choice equals exact K-fold's (dense, every test example) on planted logs
/// (`CrossValidationToleranceTests`). Lambda is not chosen on a sample alone: on planted logs
/// with 40 test examples a 16-example sample picked a neighbouring grid point in 2 of 9 cases
/// (lambda's CV curve is flat near its minimum); a sample only decides how far down the grid
/// every test example is scored (``LambdaScreen``).
enum ScoringSample {
    /// Test examples in a sample: two blocks of the conjugate-gradient solver's 8 lanes.
    static let size = 16

    /// `size` of `tests` (all of them when there are no more), spread evenly over
    /// ``IterativeRidge/convergenceOrder(tests:runs:)``, the order of the test examples' loss
    /// scale (sum of squared losses over the log), so that small- and large-loss test examples
    /// both count; returned in increasing order. Deterministic: no randomness, no dependence on
    /// threads.
    static func tests(_ tests: [Int], runs: [TrainingRun], size: Int = size) -> [Int] {
        guard tests.count > size, size > 0 else { return tests }
        let order = IterativeRidge.convergenceOrder(tests: tests, runs: runs)
        return (0..<size).map { k in tests[order[(2 * k + 1) * tests.count / (2 * size)]] }.sorted()
    }
}
