/// The transformer's layers as functions over raw row-major buffers: forward passes and their
/// hand-written backward passes. Generic over the scalar so the finite-difference tests run the
/// same code in `Double`. A buffer of `n` rows with leading dimension `ld` holds row `t` at
/// `t * ld`. Backward passes *add* into parameter gradients (`d...` arguments named for a
/// parameter) and write or add input gradients as each says. Every loop runs in a fixed order.
enum Layers {
    /// LayerNorm's epsilon, added to the (biased) variance.
    static let normEpsilon = 1e-5

    // MARK: - Embedding

    /// `x[t] = E[tokens[t]] + P[t]` for `t < n` (`x` has leading dimension `d`).
    static func embed<S: ModelScalar>(tokens: UnsafePointer<Int>, n: Int, d: Int, tokenEmbedding e: UnsafePointer<S>,
                                      positionEmbedding p: UnsafePointer<S>, x: UnsafeMutablePointer<S>) {
        for t in 0..<n {
            let et = e + tokens[t] * d, pt = p + t * d, xt = x + t * d
            for j in 0..<d { xt[j] = et[j] + pt[j] }
        }
    }

    /// Adds `dx[t]` to the token embedding's gradient row of `tokens[t]` and to the position
    /// embedding's row t, for t in order.
    static func embedBackward<S: ModelScalar>(tokens: UnsafePointer<Int>, n: Int, d: Int, dx: UnsafePointer<S>,
                                              dTokenEmbedding de: UnsafeMutablePointer<S>,
                                              dPositionEmbedding dp: UnsafeMutablePointer<S>) {
        for t in 0..<n {
            let det = de + tokens[t] * d, dpt = dp + t * d, g = dx + t * d
            for j in 0..<d {
                det[j] += g[j]
                dpt[j] += g[j]
            }
        }
    }

    // MARK: - LayerNorm

    /// Per row: `hat = (x - mean) / sqrt(var + eps)` (biased variance), `y = hat * gain + bias`;
    /// stores `hat` and `rstd = 1 / sqrt(var + eps)` for the backward pass. All buffers `n x d`
    /// with leading dimension `d`; `rstd` has `n` values.
    static func layerNorm<S: ModelScalar>(n: Int, d: Int, x: UnsafePointer<S>, gain: UnsafePointer<S>, bias: UnsafePointer<S>,
                                          y: UnsafeMutablePointer<S>, hat: UnsafeMutablePointer<S>, rstd: UnsafeMutablePointer<S>) {
        let invD = 1 / S(d), eps = S(normEpsilon)
        for t in 0..<n {
            let xt = x + t * d, yt = y + t * d, ht = hat + t * d
            var sum: S = 0
            for j in 0..<d { sum += xt[j] }
            let mean = sum * invD
            var squares: S = 0
            for j in 0..<d {
                let c = xt[j] - mean
                squares += c * c
            }
            let r = 1 / (squares * invD + eps).squareRoot()
            rstd[t] = r
            for j in 0..<d {
                let h = (xt[j] - mean) * r
                ht[j] = h
                yt[j] = h * gain[j] + bias[j]
            }
        }
    }

    /// Backward of ``layerNorm(n:d:x:gain:bias:y:hat:rstd:)``: with `g = dy * gain`,
    /// `dx += rstd * (g - mean(g) - hat * mean(g * hat))` (added to `dx`); `dGain += sum_t dy * hat`,
    /// `dBias += sum_t dy`.
    static func layerNormBackward<S: ModelScalar>(n: Int, d: Int, dy: UnsafePointer<S>, hat: UnsafePointer<S>,
                                                  rstd: UnsafePointer<S>, gain: UnsafePointer<S>, dx: UnsafeMutablePointer<S>,
                                                  dGain: UnsafeMutablePointer<S>, dBias: UnsafeMutablePointer<S>) {
        let invD = 1 / S(d)
        for t in 0..<n {
            let dyt = dy + t * d, ht = hat + t * d, dxt = dx + t * d
            var sumG: S = 0, sumGH: S = 0
            for j in 0..<d {
                let g = dyt[j] * gain[j]
                sumG += g
                sumGH += g * ht[j]
                dGain[j] += dyt[j] * ht[j]
                dBias[j] += dyt[j]
            }
            let meanG = sumG * invD, meanGH = sumGH * invD, r = rstd[t]
            for j in 0..<d {
                dxt[j] += r * (dyt[j] * gain[j] - meanG - ht[j] * meanGH)
            }
        }
    }

    // MARK: - Dense layers

    /// `y = x W + b`: `x` is `n x inputs` (leading dimension `ldx`), `W` `inputs x outputs`, `y`
    /// `n x outputs` (leading dimension `ldy`), overwritten.
    static func dense<S: ModelScalar>(n: Int, inputs: Int, outputs: Int, x: UnsafePointer<S>, ldx: Int,
                                      weight: UnsafePointer<S>, bias: UnsafePointer<S>, y: UnsafeMutablePointer<S>, ldy: Int) {
        for t in 0..<n { (y + t * ldy).update(from: bias, count: outputs) }
        MatrixKernels.multiply(m: n, n: outputs, k: inputs, a: x, aRow: ldx, aCol: 1, b: weight, ldb: outputs,
                               c: y, ldc: ldy, accumulate: true)
    }

    /// Backward of ``dense(n:inputs:outputs:x:ldx:weight:bias:y:ldy:)`` for output gradient `dy`:
    /// `dWeight += x^T dy`, `dBias += sum_t dy[t]`, and, if `dx` is given, `dx = dy W^T`
    /// (overwritten; `weightT` is `W` transposed, `outputs x inputs`).
    static func denseBackward<S: ModelScalar>(n: Int, inputs: Int, outputs: Int, x: UnsafePointer<S>, ldx: Int,
                                              dy: UnsafePointer<S>, ldy: Int, weightT: UnsafePointer<S>,
                                              dWeight: UnsafeMutablePointer<S>, dBias: UnsafeMutablePointer<S>,
                                              dx: UnsafeMutablePointer<S>?, lddx: Int) {
        MatrixKernels.multiply(m: inputs, n: outputs, k: n, a: x, aRow: 1, aCol: ldx, b: dy, ldb: ldy,
                               c: dWeight, ldc: outputs, accumulate: true)
        for t in 0..<n {
            let g = dy + t * ldy
            for j in 0..<outputs { dBias[j] += g[j] }
        }
        if let dx {
            MatrixKernels.multiply(m: n, n: inputs, k: outputs, a: dy, aRow: ldy, aCol: 1, b: weightT, ldb: inputs,
                                   c: dx, ldc: lddx, accumulate: false)
        }
    }

    /// In place: `v = max(v, 0)` over `count` values, as `(v + |v|) / 2` (exact: `2v` and its
    /// half are exact for every finite `v`): branch-free, so it vectorises. (`v < 0 ? 0 : v`
    /// compiles to a branch and a store per negative value, which mispredicts on random signs.)
    static func relu<S: ModelScalar>(_ v: UnsafeMutablePointer<S>, count: Int) {
        for k in 0..<count {
            let x = v[k]
            v[k] = (x + x.magnitude) * 0.5
        }
    }

    /// In place: `g = 0` where the activation `a` (after ReLU) is 0: the ReLU's backward pass
    /// (the derivative at 0 is taken as 0), as a multiplication by 1 or 0 (branch-free).
    static func reluBackward<S: ModelScalar>(_ g: UnsafeMutablePointer<S>, activation a: UnsafePointer<S>, count: Int) {
        for k in 0..<count {
            g[k] = g[k] * (a[k] > 0 ? 1 : 0)
        }
    }

    /// Softmax of `row[0...last]` in place, after multiplying by `scale`: `exp(scale * z - max)`
    /// divided by its sum (summed in index order).
    @inline(__always)
    static func softmax<S: ModelScalar>(_ row: UnsafeMutablePointer<S>, last: Int, scale: S) {
        var mx = row[0] * scale
        row[0] = mx
        var u = 1
        while u <= last {
            let z = row[u] * scale
            row[u] = z
            if z > mx { mx = z }
            u += 1
        }
        for u in 0...last { row[u] -= mx }
        S.exponentiate(row, count: last + 1)
        var sum: S = 0
        for u in 0...last { sum += row[u] }
        let inv = 1 / sum
        for u in 0...last { row[u] *= inv }
    }

    /// Zeros of row `t` of a causal `n x n` matrix just above the diagonal, as far as the vector
    /// kernel's tiles read there (``MatrixKernels/tileRows`` - 1 entries; see ``ProductShape``).
    @inline(__always)
    static func zeroAboveDiagonal<S: ModelScalar>(_ row: UnsafeMutablePointer<S>, t: Int, n: Int) {
        var u = t + 1
        let end = min(n, t + MatrixKernels.tileRows)
        while u < end {
            row[u] = 0
            u += 1
        }
    }

    // MARK: - Causal multi-head self-attention

    /// Causal self-attention over `n` positions. `qkv` (`n x 3d`, leading dimension `3d`) holds
    /// queries, keys and values (head h at columns `h e ..< (h + 1) e` of each third, `e = d / heads`).
    /// For each head: scores `s[t, u] = q_t . k_u / sqrt(e)` for `u <= t`, `probs = softmax` over u
    /// (stored, `heads x n x ld`; entries above the diagonal are zero as far as the kernels read
    /// them, see ``zeroAboveDiagonal(_:t:n:)``, and unspecified beyond), and output row
    /// `out[t] = sum_u probs[t, u] v_u` into `out` (`n x d`, head h at columns `h e ..< (h + 1) e`).
    /// `scratch` holds `e x ld` values (a head's keys transposed).
    static func attention<S: ModelScalar>(n: Int, d: Int, heads: Int, qkv: UnsafePointer<S>, probs: UnsafeMutablePointer<S>,
                                          ld: Int, out: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>) {
        let e = d / heads, ldq = 3 * d
        let scale = 1 / S(e).squareRoot()
        for h in 0..<heads {
            let q = qkv + h * e, k = qkv + d + h * e, v = qkv + 2 * d + h * e
            let p = probs + h * n * ld
            MatrixKernels.transpose(rows: n, columns: e, src: k, ldSrc: ldq, dst: scratch, ldDst: ld)
            MatrixKernels.multiply(m: n, n: n, k: e, a: q, aRow: ldq, aCol: 1, b: scratch, ldb: ld, c: p, ldc: ld,
                                   accumulate: false, shape: .columnsThroughRow)
            for t in 0..<n {
                let row = p + t * ld
                softmax(row, last: t, scale: scale)
                zeroAboveDiagonal(row, t: t, n: n)
            }
            MatrixKernels.multiply(m: n, n: e, k: n, a: p, aRow: ld, aCol: 1, b: v, ldb: ldq, c: out + h * e, ldc: d,
                                   accumulate: false, shape: .innerThroughRow)
        }
    }

    /// Backward of ``attention(n:d:heads:qkv:probs:ld:out:scratch:)`` for the output gradient
    /// `dOut` (`n x d`): writes the gradient of `qkv` into `dqkv` (`n x 3d`, overwritten).
    /// `dScores` holds `n x ld` values, `scratch` `e x ld`.
    static func attentionBackward<S: ModelScalar>(n: Int, d: Int, heads: Int, qkv: UnsafePointer<S>, probs: UnsafePointer<S>,
                                                  ld: Int, dOut: UnsafePointer<S>, dqkv: UnsafeMutablePointer<S>,
                                                  dScores: UnsafeMutablePointer<S>, scratch: UnsafeMutablePointer<S>) {
        let e = d / heads, ldq = 3 * d
        let scale = 1 / S(e).squareRoot()
        for h in 0..<heads {
            let q = qkv + h * e, k = qkv + d + h * e, v = qkv + 2 * d + h * e
            let p = probs + h * n * ld, g = dOut + h * e
            // dP = dOut_h V_h^T (needed for u <= t only).
            MatrixKernels.transpose(rows: n, columns: e, src: v, ldSrc: ldq, dst: scratch, ldDst: ld)
            MatrixKernels.multiply(m: n, n: n, k: e, a: g, aRow: d, aCol: 1, b: scratch, ldb: ld, c: dScores, ldc: ld,
                                   accumulate: false, shape: .columnsThroughRow)
            // Softmax backward, scale folded in: dS = scale * P * (dP - sum_u P dP); 0 above the diagonal.
            for t in 0..<n {
                let pr = p + t * ld, dr = dScores + t * ld
                var dot: S = 0
                for u in 0...t { dot += pr[u] * dr[u] }
                for u in 0...t { dr[u] = scale * (pr[u] * (dr[u] - dot)) }
                zeroAboveDiagonal(dr, t: t, n: n)
            }
            // dQ = dS K, dK = dS^T Q, dV = P^T dOut_h.
            MatrixKernels.multiply(m: n, n: e, k: n, a: dScores, aRow: ld, aCol: 1, b: k, ldb: ldq,
                                   c: dqkv + h * e, ldc: ldq, accumulate: false, shape: .innerThroughRow)
            MatrixKernels.multiply(m: n, n: e, k: n, a: dScores, aRow: 1, aCol: ld, b: q, ldb: ldq,
                                   c: dqkv + d + h * e, ldc: ldq, accumulate: false, shape: .innerFromRow)
            MatrixKernels.multiply(m: n, n: e, k: n, a: p, aRow: 1, aCol: ld, b: g, ldb: d,
                                   c: dqkv + 2 * d + h * e, ldc: ldq, accumulate: false, shape: .innerFromRow)
        }
    }

    // MARK: - Output: softmax cross-entropy

    /// The mean over `n` rows of the cross-entropy (nats) of `targets[t]` under softmax of logits
    /// row t (`n x vocabulary`, leading dimension `ld`). Each row's term is computed in `S`
    /// (`max + log(sum exp(logit - max)) - logit[target]`) and the mean in `Double`. The logits
    /// are overwritten: with `gradient`, by the loss's gradient `(softmax - onehot) / n`,
    /// otherwise by scratch values.
    static func crossEntropy<S: ModelScalar>(n: Int, vocabulary v: Int, ld: Int, logits: UnsafeMutablePointer<S>,
                                             targets: UnsafePointer<Int>, gradient: Bool) -> Double {
        var total = 0.0
        let invN = 1 / S(n)
        for t in 0..<n {
            let row = logits + t * ld, target = targets[t]
            let zTarget = row[target]
            var mx = row[0]
            for c in 1..<v where row[c] > mx { mx = row[c] }
            for c in 0..<v { row[c] -= mx }
            S.exponentiate(row, count: v)
            var sum: S = 0
            for c in 0..<v { sum += row[c] }
            total += Double(mx + S.log(sum) - zTarget)
            if gradient {
                let factor = invN / sum
                for c in 0..<v { row[c] *= factor }
                row[target] -= invN
            }
        }
        return total / Double(n)
    }
}
