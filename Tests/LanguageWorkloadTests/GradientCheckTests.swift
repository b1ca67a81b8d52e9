import Testing
@testable import LanguageWorkload
import SimfluenceCore

/// Finite-difference checks of every layer's backward pass and of the whole model's gradient,
/// in `Double` (the layers are generic; the workload runs the same code in `Float`).
///
/// Each layer check uses the objective `L = sum(w * output)` for fixed random weights w, so the
/// output gradient fed to the backward pass is w; every input and parameter is perturbed by
/// +-h and the central difference `(L(+h) - L(-h)) / 2h` compared with the backward pass.
private let h = 1e-6

private func gaussians(_ n: Int, _ rng: inout SeededGenerator, scale: Double = 1, offset: Double = 0) -> [Double] {
    (0..<n).map { _ in offset + scale * rng.nextGaussian() }
}

/// Checks `analytic` against central differences of `objective` over every entry of `values`.
private func expectGradient(_ name: String, _ values: inout [Double], analytic: [Double],
                            tolerance: Double = 1e-6, objective: ([Double]) -> Double,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    precondition(values.count == analytic.count)
    var worst = 0.0
    for k in values.indices {
        let saved = values[k]
        values[k] = saved + h
        let up = objective(values)
        values[k] = saved - h
        let down = objective(values)
        values[k] = saved
        let fd = (up - down) / (2 * h)
        let error = abs(fd - analytic[k]) / max(1, abs(fd), abs(analytic[k]))
        worst = max(worst, error)
    }
    #expect(worst < tolerance, "\(name): worst relative error \(worst)", sourceLocation: sourceLocation)
}

private func dot(_ a: [Double], _ b: UnsafePointer<Double>) -> Double {
    var s = 0.0
    for k in a.indices { s += a[k] * b[k] }
    return s
}

@Suite struct LayerGradientTests {
    @Test func embedding() {
        var rng = SeededGenerator(seed: 1)
        let n = 5, d = 6, vocabulary = 4
        let tokens = [0, 2, 2, 3, 1]
        var e = gaussians(vocabulary * d, &rng), p = gaussians(n * d, &rng)
        let w = gaussians(n * d, &rng)
        func objective(_ e: [Double], _ p: [Double]) -> Double {
            var x = [Double](repeating: 0, count: n * d)
            Layers.embed(tokens: tokens, n: n, d: d, tokenEmbedding: e, positionEmbedding: p, x: &x)
            return dot(w, x)
        }
        var de = [Double](repeating: 0, count: e.count), dp = [Double](repeating: 0, count: p.count)
        Layers.embedBackward(tokens: tokens, n: n, d: d, dx: w, dTokenEmbedding: &de, dPositionEmbedding: &dp)
        let fixedP = p, fixedE = e
        expectGradient("token embedding", &e, analytic: de) { objective($0, fixedP) }
        expectGradient("position embedding", &p, analytic: dp) { objective(fixedE, $0) }
    }

    @Test func layerNorm() {
        var rng = SeededGenerator(seed: 2)
        let n = 4, d = 7
        var x = gaussians(n * d, &rng, scale: 2, offset: 0.5)
        var gain = gaussians(d, &rng, scale: 0.3, offset: 1), bias = gaussians(d, &rng, scale: 0.3)
        let w = gaussians(n * d, &rng)
        func objective(_ x: [Double], _ gain: [Double], _ bias: [Double]) -> Double {
            var y = [Double](repeating: 0, count: n * d), hat = y, rstd = [Double](repeating: 0, count: n)
            Layers.layerNorm(n: n, d: d, x: x, gain: gain, bias: bias, y: &y, hat: &hat, rstd: &rstd)
            return dot(w, y)
        }
        var y = [Double](repeating: 0, count: n * d), hat = y, rstd = [Double](repeating: 0, count: n)
        Layers.layerNorm(n: n, d: d, x: x, gain: gain, bias: bias, y: &y, hat: &hat, rstd: &rstd)
        var dx = [Double](repeating: 0, count: n * d), dGain = [Double](repeating: 0, count: d), dBias = dGain
        Layers.layerNormBackward(n: n, d: d, dy: w, hat: hat, rstd: rstd, gain: gain, dx: &dx, dGain: &dGain, dBias: &dBias)
        let x0 = x, g0 = gain, b0 = bias
        expectGradient("layer norm input", &x, analytic: dx) { objective($0, g0, b0) }
        expectGradient("layer norm gain", &gain, analytic: dGain) { objective(x0, $0, b0) }
        expectGradient("layer norm bias", &bias, analytic: dBias) { objective(x0, g0, $0) }
    }

    @Test(arguments: [1, 3, 6, 9])
    func causalAttention(n: Int) {
        var rng = SeededGenerator(seed: 3 + UInt64(n))
        let d = 8, heads = 2, ld = 10
        var qkv = gaussians(n * 3 * d, &rng)
        let w = gaussians(n * d, &rng)
        func objective(_ qkv: [Double]) -> Double {
            var probs = [Double](repeating: 0, count: heads * n * ld), out = [Double](repeating: 0, count: n * d)
            var scratch = [Double](repeating: 0, count: d * ld)
            Layers.attention(n: n, d: d, heads: heads, qkv: qkv, probs: &probs, ld: ld, out: &out, scratch: &scratch)
            return dot(w, out)
        }
        var probs = [Double](repeating: .nan, count: heads * n * ld), out = [Double](repeating: 0, count: n * d)
        var scratch = [Double](repeating: 0, count: d * ld), dScores = [Double](repeating: .nan, count: n * ld)
        Layers.attention(n: n, d: d, heads: heads, qkv: qkv, probs: &probs, ld: ld, out: &out, scratch: &scratch)
        var dqkv = [Double](repeating: .nan, count: n * 3 * d)
        Layers.attentionBackward(n: n, d: d, heads: heads, qkv: qkv, probs: probs, ld: ld, dOut: w, dqkv: &dqkv,
                                 dScores: &dScores, scratch: &scratch)
        expectGradient("attention q, k, v", &qkv, analytic: dqkv, objective: objective)
        // The zeros the vector kernel's tiles read just above the diagonal are written.
        for h in 0..<heads {
            for t in 0..<n {
                for u in (t + 1)..<min(n, t + MatrixKernels.tileRows) { #expect(probs[h * n * ld + t * ld + u] == 0) }
            }
        }
        // Causality: the first position's output is its own value vector, whatever the scores.
        for h in 0..<heads {
            for c in 0..<(d / heads) { #expect(abs(out[h * 4 + c] - qkv[2 * d + h * 4 + c]) < 1e-12) }
        }
    }

    @Test func mlpBlock() {
        // y = relu(x W1 + b1) W2 + b2, as the block computes it.
        var rng = SeededGenerator(seed: 4)
        let n = 5, d = 6, f = 9
        var x = gaussians(n * d, &rng), w1 = gaussians(d * f, &rng, scale: 0.5), b1 = gaussians(f, &rng, scale: 0.5)
        var w2 = gaussians(f * d, &rng, scale: 0.5), b2 = gaussians(d, &rng)
        let w = gaussians(n * d, &rng)
        func forward(_ x: [Double], _ w1: [Double], _ b1: [Double], _ w2: [Double], _ b2: [Double]) -> ([Double], [Double]) {
            var hidden = [Double](repeating: 0, count: n * f), y = [Double](repeating: 0, count: n * d)
            Layers.dense(n: n, inputs: d, outputs: f, x: x, ldx: d, weight: w1, bias: b1, y: &hidden, ldy: f)
            Layers.relu(&hidden, count: n * f)
            Layers.dense(n: n, inputs: f, outputs: d, x: hidden, ldx: f, weight: w2, bias: b2, y: &y, ldy: d)
            return (hidden, y)
        }
        let (hidden, _) = forward(x, w1, b1, w2, b2)
        #expect(hidden.contains(0) && hidden.contains { $0 > 0 })
        func transpose(_ m: [Double], _ rows: Int, _ columns: Int) -> [Double] {
            var t = [Double](repeating: 0, count: m.count)
            MatrixKernels.transpose(rows: rows, columns: columns, src: m, ldSrc: columns, dst: &t, ldDst: rows)
            return t
        }
        var dw1 = [Double](repeating: 0, count: d * f), db1 = [Double](repeating: 0, count: f)
        var dw2 = [Double](repeating: 0, count: f * d), db2 = [Double](repeating: 0, count: d)
        var dHidden = [Double](repeating: 0, count: n * f), dx = [Double](repeating: 0, count: n * d)
        Layers.denseBackward(n: n, inputs: f, outputs: d, x: hidden, ldx: f, dy: w, ldy: d, weightT: transpose(w2, f, d),
                             dWeight: &dw2, dBias: &db2, dx: &dHidden, lddx: f)
        Layers.reluBackward(&dHidden, activation: hidden, count: n * f)
        Layers.denseBackward(n: n, inputs: d, outputs: f, x: x, ldx: d, dy: dHidden, ldy: f, weightT: transpose(w1, d, f),
                             dWeight: &dw1, dBias: &db1, dx: &dx, lddx: d)
        let x0 = x, w10 = w1, b10 = b1, w20 = w2, b20 = b2
        expectGradient("MLP input", &x, analytic: dx) { dot(w, forward($0, w10, b10, w20, b20).1) }
        expectGradient("MLP W1", &w1, analytic: dw1) { dot(w, forward(x0, $0, b10, w20, b20).1) }
        expectGradient("MLP b1", &b1, analytic: db1) { dot(w, forward(x0, w10, $0, w20, b20).1) }
        expectGradient("MLP W2", &w2, analytic: dw2) { dot(w, forward(x0, w10, b10, $0, b20).1) }
        expectGradient("MLP b2", &b2, analytic: db2) { dot(w, forward(x0, w10, b10, w20, $0).1) }
    }

    @Test func outputCrossEntropy() {
        var rng = SeededGenerator(seed: 5)
        let n = 4, vocabulary = 6
        var logits = gaussians(n * vocabulary, &rng, scale: 2)
        let targets = [3, 0, 5, 3]
        func objective(_ z: [Double]) -> Double {
            var copy = z
            return Layers.crossEntropy(n: n, vocabulary: vocabulary, ld: vocabulary, logits: &copy, targets: targets, gradient: false)
        }
        var g = logits
        let loss = Layers.crossEntropy(n: n, vocabulary: vocabulary, ld: vocabulary, logits: &g, targets: targets, gradient: true)
        #expect(abs(loss - objective(logits)) < 1e-15)
        // Mean cross-entropy in nats: row by row, log-sum-exp minus the target's logit.
        var expected = 0.0
        for t in 0..<n {
            let row = logits[(t * vocabulary)..<((t + 1) * vocabulary)]
            expected += Double.log(row.map { Double.exp($0) }.reduce(0, +)) - row[row.startIndex + targets[t]]
        }
        #expect(abs(loss - expected / Double(n)) < 1e-12)
        expectGradient("cross-entropy logits", &logits, analytic: g, objective: objective)
    }
}

@Suite struct ModelGradientTests {
    /// A two-layer model with random parameters (larger than the initialisation, gains away
    /// from 1, non-zero biases) in `Double`.
    static func model() throws -> (Transformer, [Double]) {
        let m = try Transformer(vocabularySize: 7, context: 9, width: 8, heads: 2, layers: 2, mlpWidth: 12)
        var rng = SeededGenerator(seed: 6)
        var p = gaussians(m.parameterCount, &rng, scale: 0.3)
        for l in 0..<m.layers {
            let o = m.layerOffsets, base = m.layerOffset(l)
            for k in 0..<m.width {
                p[base + o.norm1Gain + k] += 1
                p[base + o.norm2Gain + k] += 1
            }
        }
        for k in 0..<m.width { p[m.finalGainOffset + k] += 1 }
        return (m, p)
    }

    @Test(arguments: [[0, 3, 1, 4, 4, 6, 2, 5], [0, 2], [0, 1, 2, 3, 4, 5, 6, 1, 2, 3]])
    func wholeModelGradient(tokens: [Int]) throws {
        let (m, p0) = try Self.model()
        let n = tokens.count - 1
        let ws = Workspace<Double>(model: m)
        func loss(_ p: [Double]) -> Double {
            m.loss(tokens: tokens, n: n, parameters: p, derived: m.derivedWeights(p), workspace: ws)
        }
        var g = [Double](repeating: .nan, count: m.parameterCount)
        let l = m.lossAndGradient(tokens: tokens, n: n, parameters: p0, derived: m.derivedWeights(p0), gradient: &g, workspace: ws)
        #expect(l == loss(p0))
        #expect(l > 0 && g.allSatisfy(\.isFinite))
        var p = p0
        expectGradient("whole model (\(n) positions)", &p, analytic: g, tolerance: 2e-6, objective: loss)
        // Position embeddings past the sequence get no gradient; every block's value and MLP
        // weights do (queries and keys only from two positions on: one position attends to itself).
        let unused = (m.positionEmbeddingOffset + n * m.width)..<(m.positionEmbeddingOffset + m.context * m.width)
        #expect(g[unused].allSatisfy { $0 == 0 })
        let o = m.layerOffsets
        #expect(g[m.layerOffset(0) + o.qkvWeight + 2 * m.width] != 0 && g[m.layerOffset(1) + o.downWeight] != 0)
        #expect((g[m.layerOffset(0) + o.qkvWeight] != 0) == (n > 1))
    }

    @Test func floatAndDoubleAgree() throws {
        let (m, p) = try Self.model()
        let tokens = [0, 3, 1, 4, 4, 6, 2, 5]
        let pf = p.map(Float.init)
        let wsd = Workspace<Double>(model: m), wsf = Workspace<Float>(model: m)
        var gd = [Double](repeating: 0, count: m.parameterCount), gf = [Float](repeating: 0, count: m.parameterCount)
        let ld = m.lossAndGradient(tokens: tokens, n: 7, parameters: p, derived: m.derivedWeights(p), gradient: &gd, workspace: wsd)
        let lf = m.lossAndGradient(tokens: tokens, n: 7, parameters: pf, derived: m.derivedWeights(pf), gradient: &gf, workspace: wsf)
        #expect(abs(ld - lf) < 1e-5)
        let scale = gd.map(abs).max()!
        #expect(zip(gd, gf).allSatisfy { abs($0 - Double($1)) < 1e-4 * scale })
    }
}
