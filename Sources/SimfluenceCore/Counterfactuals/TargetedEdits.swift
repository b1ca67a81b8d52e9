/// The edits a user makes from an attribution: drop, move or duplicate the training examples a
/// method says help (or hurt) a test example most (issue 15's targeted edits).
public enum EditKind: String, Sendable, CaseIterable, Codable {
    /// Every occurrence of the k most helpful examples removed; re-batched, a final partial batch dropped (as `attribute` does).
    case dropHelpers = "drop-helpers"
    /// Every occurrence of the k most harmful examples removed; re-batched likewise.
    case dropHarmers = "drop-harmers"
    /// The k most helpful examples moved to the end of the curriculum (counts kept).
    case moveHelpersToEnd = "move-helpers-to-end"
    /// The k most helpful examples moved to the start (counts kept).
    case moveHelpersToStart = "move-helpers-to-start"
    /// Every occurrence of the k most helpful examples trained twice (counts doubled).
    case duplicateHelpers = "duplicate-helpers"
}

/// One edited curriculum and the examples it acts on.
public struct TargetedEdit: Sendable {
    public var kind: EditKind
    public var k: Int
    /// The examples the edit drops, moves or duplicates (indices into the training ids).
    public var examples: [Int]
    /// The edited curriculum.
    public var batches: [[Int]]
}

extension TargetedEdit {
    /// The edits of every kind and every k in `ks` for test example `test` (a row of
    /// `simulator`) on the curriculum `reference`, from the simulator's own attribution: the
    /// removal effects of every example present (``RemovalEffects``), ranked from most helpful
    /// (most negative effect) to most harmful. Helpers are the first k of that ranking and
    /// harmers the last k, whatever their signs. Batches keep the reference's typical size.
    public static func edits(of simulator: FittedSimulator, test: Int, reference: [[Int]], initial: Double,
                             ks: [Int]) -> [TargetedEdit] {
        let effects = RemovalEffects.effects(of: simulator, test: test, reference: reference, initial: initial)
        let ranked = RemovalEffects.ranked(effects, present: Set(reference.joined())).map(\.index)
        let batchSize = CurriculumEdits.typicalBatchSize(reference)
        var out: [TargetedEdit] = []
        for k in ks where k >= 1 {
            let helpers = Array(ranked.prefix(k)), harmers = Array(ranked.suffix(k).reversed())
            for kind in EditKind.allCases {
                let examples = kind == .dropHarmers ? harmers : helpers
                let set = Set(examples)
                let batches: [[Int]]
                switch kind {
                case .dropHelpers, .dropHarmers: batches = CurriculumEdits.dropping(set, from: reference, batchSize: batchSize)
                case .moveHelpersToEnd: batches = CurriculumEdits.moving(set, in: reference, toStart: false, batchSize: batchSize)
                case .moveHelpersToStart: batches = CurriculumEdits.moving(set, in: reference, toStart: true, batchSize: batchSize)
                case .duplicateHelpers: batches = CurriculumEdits.duplicating(set, in: reference, batchSize: batchSize)
                }
                out.append(TargetedEdit(kind: kind, k: k, examples: examples, batches: batches))
            }
        }
        return out
    }
}

/// How well predicted changes of a test example's final loss match the real ones over a set of
/// edits (each a pair: predicted change, real change; change = edited minus reference).
public struct EditScores: Sendable, Equatable {
    /// Number of edits scored.
    public var count: Int
    /// Fraction of edits whose predicted change has the sign of the real one (a change of
    /// exactly 0 has its own sign); NaN with no edits.
    public var signAccuracy: Double
    /// Median over edits with a non-zero real change of |predicted - real| / |real|; NaN if none.
    public var medianRelativeError: Double
    /// Spearman's rho between predicted and real changes across the edits (NaN below 3 edits
    /// or for constant changes).
    public var spearman: Double

    public init(predicted: [Double], real: [Double]) {
        precondition(predicted.count == real.count, "one real change per predicted change")
        count = predicted.count
        func sign(_ x: Double) -> Int { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        let agree = zip(predicted, real).filter { sign($0) == sign($1) }.count
        signAccuracy = count == 0 ? .nan : Double(agree) / Double(count)
        let relative = zip(predicted, real).filter { $1 != 0 }.map { abs($0 - $1) / abs($1) }.sorted()
        if relative.isEmpty {
            medianRelativeError = .nan
        } else {
            let m = relative.count / 2
            medianRelativeError = relative.count % 2 == 1 ? relative[m] : (relative[m - 1] + relative[m]) / 2
        }
        spearman = count >= 3 ? RankCorrelation.spearman(real, predicted) : .nan
    }
}
