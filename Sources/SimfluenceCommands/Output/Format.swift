import Foundation

/// Number formatting for tables and messages.
enum Format {
    /// Four significant digits, scientific below 1e-3 or from 1e5; "n/a" for NaN, "inf" for infinity.
    static func number(_ x: Double) -> String {
        if x.isNaN { return "n/a" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x == 0 { return "0" }
        let magnitude = abs(x)
        if magnitude < 1e-3 || magnitude >= 1e5 { return String(format: "%.3e", x) }
        return String(format: "%.4g", x)
    }

    /// Seconds with a unit, e.g. "0.21 s" or "95 ms".
    static func seconds(_ s: Double) -> String {
        s < 1 ? String(format: "%.0f ms", s * 1000) : String(format: "%.2f s", s)
    }
}
