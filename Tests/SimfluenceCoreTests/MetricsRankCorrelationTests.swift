import Testing
@testable import SimfluenceCore

@Suite struct MetricsRankCorrelationTests {
    @Test func averageRanksWithTies() {
        #expect(RankCorrelation.averageRanks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        #expect(RankCorrelation.averageRanks([3, 1, 2]) == [3, 1, 2])
        // Three-way tie spanning ranks 2, 3, 4 -> 3 each.
        #expect(RankCorrelation.averageRanks([5, 7, 7, 1, 7]) == [2, 4, 4, 1, 4])
        #expect(RankCorrelation.averageRanks([4, 4]) == [1.5, 1.5])
    }

    @Test func averageRanksOrderNonFiniteDeterministically() {
        // -inf lowest, +inf above finite, NaN above everything and tied among themselves.
        let r = RankCorrelation.averageRanks([.nan, 1, .infinity, -.infinity, .nan])
        #expect(r == [4.5, 2, 3, 1, 4.5])
    }

    @Test func spearmanWithTiesByHand() {
        // x = [1,2,2,3] -> ranks [1, 2.5, 2.5, 4]; y = [1,3,2,4] -> ranks [1, 3, 2, 4]; both means 2.5.
        // dx = [-1.5, 0, 0, 1.5], dy = [-1.5, 0.5, -0.5, 1.5].
        // sum dx*dy = 2.25 + 0 + 0 + 2.25 = 4.5; sum dx^2 = 4.5; sum dy^2 = 2.25+0.25+0.25+2.25 = 5.
        // rho = 4.5 / sqrt(4.5 * 5) = sqrt(20.25 / 22.5) = sqrt(0.9) = 0.948683298...
        let rho = RankCorrelation.spearman([1, 2, 2, 3], [1, 3, 2, 4])
        #expect(abs(rho - 0.9.squareRoot()) < 1e-14)
        // The tie-free formula would give 1 - 6*(0+0.25+0.25+0)/(4*15) = 0.975: ties matter.
        #expect(abs(rho - 0.975) > 0.01)
    }

    @Test func perfectAgreementAndReversal() {
        let x: [Double] = [0.3, 1.7, -2, 5, 4.1]
        #expect(abs(RankCorrelation.spearman(x, x.map { $0 * $0 * $0 + 10 }) - 1) < 1e-15)
        #expect(abs(RankCorrelation.spearman(x, x.map { -2 * $0 }) + 1) < 1e-15)
        #expect(RankCorrelation.spearman([1, 2], [3, 4]) == 1)
        #expect(RankCorrelation.spearman([1, 2], [4, 3]) == -1)
    }

    @Test func allTiedIsZero() {
        #expect(RankCorrelation.spearman([2, 2, 2], [1, 5, 3]) == 0)
        #expect(RankCorrelation.spearman([1, 5, 3], [7, 7, 7]) == 0)
        #expect(RankCorrelation.spearman([7, 7], [7, 7]) == 0)
    }

    @Test func nonFiniteGivesNaN() {
        #expect(RankCorrelation.spearman([1, 2, 3], [1, .infinity, 3]).isNaN)
        #expect(RankCorrelation.spearman([1, 2, 3], [1, .nan, 3]).isNaN)
        #expect(RankCorrelation.spearman([-.infinity, 2, 3], [1, 2, 3]).isNaN)
        // NaN wins over the all-tied rule.
        #expect(RankCorrelation.spearman([1, 1, 1], [.nan, 2, 3]).isNaN)
    }

    @Test func matchesClassicFormulaWithoutTies() {
        // Independent check: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) holds when there are no ties.
        var rng = SeededGenerator(seed: 42)
        for n in [2, 3, 5, 8, 13, 40] {
            for _ in 0..<20 {
                let x = (0..<n).map { _ in rng.nextGaussian() }
                let y = (0..<n).map { i in 0.5 * x[i] + rng.nextGaussian() }
                // Naive ranks: 1 + number of strictly smaller values (valid without ties).
                func naiveRanks(_ v: [Double]) -> [Double] { v.map { a in Double(1 + v.filter { $0 < a }.count) } }
                let rx = naiveRanks(x), ry = naiveRanks(y)
                var d2 = 0.0
                for i in 0..<n { d2 += (rx[i] - ry[i]) * (rx[i] - ry[i]) }
                let classic = 1 - 6 * d2 / Double(n * (n * n - 1))
                #expect(abs(RankCorrelation.spearman(x, y) - classic) < 1e-12)
            }
        }
    }
}
