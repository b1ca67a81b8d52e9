/// Ordering and indexing of example ids.
public enum ExampleIDs {
    /// The order of a training-example vocabulary: numeric when every id is a canonical integer
    /// (any size, negative ones first), otherwise ``naturalOrder``.
    public static func sortedVocabulary<S: Sequence<String>>(_ ids: S) -> [String] {
        let unique = Array(Set(ids))
        if unique.allSatisfy(JSONText.isCanonicalInteger) {
            return unique.sorted(by: numericLess)
        }
        return unique.sorted(by: naturalOrder)
    }

    /// Numeric order of canonical integer strings, without converting them (no overflow).
    static func numericLess(_ a: String, _ b: String) -> Bool {
        let an = a.hasPrefix("-"), bn = b.hasPrefix("-")
        if an != bn { return an }
        let x = an ? a.dropFirst() : Substring(a), y = bn ? b.dropFirst() : Substring(b)
        let magnitudeLess = x.utf8.count != y.utf8.count ? x.utf8.count < y.utf8.count : x < y
        let magnitudeEqual = x == y
        if magnitudeEqual { return false }
        return an ? !magnitudeLess : magnitudeLess
    }

    /// Maps a curriculum of ids to indices into `vocabulary`; `unknown(id, step)` builds the
    /// error for an id outside it.
    static func indices(_ curriculum: [[String]], _ index: [String: Int],
                        unknown: (String, Int) -> SimfluenceError) throws -> [[Int]] {
        try curriculum.enumerated().map { t, batch in
            try batch.map { id in
                guard let i = index[id] else { throw unknown(id, t + 1) }
                return i
            }
        }
    }
}
