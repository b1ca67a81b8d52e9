import RealModule

/// The exponential the model's softmaxes use, over a buffer in place.
///
/// `Float` uses its own polynomial (below), vectorised in optimised builds, rather than the C
/// library's `expf`: the softmaxes spend most of their time in it. `Double` (the gradient
/// checks) uses RealModule's `Double.exp`.
extension ModelScalar {
    /// `x[k] = exp(x[k])` for `k < count`.
    @inline(__always)
    static func exponentiate(_ x: UnsafeMutablePointer<Self>, count: Int) {
        if Self.self == Float.self {
            FloatExp.apply(UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self), count: count)
        } else {
            for k in 0..<count { x[k] = Self.exp(x[k]) }
        }
    }
}

/// exp for `Float` by range reduction and a polynomial: `x` is clamped to [-87, 88] (so exp of
/// anything below -87 is about 1.6e-38 rather than smaller, and nothing overflows), split as
/// `x = k ln 2 + r` with k the nearest integer to `x / ln 2` (ties to even) and |r| <= ln 2 / 2
/// (ln 2 in two parts, so r is nearly exact), and `exp(x) = 2^k * P(r)` with P the Taylor
/// polynomial of degree 7 (relative error below 1e-8 on the interval, so within about 1 ulp
/// after rounding). Straight-line code without branches, so the compiler vectorises the loop
/// of ``apply(_:count:)``; every lane runs the same operations, so the bits do not depend on
/// how it is vectorised.
enum FloatExp {
    static let lower: Float = -87, upper: Float = 88
    static let log2e: Float = 1.44269504088896341
    static let ln2High: Float = 0.693145751953125        // 15 significant bits: k * ln2High is exact
    static let ln2Low: Float = 1.42860682030941723212e-6  // ln 2 - ln2High
    /// 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer (ties to even).
    static let magic: Float = 12582912
    static let c2: Float = 1.0 / 2, c3: Float = 1.0 / 6, c4: Float = 1.0 / 24, c5: Float = 1.0 / 120
    static let c6: Float = 1.0 / 720, c7: Float = 1.0 / 5040

    /// `x[k] = exp(x[k])` for `k < count`.
    @inline(__always)
    static func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { x[k] = scalar(x[k]) }
    }

    @inline(__always)
    static func scalar(_ x: Float) -> Float {
        let xc = x < lower ? lower : (x > upper ? upper : x)
        let t = xc * log2e + magic
        let kf = t - magic
        let r = (xc - kf * ln2High) - kf * ln2Low
        var p = c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + 1
        p = p * r + 1
        let bits = (t.bitPattern &- magic.bitPattern &+ 127) &<< 23
        return p * Float(bitPattern: bits)
    }
}
