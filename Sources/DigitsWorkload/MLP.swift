import RealModule
import SimfluenceCore

/// A one-hidden-layer perceptron: `inputs` -> tanh(`hidden`) -> softmax(`classes`), trained with
/// softmax cross-entropy. Double precision, hand-written forward and backward passes.
///
/// Parameters live in one flat array of ``parameterCount`` values, in this order:
/// - `W1`, `inputs x hidden`, row-major: `W1[i, j]` at ``w1Offset`` `+ i * hidden + j`
/// - `b1`, `hidden` values at ``b1Offset``
/// - `W2`, `hidden x classes`, row-major: `W2[j, c]` at ``w2Offset`` `+ j * classes + c`
/// - `b2`, `classes` values at ``b2Offset``
///
/// so `h = tanh(x W1 + b1)`, `logits = h W2 + b2`, `loss = logsumexp(logits) - logits[label]`.
/// The per-example functions below are the only arithmetic the trainer uses, so a loss or
/// gradient computed through the public API is bit-identical to the one inside a training run.
public struct MLP: Sendable, Equatable {
    public let inputs: Int
    public let hidden: Int
    public let classes: Int

    public init(inputs: Int = 64, hidden: Int = 32, classes: Int = 10) {
        precondition(inputs > 0 && hidden > 0 && classes > 1, "invalid layer sizes")
        self.inputs = inputs
        self.hidden = hidden
        self.classes = classes
    }

    public var w1Offset: Int { 0 }
    public var b1Offset: Int { inputs * hidden }
    public var w2Offset: Int { b1Offset + hidden }
    public var b2Offset: Int { w2Offset + hidden * classes }
    /// Total number of parameters (2410 for 64-32-10).
    public var parameterCount: Int { b2Offset + classes }
    /// Scratch doubles one forward/backward pass needs (see ``Workspace``).
    var scratchCount: Int { 2 * hidden + classes }

    /// Seeded initialisation: weights N(0, 1/fan_in), biases 0.
    public func initialParameters(seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        var p = [Double](repeating: 0, count: parameterCount)
        let s1 = 1 / Double(inputs).squareRoot(), s2 = 1 / Double(hidden).squareRoot()
        for k in 0..<(inputs * hidden) { p[w1Offset + k] = rng.nextGaussian() * s1 }
        for k in 0..<(hidden * classes) { p[w2Offset + k] = rng.nextGaussian() * s2 }
        return p
    }

    // MARK: - Public, array-based API (allocates; not for hot loops)

    /// Cross-entropy loss of one example.
    public func loss(features x: [Double], label: Int, parameters p: [Double]) -> Double {
        precondition(x.count == inputs && p.count == parameterCount && (0..<classes).contains(label))
        var scratch = [Double](repeating: 0, count: scratchCount)
        return x.withUnsafeBufferPointer { xb in
            p.withUnsafeBufferPointer { pb in
                scratch.withUnsafeMutableBufferPointer { sb in
                    forward(x: xb.baseAddress!, label: label, p: pb.baseAddress!, scratch: sb.baseAddress!)
                }
            }
        }
    }

    /// Loss and gradient (with respect to all parameters, in the flat layout) of one example.
    public func perExampleGradient(features x: [Double], label: Int, parameters p: [Double]) -> (loss: Double, gradient: [Double]) {
        batchGradient(features: x, labels: [label], parameters: p)
    }

    /// Mean loss and mean gradient over a batch. `features` holds the examples' inputs
    /// back to back (`labels.count * inputs` values).
    public func batchGradient(features x: [Double], labels: [Int], parameters p: [Double]) -> (loss: Double, gradient: [Double]) {
        precondition(!labels.isEmpty && x.count == labels.count * inputs && p.count == parameterCount)
        precondition(labels.allSatisfy { (0..<classes).contains($0) })
        var g = [Double](repeating: 0, count: parameterCount)
        var scratch = [Double](repeating: 0, count: scratchCount)
        var total = 0.0
        x.withUnsafeBufferPointer { xb in
            p.withUnsafeBufferPointer { pb in
                g.withUnsafeMutableBufferPointer { gb in
                    scratch.withUnsafeMutableBufferPointer { sb in
                        for (n, y) in labels.enumerated() {
                            total += accumulateGradient(x: xb.baseAddress! + n * inputs, label: y, p: pb.baseAddress!,
                                                        g: gb.baseAddress!, scratch: sb.baseAddress!)
                        }
                        scale(gb.baseAddress!, by: 1 / Double(labels.count))
                    }
                }
            }
        }
        return (total / Double(labels.count), g)
    }

    // MARK: - Kernels over raw buffers (no allocation)

    /// Hidden activations into `h` (`hidden` values) and logits into `z` (`classes` values).
    @inline(__always)
    private func hiddenAndLogits(x: UnsafePointer<Double>, p: UnsafePointer<Double>,
                                 h: UnsafeMutablePointer<Double>, z: UnsafeMutablePointer<Double>) {
        let H = hidden, C = classes
        let w1 = p + w1Offset, b1 = p + b1Offset, w2 = p + w2Offset, b2 = p + b2Offset
        for j in 0..<H { h[j] = b1[j] }
        for i in 0..<inputs {
            let xi = x[i]
            if xi == 0 { continue }  // many pixels are blank; adding 0 * w would change nothing
            let row = w1 + i * H
            for j in 0..<H { h[j] += xi * row[j] }
        }
        for j in 0..<H { h[j] = Double.tanh(h[j]) }
        for c in 0..<C { z[c] = b2[c] }
        for j in 0..<H {
            let hj = h[j]
            let row = w2 + j * C
            for c in 0..<C { z[c] += hj * row[c] }
        }
    }

    /// Loss of one example; `scratch` needs ``scratchCount`` doubles.
    @inline(__always)
    func forward(x: UnsafePointer<Double>, label: Int, p: UnsafePointer<Double>, scratch: UnsafeMutablePointer<Double>) -> Double {
        let h = scratch, z = scratch + hidden
        hiddenAndLogits(x: x, p: p, h: h, z: z)
        var m = z[0]
        for c in 1..<classes where z[c] > m { m = z[c] }
        var s = 0.0
        for c in 0..<classes { s += Double.exp(z[c] - m) }
        return m + Double.log(s) - z[label]
    }

    /// Adds the gradient of one example's loss to `g` and returns the loss.
    @inline(__always)
    func accumulateGradient(x: UnsafePointer<Double>, label: Int, p: UnsafePointer<Double>,
                            g: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>) -> Double {
        let H = hidden, C = classes
        let h = scratch, z = scratch + H, dh = scratch + H + C
        hiddenAndLogits(x: x, p: p, h: h, z: z)
        var m = z[0]
        for c in 1..<C where z[c] > m { m = z[c] }
        let zy = z[label]
        var s = 0.0
        for c in 0..<C { let e = Double.exp(z[c] - m); z[c] = e; s += e }
        let loss = m + Double.log(s) - zy
        // dL/dz = softmax - onehot
        let inv = 1 / s
        for c in 0..<C { z[c] *= inv }
        z[label] -= 1
        let w2 = p + w2Offset, gw1 = g + w1Offset, gb1 = g + b1Offset, gw2 = g + w2Offset, gb2 = g + b2Offset
        for c in 0..<C { gb2[c] += z[c] }
        for j in 0..<H {
            let hj = h[j]
            let row = w2 + j * C, grow = gw2 + j * C
            var d = 0.0
            for c in 0..<C {
                grow[c] += hj * z[c]
                d += row[c] * z[c]
            }
            dh[j] = d * (1 - hj * hj)
        }
        for j in 0..<H { gb1[j] += dh[j] }
        for i in 0..<inputs {
            let xi = x[i]
            if xi == 0 { continue }
            let grow = gw1 + i * H
            for j in 0..<H { grow[j] += xi * dh[j] }
        }
        return loss
    }

    @inline(__always)
    func scale(_ g: UnsafeMutablePointer<Double>, by factor: Double) {
        for k in 0..<parameterCount { g[k] *= factor }
    }
}
