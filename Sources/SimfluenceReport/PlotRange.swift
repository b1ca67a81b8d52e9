/// Chooses value axes so that real losses always fill the plot and a diverged prediction
/// cannot squash them into a flat line.
enum PlotRange {
    /// An axis covering every finite `primary` value (the real losses) and those `secondary`
    /// values (predictions) that lie within `reach` data spans of them (in log10 units on a log
    /// axis); anything further out is drawn pinned to the edge by the plots.
    static func valueAxis(primary: [Double], secondary: [Double], log: Bool,
                          pixels: (start: Double, end: Double), targetTicks: Int, reach: Double = 1) -> Axis {
        if log {
            let p = primary.filter { $0.isFinite && $0 > 0 }.map(decimalLog)
            let q = secondary.filter { $0.isFinite && $0 > 0 }.map(decimalLog)
            guard let w = window(p.isEmpty ? q : p, q, minimumSpan: 0.5, reach: reach) else {
                return Axis.logarithmic(covering: 1e-4, 10, pixels: pixels)
            }
            return Axis.logarithmic(covering: tenToThe(w.lo), tenToThe(w.hi), pixels: pixels)
        }
        let p = primary.filter(\.isFinite), q = secondary.filter(\.isFinite)
        guard let w = window(p.isEmpty ? q : p, q, minimumSpan: nil, reach: reach) else {
            return Axis.linear(covering: 0, 1, pixels: pixels, targetTicks: targetTicks)
        }
        return Axis.linear(covering: w.lo, w.hi, pixels: pixels, targetTicks: targetTicks)
    }

    /// The range of `primary` widened by the `secondary` values within `reach` spans of it.
    private static func window(_ primary: [Double], _ secondary: [Double], minimumSpan: Double?, reach: Double) -> (lo: Double, hi: Double)? {
        guard var lo = primary.min(), var hi = primary.max() else { return nil }
        let span = max(hi - lo, minimumSpan ?? max(0.1 * max(abs(lo), abs(hi)), 1e-12))
        let (wLo, wHi) = (lo - reach * span, hi + reach * span)
        for v in secondary where v >= wLo && v <= wHi {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        return (lo, hi)
    }
}
