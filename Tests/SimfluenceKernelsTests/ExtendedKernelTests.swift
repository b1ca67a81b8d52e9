import SimfluenceKernels
import Testing

/// The extended methods' shared-term kernels against plain scalar Swift doing the same
/// arithmetic in the same order (bit for bit, as `RidgeKernelTests`), with and without the
/// pooled terms, for 0, 1 and 5 knots, with and without carry-over.
@Suite struct ExtendedKernelTests {
    static let W = Int(SF_LANES)

    /// Rows of two runs (a run starts at row 0 and row 7), random sizes, knots and weights.
    struct Shared {
        let rows = 13, knots: Int, pooled: Bool
        var q: Int { (pooled ? 1 : 0) + knots }
        var lp: [Double] = [], size: [Double] = [], carried: [Double] = [], knot: [Int] = [], weight: [Double] = []
        var shared: [Double] = [], ul: [Double] = []
        var runStart: [UInt8] = []

        init(knots: Int, pooled: Bool, seed: UInt64) {
            self.knots = knots
            self.pooled = pooled
            var state = seed
            func uniform() -> Double {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Double((state >> 33) % 1_000_000) / 1_000_000 - 0.5
            }
            let W = ExtendedKernelTests.W
            lp = (0..<(W * rows)).map { _ in 1 + uniform() }
            size = (0..<rows).map { _ in 4 + (uniform() > 0 ? 1 : 0) }
            carried = size.map { $0 * (1.5 + uniform()) }
            knot = (0..<rows).map { r in knots > 1 ? r * (knots - 1) / rows : 0 }
            weight = (0..<rows).map { _ in 0.5 + uniform() }
            shared = (0..<(2 * W * max(1, q))).map { _ in uniform() }
            ul = (0..<(2 * W * rows)).map { _ in uniform() }
            runStart = (0..<rows).map { $0 == 0 || $0 == 7 ? 1 : 0 }
        }

        /// Lane `lane` of shared unknown j.
        func sh(_ j: Int, _ lane: Int) -> Double { shared[ExtendedKernelTests.W * j + lane] }
    }

    static let cases: [(Int, Bool)] = [(0, true), (1, false), (1, true), (5, false), (5, true)]

    @Test(arguments: cases)
    func rowsMatchScalarReference(knots: Int, pooled: Bool) {
        let s = Shared(knots: knots, pooled: pooled, seed: UInt64(17 + knots))
        let W = Self.W, p = pooled ? 1 : 0, q = s.q
        var ul = s.ul
        sf_extended_rows(s.rows, s.lp, s.size, s.carried, s.knot, s.weight, knots, pooled ? 1 : 0, q, s.shared, &ul)
        for r in 0..<s.rows {
            for lane in 0..<W {
                var hv = s.carried[r] * (pooled ? s.sh(0, lane) : 0), ha = s.size[r] * (pooled ? s.sh(q, lane) : 0)
                if knots == 1 {
                    hv += s.sh(p, lane); ha += s.sh(q + p, lane)
                } else if knots > 1 {
                    let k = s.knot[r], w = s.weight[r]
                    hv += (1 - w) * s.sh(p + k, lane) + w * s.sh(p + k + 1, lane)
                    ha += (1 - w) * s.sh(q + p + k, lane) + w * s.sh(q + p + k + 1, lane)
                }
                let l = s.lp[W * r + lane]
                let u = s.ul[2 * W * r + lane] + hv + l * ha
                #expect(ul[2 * W * r + lane].bitPattern == u.bitPattern)
                #expect(ul[2 * W * r + W + lane].bitPattern == (l * u).bitPattern)
            }
        }
    }

    @Test(arguments: cases, [0.0, 0.6])
    func columnsMatchScalarReference(shape: (Int, Bool), carry: Double) {
        let (knots, pooled) = shape
        let s = Shared(knots: knots, pooled: pooled, seed: UInt64(29 + knots))
        let W = Self.W, p = pooled ? 1 : 0, q = s.q
        var ul = s.ul
        var out = [Double](repeating: .nan, count: 2 * W * max(1, q))
        s.runStart.withUnsafeBufferPointer { rs in
            sf_extended_columns(s.rows, s.size, s.knot, s.weight, knots, pooled ? 1 : 0, q, carry,
                                carry != 0 ? rs.baseAddress : nil, &ul, &out)
        }
        for lane in 0..<W {
            var expected = [Double](repeating: 0, count: 2 * q)
            var next = 0.0
            for r in stride(from: s.rows - 1, through: 0, by: -1) {
                let u = s.ul[2 * W * r + lane], ua = s.ul[2 * W * r + W + lane]
                next = carry != 0 && r + 1 < s.rows && s.runStart[r + 1] == 0 ? u + carry * next : u
                #expect(ul[2 * W * r + lane].bitPattern == (carry != 0 ? next : u).bitPattern)
                #expect(ul[2 * W * r + W + lane].bitPattern == ua.bitPattern)
                if pooled { expected[0] += s.size[r] * next; expected[q] += s.size[r] * ua }
                if knots == 1 {
                    expected[p] += u; expected[q + p] += ua
                } else if knots > 1 {
                    let k = s.knot[r], w = s.weight[r]
                    expected[p + k] += (1 - w) * u
                    expected[p + k + 1] += w * u
                    expected[q + p + k] += (1 - w) * ua
                    expected[q + p + k + 1] += w * ua
                }
            }
            for j in 0..<(2 * q) { #expect(out[W * j + lane].bitPattern == expected[j].bitPattern, "shared \(j)") }
        }
    }
}
