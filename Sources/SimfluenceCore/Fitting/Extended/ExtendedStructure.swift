#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The structure of an extended method's teacher-forced design (Docs/Methods.md) kept as
/// structured columns instead of dense blocks, for the conjugate-gradient solver
/// (``ExtendedIterative``): per row the step's hat-function knot and weight (the step-term
/// columns), the batch size (the pooled columns) and, with carry-over, the decayed batch size;
/// per example its appearances in row order with their multiplicities and the decayed count
/// w_i(t) = sum_{s <= t} rho^(t-s) count_i(c_s) at each appearance.
///
/// Carry-over is a causal filter along each run: the additive (B-side) part of row t is
/// F(g)_t = rho F(g)_{t-1} + g_t with g_t = sum_{i in c_t} n_i B_i (+ |c_t| b), so X p needs only
/// batch sums, and X^T u needs the reverse filter U_t = u_t + rho U_{t+1}: memory and work stay
/// linear in the design's entries whatever rho (the dense path stores every decayed count, which
/// grows with the square of a run's length).
struct ExtendedStructure: Sendable {
    let design: RidgeDesign
    let layout: ExtendedLayout
    let basis: StepBasis
    /// D2^T D2 of the knot values (K x K).
    let gram: [Double]
    let carry: Double
    /// Per row: batch size with multiplicity, carried batch size (= size when rho = 0), knot and
    /// weight of its step (``StepBasis/locate(_:)``), and whether it starts a run.
    let rowSize: [Double], carriedSize: [Double], rowKnot: [Int], rowW: [Double]
    let runStart: [Bool]
    /// Column-oriented pattern: example i's appearances are colStart[i] ..< colStart[i + 1],
    /// in increasing row order, with row, multiplicity and decayed count at that row.
    let colStart: [Int], colRow: [Int32], colCount: [Double], colCarried: [Double]
    /// Per example: sum over rows of its squared decayed count (its B-column's squared norm).
    let carriedSquares: [Double]

    init(design: RidgeDesign, runs: [TrainingRun], pooled: Bool, basis: StepBasis, carry: Double) {
        self.design = design
        self.basis = basis
        self.carry = carry
        self.layout = ExtendedLayout(m: design.activeCount, pooled: pooled, knots: basis.knots)
        self.gram = StepBasis.secondDifferenceGram(basis.knots)
        let terms = ExtendedSolver.rowTerms(design, runs: runs, basis: basis)
        (rowSize, rowKnot, rowW) = (terms.size, terms.knot, terms.w)
        let rows = design.rowCount, m = design.activeCount
        var runStart = [Bool](repeating: false, count: rows)
        var carriedSize = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            runStart[r] = r == 0 || design.rowRun[r] != design.rowRun[r - 1]
            carriedSize[r] = (runStart[r] ? 0 : carry * carriedSize[r - 1]) + terms.size[r]
        }
        self.runStart = runStart
        self.carriedSize = carriedSize
        let (start, colRow, colCount) = design.columns()
        // Decayed counts: between two appearances (or to its run's end) an example's count
        // decays geometrically, so its squares sum in closed form.
        var runEnd = [Int](repeating: rows, count: rows)
        for r in stride(from: rows - 2, through: 0, by: -1) { runEnd[r] = runStart[r + 1] ? r + 1 : runEnd[r + 1] }
        var colCarried = colCount
        var squares = [Double](repeating: 0, count: m)
        func decayedSquares(_ w: Double, over d: Int) -> Double {
            carry == 0 ? w * w : w * w * (1 - pow(carry * carry, Double(d))) / (1 - carry * carry)
        }
        for i in 0..<m {
            var total = 0.0
            var e = start[i]
            while e < start[i + 1] {
                // One run's appearances of i: e ..< f.
                let end = runEnd[Int(colRow[e])]
                var f = e, w = 0.0, last = Int(colRow[e])
                while f < start[i + 1] && Int(colRow[f]) < end {
                    let r = Int(colRow[f])
                    if f > e { total += decayedSquares(w, over: r - last); w *= pow(carry, Double(r - last)) }
                    w += colCount[f]
                    colCarried[f] = w
                    last = r
                    f += 1
                }
                total += decayedSquares(w, over: end - last)
                e = f
            }
            squares[i] = total
        }
        self.colStart = start
        self.colRow = colRow
        self.colCount = colCount
        self.colCarried = colCarried
        self.carriedSquares = squares
    }
}
