/// One plot axis: a data interval, the pixel interval it is drawn on, and its tick marks.
///
/// Linear axes use "nice" ticks (1, 2 or 5 times a power of ten) and extend the data interval
/// out to whole ticks, so the tick labels always cover the data. Log axes (base 10) extend to
/// whole decades and put a labelled tick on each decade (every second or third decade when
/// there are many), with unlabelled minor ticks at 2..9 x 10^k on short ranges.
public struct Axis: Sendable, Equatable {
    /// How data values map to pixels.
    public enum Scale: String, Sendable {
        /// pixel = start + (v - lower) / (upper - lower) * (end - start).
        case linear
        /// The same in log10(v); values <= 0 are clamped to ``Axis/lower``.
        case log10
    }

    /// A labelled tick.
    public struct Tick: Sendable, Equatable {
        /// The data value at the tick.
        public var value: Double
        /// Its label as drawn.
        public var label: String
    }

    public var scale: Scale
    /// The data value drawn at ``pixelStart``.
    public var lower: Double
    /// The data value drawn at ``pixelEnd``.
    public var upper: Double
    /// Pixel position of ``lower`` (for a y axis, the bottom of the plot area).
    public var pixelStart: Double
    /// Pixel position of ``upper``.
    public var pixelEnd: Double
    /// Ticks drawn with a label and a grid line, ascending.
    public var ticks: [Tick]
    /// Minor ticks (log axes only): 2..9 x 10^k, labelled (2 and 5 x 10^k) only on short ranges,
    /// otherwise with an empty label.
    public var minorTicks: [Tick]

    /// The pixel position of `v`. Linear: any finite value (outside the interval maps outside the
    /// pixel interval). Log: values <= 0 map to ``pixelStart`` (the axis minimum).
    public func pixel(_ v: Double) -> Double {
        let t: Double
        switch scale {
        case .linear:
            t = (v - lower) / (upper - lower)
        case .log10:
            let lo = decimalLog(lower), hi = decimalLog(upper)
            t = v > 0 ? (decimalLog(v) - lo) / (hi - lo) : 0
        }
        return pixelStart + t * (pixelEnd - pixelStart)
    }

    /// The data value drawn at pixel `p` (the inverse of ``pixel(_:)``).
    public func value(atPixel p: Double) -> Double {
        let t = (p - pixelStart) / (pixelEnd - pixelStart)
        switch scale {
        case .linear: return lower + t * (upper - lower)
        case .log10:
            let lo = decimalLog(lower), hi = decimalLog(upper)
            return tenToThe(lo + t * (hi - lo))
        }
    }

    /// Whether `v` lies inside the axis interval (inclusive, with a little tolerance).
    public func contains(_ v: Double) -> Bool {
        guard v.isFinite else { return false }
        if scale == .log10 && v <= 0 { return false }
        let tolerance = 1e-9 * (upper - lower)
        return v >= lower - tolerance && v <= upper + tolerance
    }

    /// A linear axis covering `low...high` (finite; order does not matter) with about
    /// `targetTicks` nice ticks. `integer` forces a tick step of at least 1 (for step counts).
    /// A zero-width interval is widened by 5% of its value (or by 1 around 0).
    ///
    /// The interval is extended to whole ticks, except with `tight`: then an end whose extension
    /// would add more than 5% of the data span stays at the data (for step axes, where 10,016
    /// steps should not become 15,000); ticks outside the interval are dropped.
    public static func linear(covering low: Double, _ high: Double, pixels: (start: Double, end: Double),
                              targetTicks: Int = 5, integer: Bool = false, tight: Bool = false) -> Axis {
        var lo = min(low, high), hi = max(low, high)
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if hi - lo <= abs(hi) * 1e-12 || hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.05
            lo -= pad; hi += pad
        }
        var (step, exponent) = niceStep(span: hi - lo, target: max(2, targetTicks))
        if integer && step < 1 { step = 1; exponent = 0 }
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        let kLow = Int(first), kHigh = max(Int(last), Int(first) + 1)
        let decimals = max(0, -exponent)
        let useScientific = max(abs(Double(kLow) * step), abs(Double(kHigh) * step)) >= 1e6 || exponent < -6
        var ticks: [Tick] = []
        for k in kLow...kHigh {
            let v = Double(k) * step
            let label = useScientific ? NumberFormat.significant(v, digits: 3)
                                      : NumberFormat.fixed(v, decimals: decimals)
            ticks.append(Tick(value: v, label: label))
        }
        var lower = Double(kLow) * step, upper = Double(kHigh) * step
        if tight {
            let slack = 0.05 * (hi - lo)
            if lo - lower > slack { lower = lo }
            if upper - hi > slack { upper = hi }
            ticks = ticks.filter { $0.value >= lower - 1e-9 * step && $0.value <= upper + 1e-9 * step }
        }
        return Axis(scale: .linear, lower: lower, upper: upper,
                    pixelStart: pixels.start, pixelEnd: pixels.end, ticks: ticks, minorTicks: [])
    }

    /// A log10 axis covering `low...high` (both > 0). The ends are rounded out to 1, 2 or 5 x
    /// 10^k, far enough that at least one decade lies inside; the labelled major ticks are the
    /// decades (every second or third one beyond 7 decades). Minor ticks mark 2..9 x 10^k on
    /// ranges up to 4 decades, and on ranges up to about 2 decades those at 2 and 5 x 10^k carry
    /// labels too. Non-positive or non-finite bounds fall back to 1e-4 and 10.
    public static func logarithmic(covering low: Double, _ high: Double, pixels: (start: Double, end: Double)) -> Axis {
        var lo = min(low, high), hi = max(low, high)
        if !(lo > 0) || !lo.isFinite { lo = min(1e-4, hi > 0 && hi.isFinite ? hi / 10 : 1e-4) }
        if !(hi > 0) || !hi.isFinite { hi = max(10, lo * 10) }
        if hi <= lo { hi = lo * 2 }
        // Candidate ends m x 10^d with m in {1, 2, 5}.
        func floorNice(_ v: Double) -> (Double, Int) {
            var d = Int(decimalLog(v).rounded(.down))
            if tenToThe(Double(d)) > v { d -= 1 }
            if tenToThe(Double(d + 1)) <= v { d += 1 }
            let base = tenToThe(Double(d))
            for m in [5.0, 2.0, 1.0] where m * base <= v * (1 + 1e-12) { return (m * base, d) }
            return (base, d)
        }
        func ceilNice(_ v: Double) -> Double {
            var d = Int(decimalLog(v).rounded(.down))
            if tenToThe(Double(d)) > v { d -= 1 }
            if tenToThe(Double(d + 1)) <= v { d += 1 }
            let base = tenToThe(Double(d))
            for m in [1.0, 2.0, 5.0, 10.0] where m * base >= v * (1 - 1e-12) { return m * base }
            return 10 * base
        }
        var (lower, lowDecade) = floorNice(lo)  // lowDecade: 10^lowDecade <= lower
        let upper = ceilNice(hi)
        // Make sure a decade lies inside: 10^(lowDecade + 1) must not exceed upper, else drop to 10^lowDecade.
        if tenToThe(Double(lowDecade + 1)) > upper * (1 + 1e-12) && lower > tenToThe(Double(lowDecade)) {
            lower = tenToThe(Double(lowDecade))
        }
        let firstDecade = lower <= tenToThe(Double(lowDecade)) * (1 + 1e-12) ? lowDecade : lowDecade + 1
        var lastDecade = firstDecade
        while tenToThe(Double(lastDecade + 1)) <= upper * (1 + 1e-12) { lastDecade += 1 }
        let decades = decimalLog(upper) - decimalLog(lower)
        let every = decades <= 7.5 ? 1 : (decades <= 14.5 ? 2 : 3)
        var ticks: [Tick] = []
        if firstDecade <= lastDecade {
            for d in firstDecade...lastDecade where (d - firstDecade) % every == 0 {
                ticks.append(Tick(value: tenToThe(Double(d)), label: decadeLabel(d)))
            }
        }
        var minor: [Tick] = []
        if decades <= 4.5 {
            let from = Int(decimalLog(lower).rounded(.down)) - 1, to = Int(decimalLog(upper).rounded(.up))
            for d in from...to {
                for m in 2...9 {
                    let v = Double(m) * tenToThe(Double(d))
                    guard v >= lower * (1 - 1e-12) && v <= upper * (1 + 1e-12) else { continue }
                    let labelled = decades <= 2.2 && (m == 2 || m == 5)
                    minor.append(Tick(value: v, label: labelled ? mantissaLabel(m, d) : ""))
                }
            }
        }
        return Axis(scale: .log10, lower: lower, upper: upper,
                    pixelStart: pixels.start, pixelEnd: pixels.end, ticks: ticks, minorTicks: minor)
    }

    /// "2", "0.05", "5e-5", ... for m x 10^d.
    static func mantissaLabel(_ m: Int, _ d: Int) -> String {
        NumberFormat.significant(Double(m) * tenToThe(Double(d)), digits: 1)
    }

    /// "0.001" ... "1000" for 10^-3 ... 10^3, "1e-4" or "1e5" beyond.
    static func decadeLabel(_ d: Int) -> String {
        if d >= -3 && d <= 4 {
            return d >= 0 ? "1" + String(repeating: "0", count: d) : "0." + String(repeating: "0", count: -d - 1) + "1"
        }
        return "1e\(d)"
    }

    /// A step of 1, 2 or 5 x 10^exponent giving about `target` intervals over `span`.
    static func niceStep(span: Double, target: Int) -> (step: Double, exponent: Int) {
        let raw = span / Double(target)
        var exponent = Int(decimalLog(raw).rounded(.down))
        let fraction = raw / tenToThe(Double(exponent))
        var nice: Double
        if fraction < 1.5 { nice = 1 } else if fraction < 3 { nice = 2 } else if fraction < 7 { nice = 5 } else { nice = 1; exponent += 1 }
        if fraction < 1 { nice = 1 }  // log10 rounding
        return (nice * tenToThe(Double(exponent)), exponent)
    }
}
