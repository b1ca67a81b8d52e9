/// The screen of ``LambdaSearch`` on large systems: how far down the lambda grid every test
/// example's folds are solved.
///
/// The cost of a cross-validated lambda is dominated by the smallest lambdas: CG's iteration count
/// grows as lambda shrinks (on the large benchmark workload, folds walked down to 0.01 took about
/// 23 minutes where the choice is 10). The screen first cross-validates the whole grid on a
/// sample of test examples (``ScoringSample``, spread over their loss scales), then solves the
/// other test examples only down to ``margin`` grid points below the sample's choice, and picks
/// the best of the points every test example scored. The sample's own solves are part of the
/// final scores (a test example's solve does not depend on which others are solved beside it),
/// so nothing is solved twice, and every score reported is bit for bit the whole search's (the
/// walk down the grid from the top is the same whatever its end).
///
/// The choice equals the whole search's whenever the cross-validation curve over all test
/// examples has no second, lower minimum below the screened range: if the best scored point is
/// the lowest one scored, the search goes on down the whole grid, exactly as without the screen.
/// A sample of 16 picked a neighbouring grid point of the full choice in 2 of 9 planted cases
/// (see ``ScoringSample``), hence a margin of two points and a larger sample. The tests check that
/// the screened choice equals the whole search's on planted logs whose choices lie inside the
/// grid, that the scores match bit for bit, and that an edge choice falls back to the whole search.
struct LambdaScreen: Sendable {
    /// Test examples in the sample (four blocks of the CG solver's 8 lanes).
    var sampleSize: Int
    /// Grid points below the sample's choice that every test example is still scored on.
    var margin: Int

    /// 32 test examples, two grid points (a decade on the default half-decade grid).
    static let standard = LambdaScreen(sampleSize: 32, margin: 2)

    /// Fewest test examples for which the screen is used: below four samples' worth, the sample is
    /// a large part of the work and the screen saves little.
    var minimumTests: Int { 4 * sampleSize }

    /// Whether `form`'s folds on `design` are large systems (the loose-tolerance CG path of
    /// ``LambdaSearch/iterativeFoldResults(design:trainRuns:testIDs:form:grid:plan:threads:foldTolerance:tests:lowest:)``),
    /// the only ones the screen is used on: small ones are exact and cheap.
    static func isLarge(form: RecurrenceForm, design: RidgeDesign) -> Bool {
        let n = form == .linear ? 2 * design.activeCount : design.activeCount
        return LambdaSearch.usesIterativeCV(form, design: design) && n > LambdaSearch.exactCrossValidationLimit
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
