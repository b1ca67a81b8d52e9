/// The screen of ``LambdaSearch`` on large systems: how far down the lambda grid every test
/// example's folds are solved.
///
/// A cross-validated lambda costs one CG walk down the grid per fold and block of test examples,
/// and the walk costs most at and below the chosen lambda, where CG needs the most iterations (on
/// the large benchmark workload, folds walked down the whole grid took about 23 minutes where the
/// choice is 10). The screen first cross-validates the whole grid on a sample of test examples
/// (``ScoringSample``, spread over their loss scales), then walks the other test examples from
/// the top of the grid down to ``margin`` points below the sample's choice. While the best point
/// over all test examples is the lowest one scored (and the grid goes on below it), they walk
/// again, from the top, ``margin`` points further down. The sample's own solves count in the
/// scores (a test example's solve does not depend on which others are solved beside it), and a
/// walk from the top is the same wherever it stops, so every reported score is bit for bit the
/// whole search's on the warm-started walk (linear, and every form on small systems); the
/// multi-shift solves of the additive and multiplicative forms on large systems start from the
/// lowest point scored, so their scores equal the whole search's to the folds' tolerance.
///
/// The choice equals the whole search's whenever the curve over all test examples has no
/// second, lower minimum below the points scored. A sample of 16 picked a neighbouring grid
/// point of the full choice in 2 of 9 planted cases (see ``ScoringSample``); that is what walking
/// further down is for. The tests check the screened choice and scores against the whole
/// search's on planted logs whose choices lie inside the grid, with screens that had to go
/// further down and screens that did not.
struct LambdaScreen: Sendable {
    /// Test examples in the sample (four blocks of the CG solver's 8 lanes).
    var sampleSize: Int
    /// Grid points scored below the sample's choice, and how many more each further walk scores
    /// (at least 1).
    var margin: Int

    /// 32 test examples, one grid point (a half-decade on the default grid).
    static let standard = LambdaScreen(sampleSize: 32, margin: 1)

    /// Fewest test examples for which the screen is used: below four samples' worth, the sample is
    /// a large part of the work and the screen saves little.
    var minimumTests: Int { 4 * sampleSize }

    /// Whether `form`'s folds on `design` are large systems (the loose-tolerance CG path of
    /// ``LambdaSearch/iterativeFoldResults(design:trainRuns:testIDs:form:grid:plan:threads:foldTolerance:tests:points:progress:)``),
    /// the only ones the screen is used on: small ones are exact and cheap.
    static func isLarge(form: RecurrenceForm, design: RidgeDesign) -> Bool {
        LambdaSearch.usesIterativeCV(form, design: design)
            && form.unknowns(examples: design.activeCount) > LambdaSearch.exactCrossValidationLimit
    }

    /// Whether a search screens its grid.
    enum Policy: Sendable {
        /// ``standard`` on large systems with at least ``minimumTests`` test examples, CG folds at
        /// their default tolerance; no screen otherwise.
        case automatic
        /// Never: every test example walks the whole grid.
        case off
        /// Always, with these settings (tests).
        case always(LambdaScreen)
    }
}
