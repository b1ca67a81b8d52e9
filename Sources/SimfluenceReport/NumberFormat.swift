/// Number formatting for the report, without Foundation: significant digits for values in
/// tables and captions, fixed decimals for tick labels, short forms for SVG coordinates.
public enum NumberFormat {
    /// `x` to `digits` significant digits (trailing zeros dropped): "0.01234", "12.5", "3.1e-05"
    /// style scientific notation ("3.1e-5") below 1e-3 or from 1e5 in magnitude. "NaN", "inf" and
    /// "-inf" for non-finite values; "0" for zero.
    public static func significant(_ x: Double, digits: Int = 4) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == 0 { return "0" }
        let digits = max(1, min(digits, 15))
        let sign = x < 0 ? "-" : ""
        var (mantissa, exponent) = decompose(abs(x), digits: digits)
        if mantissa >= power10(digits) { mantissa /= 10; exponent += 1 }
        let ds = Array(String(mantissa))  // exactly `digits` characters
        if exponent < -3 || exponent >= 5 {
            var frac = String(ds.dropFirst())
            while frac.hasSuffix("0") { frac.removeLast() }
            return sign + String(ds[0]) + (frac.isEmpty ? "" : "." + frac) + "e" + String(exponent)
        }
        var text: String
        if exponent >= digits - 1 {
            text = String(ds) + String(repeating: "0", count: exponent - (digits - 1))
        } else if exponent >= 0 {
            text = String(ds[0...exponent]) + "." + String(ds[(exponent + 1)...])
        } else {
            text = "0." + String(repeating: "0", count: -exponent - 1) + String(ds)
        }
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return sign + text
    }

    /// `x` with exactly `decimals` digits after the point (0...12), rounded half away from zero;
    /// falls back to ``significant(_:digits:)`` when the value is too large for exact integer
    /// arithmetic. "-0" is written "0".
    public static func fixed(_ x: Double, decimals: Int) -> String {
        guard x.isFinite else { return significant(x) }
        let decimals = max(0, min(decimals, 12))
        let scale = Double(power10(decimals))
        let scaled = (abs(x) * scale).rounded()
        guard scaled < 9e15 else { return significant(x, digits: 6) }
        let m = Int(scaled)
        if m == 0 { return decimals == 0 ? "0" : "0." + String(repeating: "0", count: decimals) }
        let p = power10(decimals)
        let whole = String(m / p)
        var text = (x < 0 ? "-" : "") + whole
        if decimals > 0 {
            let frac = String(m % p)
            text += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return text
    }

    /// A compact coordinate for SVG attributes: one decimal, trailing ".0" dropped.
    static func coordinate(_ x: Double) -> String {
        var s = fixed(x, decimals: 1)
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    /// Seconds with a unit: "95 ms", "2.31 s", "3.5 min".
    public static func seconds(_ s: Double) -> String {
        guard s.isFinite else { return "n/a" }
        if s < 1 { return fixed(s * 1000, decimals: 0) + " ms" }
        if s < 120 { return fixed(s, decimals: 2) + " s" }
        return fixed(s / 60, decimals: 1) + " min"
    }

    /// A byte count with a binary unit: "812 B", "3.4 KiB", "2.10 MiB".
    public static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return fixed(Double(n) / 1024, decimals: 1) + " KiB" }
        return fixed(Double(n) / (1024 * 1024), decimals: 2) + " MiB"
    }

    /// (mantissa with `digits` digits, decimal exponent) of a positive finite value, so that
    /// v ~ mantissa * 10^(exponent - digits + 1).
    private static func decompose(_ v: Double, digits: Int) -> (Int, Int) {
        var exponent = Int(decimalLog(v).rounded(.down))
        // Correct log10 rounding at exact powers of ten.
        if tenToThe(Double(exponent)) > v { exponent -= 1 }
        if tenToThe(Double(exponent + 1)) <= v { exponent += 1 }
        let shift = digits - 1 - exponent
        var scaled = v
        var remaining = shift
        // Scale in two stages so subnormal inputs do not overflow 10^shift.
        if remaining > 300 { scaled *= 1e300; remaining -= 300 }
        scaled = remaining >= 0 ? scaled * tenToThe(Double(remaining)) : scaled / tenToThe(Double(-remaining))
        return (Int(scaled.rounded()), exponent)
    }

    static func power10(_ n: Int) -> Int {
        var p = 1
        for _ in 0..<n { p *= 10 }
        return p
    }
}
