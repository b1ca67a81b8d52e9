/// The buffers of one sequence's forward and backward pass, sized for the model's context:
/// every layer's activations that the backward pass reads, and scratch. One per thread (it is
/// a class over raw memory and is never shared).
final class Workspace<S: ModelScalar> {
    /// A block's cached activations (row-major, `context` rows).
    struct LayerCache {
        let norm1Out, norm1Hat, norm1Rstd, qkv, probs, attention, norm2Out, norm2Hat, norm2Rstd, hidden: UnsafeMutablePointer<S>
    }

    let model: Transformer
    /// Leading dimension of the attention matrices (the context).
    let ld: Int
    let layers: [LayerCache]
    let x, dx, dNorm, dqkv, dAttention, dScores, scratch, dHidden: UnsafeMutablePointer<S>
    let finalOut, finalHat, finalRstd, logits: UnsafeMutablePointer<S>
    private let storage: UnsafeMutablePointer<S>

    init(model: Transformer) {
        self.model = model
        let c = model.context, d = model.width, f = model.mlpWidth, h = model.heads
        ld = c
        let v = model.paddedVocabulary
        let perLayer = 5 * c * d + 2 * c + 3 * c * d + h * c * c + c * f
        let total = model.layers * perLayer + c * (9 * d + c + f) + d * c + c * v + c
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0, count: total)
        var next = storage
        func take(_ count: Int) -> UnsafeMutablePointer<S> {
            defer { next += count }
            return next
        }
        var caches: [LayerCache] = []
        for _ in 0..<model.layers {
            caches.append(LayerCache(norm1Out: take(c * d), norm1Hat: take(c * d), norm1Rstd: take(c), qkv: take(3 * c * d),
                                     probs: take(h * c * c), attention: take(c * d), norm2Out: take(c * d),
                                     norm2Hat: take(c * d), norm2Rstd: take(c), hidden: take(c * f)))
        }
        layers = caches
        x = take(c * d)
        dx = take(c * d)
        dNorm = take(c * d)
        dAttention = take(c * d)
        dqkv = take(3 * c * d)
        dScores = take(c * c)
        dHidden = take(c * f)
        scratch = take(d * c)
        finalOut = take(c * d)
        finalHat = take(c * d)
        finalRstd = take(c)
        logits = take(c * v)
        precondition(next - storage <= total)
    }

    deinit { storage.deallocate() }
}

extension Transformer {
    /// The vocabulary rounded up to a multiple of 8: the leading dimension of the logits, so the
    /// output layer runs in whole vector tiles (the extra columns are scratch).
    var paddedVocabulary: Int { (vocabularySize + 7) / 8 * 8 }

    /// Values of the transposed copies of the weights the passes read (``deriveWeights(_:into:)``).
    var derivedCount: Int { layers * (4 * width * width + 2 * width * mlpWidth) + width * paddedVocabulary }

    /// Writes the transposed weights: per layer `W_qkv^T` (3d x d), `W_out^T` (d x d), `W1^T`
    /// (f x d), `W2^T` (d x f), then `E^T` (d x paddedVocabulary, zero past the vocabulary),
    /// which the output layer reads.
    func deriveWeights<S: ModelScalar>(_ p: UnsafePointer<S>, into t: UnsafeMutablePointer<S>) {
        let d = width, f = mlpWidth, o = layerOffsets
        var out = t
        for l in 0..<layers {
            let base = p + layerOffset(l)
            MatrixKernels.transpose(rows: d, columns: 3 * d, src: base + o.qkvWeight, ldSrc: 3 * d, dst: out, ldDst: d)
            out += 3 * d * d
            MatrixKernels.transpose(rows: d, columns: d, src: base + o.outWeight, ldSrc: d, dst: out, ldDst: d)
            out += d * d
            MatrixKernels.transpose(rows: d, columns: f, src: base + o.upWeight, ldSrc: f, dst: out, ldDst: d)
            out += f * d
            MatrixKernels.transpose(rows: f, columns: d, src: base + o.downWeight, ldSrc: d, dst: out, ldDst: f)
            out += d * f
        }
        let vp = paddedVocabulary
        MatrixKernels.transpose(rows: vocabularySize, columns: d, src: p + tokenEmbeddingOffset, ldSrc: d,
                                dst: out, ldDst: vp)
        for j in 0..<d { (out + j * vp + vocabularySize).update(repeating: 0, count: vp - vocabularySize) }
    }

    /// The derived weights of `parameters` as an array.
    func derivedWeights<S: ModelScalar>(_ parameters: [S]) -> [S] {
        var t = [S](repeating: 0, count: derivedCount)
        parameters.withUnsafeBufferPointer { p in
            t.withUnsafeMutableBufferPointer { deriveWeights(p.baseAddress!, into: $0.baseAddress!) }
        }
        return t
    }

    /// Where layer `l`'s transposed weights start in the derived weights.
    private func derivedLayer<S>(_ t: UnsafePointer<S>, _ l: Int) -> (qkvT: UnsafePointer<S>, outT: UnsafePointer<S>,
                                                                     upT: UnsafePointer<S>, downT: UnsafePointer<S>) {
        let d = width, f = mlpWidth
        let base = t + l * (4 * d * d + 2 * d * f)
        return (base, base + 3 * d * d, base + 4 * d * d, base + 4 * d * d + f * d)
    }

    /// The forward pass over `n` tokens (`1...context`), leaving every activation the backward
    /// pass needs and the logits (`n x vocabulary`) in `ws`.
    func forward<S: ModelScalar>(tokens: UnsafePointer<Int>, n: Int, parameters p: UnsafePointer<S>,
                                 derived t: UnsafePointer<S>, workspace ws: Workspace<S>) {
        precondition(n >= 1 && n <= context)
        let d = width, f = mlpWidth, o = layerOffsets, x = ws.x
        Layers.embed(tokens: tokens, n: n, d: d, tokenEmbedding: p + tokenEmbeddingOffset,
                     positionEmbedding: p + positionEmbeddingOffset, x: x)
        for l in 0..<layers {
            let c = ws.layers[l], w = p + layerOffset(l)
            Layers.layerNorm(n: n, d: d, x: x, gain: w + o.norm1Gain, bias: w + o.norm1Bias, y: c.norm1Out,
                             hat: c.norm1Hat, rstd: c.norm1Rstd)
            Layers.dense(n: n, inputs: d, outputs: 3 * d, x: c.norm1Out, ldx: d, weight: w + o.qkvWeight,
                         bias: w + o.qkvBias, y: c.qkv, ldy: 3 * d)
            Layers.attention(n: n, d: d, heads: heads, qkv: c.qkv, probs: c.probs, ld: ws.ld, out: c.attention,
                             scratch: ws.scratch)
            addResidual(n: n, d: d, x: x, input: c.attention, inputs: d, weight: w + o.outWeight, bias: w + o.outBias)
            Layers.layerNorm(n: n, d: d, x: x, gain: w + o.norm2Gain, bias: w + o.norm2Bias, y: c.norm2Out,
                             hat: c.norm2Hat, rstd: c.norm2Rstd)
            Layers.dense(n: n, inputs: d, outputs: f, x: c.norm2Out, ldx: d, weight: w + o.upWeight, bias: w + o.upBias,
                         y: c.hidden, ldy: f)
            Layers.relu(c.hidden, count: n * f)
            addResidual(n: n, d: d, x: x, input: c.hidden, inputs: f, weight: w + o.downWeight, bias: w + o.downBias)
        }
        Layers.layerNorm(n: n, d: d, x: x, gain: p + finalGainOffset, bias: p + finalBiasOffset, y: ws.finalOut,
                         hat: ws.finalHat, rstd: ws.finalRstd)
        // Logits (tied output layer), in whole vector tiles: columns past the vocabulary are scratch.
        let vp = paddedVocabulary
        for r in 0..<n {
            let row = ws.logits + r * vp
            row.update(from: p + outputBiasOffset, count: vocabularySize)
            (row + vocabularySize).update(repeating: 0, count: vp - vocabularySize)
        }
        MatrixKernels.multiply(m: n, n: vp, k: d, a: ws.finalOut, aRow: d, aCol: 1, b: t + derivedCount - d * vp, ldb: vp,
                               c: ws.logits, ldc: vp, accumulate: true)
    }

    /// `x[t] = (x[t] + bias) + input[t] W` for a residual branch.
    private func addResidual<S: ModelScalar>(n: Int, d: Int, x: UnsafeMutablePointer<S>, input: UnsafePointer<S>, inputs: Int,
                                             weight: UnsafePointer<S>, bias: UnsafePointer<S>) {
        for r in 0..<n {
            let xr = x + r * d
            for j in 0..<d { xr[j] += bias[j] }
        }
        MatrixKernels.multiply(m: n, n: d, k: inputs, a: input, aRow: inputs, aCol: 1, b: weight, ldb: d, c: x, ldc: d,
                               accumulate: true)
    }

    /// The loss (mean next-token cross-entropy, nats) of one sequence: `tokens` holds the begin
    /// token and the characters (`n + 1` values, `n` in `1...context`); position k predicts
    /// token k + 1.
    func loss<S: ModelScalar>(tokens: UnsafePointer<Int>, n: Int, parameters p: UnsafePointer<S>, derived t: UnsafePointer<S>,
                              workspace ws: Workspace<S>) -> Double {
        forward(tokens: tokens, n: n, parameters: p, derived: t, workspace: ws)
        return Layers.crossEntropy(n: n, vocabulary: vocabularySize, ld: paddedVocabulary, logits: ws.logits,
                                   targets: tokens + 1, gradient: false)
    }

    /// As ``loss(tokens:n:parameters:derived:workspace:)``, and writes the loss's gradient with
    /// respect to every parameter (flat layout) into `g` (``parameterCount`` values, overwritten).
    func lossAndGradient<S: ModelScalar>(tokens: UnsafePointer<Int>, n: Int, parameters p: UnsafePointer<S>,
                                         derived t: UnsafePointer<S>, gradient g: UnsafeMutablePointer<S>,
                                         workspace ws: Workspace<S>) -> Double {
        forward(tokens: tokens, n: n, parameters: p, derived: t, workspace: ws)
        let loss = Layers.crossEntropy(n: n, vocabulary: vocabularySize, ld: paddedVocabulary, logits: ws.logits,
                                       targets: tokens + 1, gradient: true)
        g.update(repeating: 0, count: parameterCount)
        let d = width, f = mlpWidth, v = vocabularySize, vp = paddedVocabulary, o = layerOffsets
        let dlogits = ws.logits
        // Output layer (tied): logits = finalOut E^T + b_out.
        for r in 0..<n {
            let row = dlogits + r * vp, db = g + outputBiasOffset
            for c in 0..<v { db[c] += row[c] }
        }
        MatrixKernels.multiply(m: v, n: d, k: n, a: UnsafePointer(dlogits), aRow: 1, aCol: vp, b: ws.finalOut, ldb: d,
                               c: g + tokenEmbeddingOffset, ldc: d, accumulate: true)
        MatrixKernels.multiply(m: n, n: d, k: v, a: UnsafePointer(dlogits), aRow: vp, aCol: 1, b: p + tokenEmbeddingOffset,
                               ldb: d, c: ws.dNorm, ldc: d, accumulate: false)
        let dx = ws.dx
        dx.update(repeating: 0, count: n * d)
        Layers.layerNormBackward(n: n, d: d, dy: ws.dNorm, hat: ws.finalHat, rstd: ws.finalRstd, gain: p + finalGainOffset,
                                 dx: dx, dGain: g + finalGainOffset, dBias: g + finalBiasOffset)
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let c = ws.layers[l], w = p + layerOffset(l), gw = g + layerOffset(l), tl = derivedLayer(t, l)
            // MLP branch: x += relu(norm2Out W1 + b1) W2 + b2.
            Layers.denseBackward(n: n, inputs: f, outputs: d, x: c.hidden, ldx: f, dy: dx, ldy: d, weightT: tl.downT,
                                 dWeight: gw + o.downWeight, dBias: gw + o.downBias, dx: ws.dHidden, lddx: f)
            Layers.reluBackward(ws.dHidden, activation: c.hidden, count: n * f)
            Layers.denseBackward(n: n, inputs: d, outputs: f, x: c.norm2Out, ldx: d, dy: ws.dHidden, ldy: f, weightT: tl.upT,
                                 dWeight: gw + o.upWeight, dBias: gw + o.upBias, dx: ws.dNorm, lddx: d)
            Layers.layerNormBackward(n: n, d: d, dy: ws.dNorm, hat: c.norm2Hat, rstd: c.norm2Rstd, gain: w + o.norm2Gain,
                                     dx: dx, dGain: gw + o.norm2Gain, dBias: gw + o.norm2Bias)
            // Attention branch: x += attention(norm1Out W_qkv + b_qkv) W_out + b_out.
            Layers.denseBackward(n: n, inputs: d, outputs: d, x: c.attention, ldx: d, dy: dx, ldy: d, weightT: tl.outT,
                                 dWeight: gw + o.outWeight, dBias: gw + o.outBias, dx: ws.dAttention, lddx: d)
            Layers.attentionBackward(n: n, d: d, heads: heads, qkv: c.qkv, probs: c.probs, ld: ws.ld, dOut: ws.dAttention,
                                     dqkv: ws.dqkv, dScores: ws.dScores, scratch: ws.scratch)
            Layers.denseBackward(n: n, inputs: d, outputs: 3 * d, x: c.norm1Out, ldx: d, dy: ws.dqkv, ldy: 3 * d,
                                 weightT: tl.qkvT, dWeight: gw + o.qkvWeight, dBias: gw + o.qkvBias, dx: ws.dNorm, lddx: d)
            Layers.layerNormBackward(n: n, d: d, dy: ws.dNorm, hat: c.norm1Hat, rstd: c.norm1Rstd, gain: w + o.norm1Gain,
                                     dx: dx, dGain: gw + o.norm1Gain, dBias: gw + o.norm1Bias)
        }
        Layers.embedBackward(tokens: tokens, n: n, d: d, dx: dx, dTokenEmbedding: g + tokenEmbeddingOffset,
                             dPositionEmbedding: g + positionEmbeddingOffset)
        return loss
    }
}
