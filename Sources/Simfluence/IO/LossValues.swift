/// What the readers accept as a loss (or any recorded metric) value.
///
/// - Negative values are accepted: cross-entropy cannot be negative, but the layouts also carry
///   other metrics (BLEU, ROUGE, log-probabilities, differences) that can.
/// - NaN and infinities are rejected: JSON has no such numbers, a diverged run must not be fitted,
///   and one of them poisons every sum it enters.
/// - Finite values beyond ``maximumMagnitude`` (1e30) are rejected as corrupted: no loss of a
///   float32 or float64 model comes near (cross-entropy is at most about 104 in float32 and 745
///   in float64), while values beyond about 1e150 would overflow the squared sums of the
///   normal equations to infinity and turn a fit silently into NaN.
enum LossValues {
    static let maximumMagnitude = 1e30

    /// nil when `x` is an acceptable loss, else what is wrong with it, phrased to follow
    /// "loss at step 3 " ("is not finite (nan)", "is 1e+31, beyond ±1e30 ...").
    static func problem(_ x: Double) -> String? {
        if !x.isFinite { return "is not finite (\(x))" }
        if abs(x) > maximumMagnitude {
            return "is \(x), beyond ±1e30: absurdly large for a loss, so the file is probably corrupted"
        }
        return nil
    }
}

extension JSONText {
    /// `s` cut to at most `limit` characters for an error message, saying how long it was, so a
    /// huge token (say a 100 MB string) cannot turn into a 100 MB message.
    static func abbreviated(_ s: String, limit: Int = 80) -> String {
        guard s.utf8.count > limit else { return s }
        return String(s.prefix(limit)) + "... (\(s.utf8.count) bytes)"
    }
}
