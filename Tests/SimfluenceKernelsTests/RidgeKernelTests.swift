import SimfluenceKernels
import Testing

/// The C kernels against plain Swift scalar code doing the same sums in the same order. On a
/// machine with AVX-512 or AVX2 the kernels run their vector clones while the reference runs
/// scalar SSE2 arithmetic, so bit equality here also shows that the instruction set chosen at
/// load time does not change results.
@Suite struct RidgeKernelTests {
    /// A random pattern: `rows` rows of 1...5 entries over `m` examples, weights in 1...3.
    struct Problem {
        var rows = 37, m = 11
        var start: [Int] = [0], local: [Int32] = [], count: [Double] = []
        var v: [Double] = [], lp: [Double] = []

        init(seed: UInt64) {
            var state = seed
            func next() -> UInt64 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return state >> 33
            }
            func uniform() -> Double { Double(next() % 1_000_000) / 1_000_000 - 0.5 }
            for _ in 0..<rows {
                let k = Int(next() % 5) + 1
                for _ in 0..<k {
                    local.append(Int32(next() % UInt64(m)))
                    count.append(Double(next() % 3 + 1))
                }
                start.append(local.count)
            }
            v = (0..<(32 * m)).map { _ in uniform() }
            lp = (0..<(16 * rows)).map { _ in 1 + uniform() }
        }
    }

    /// Sum over e of w_e (x[32 i_e + lane + offset]), as the kernel orders it: weighted sums in
    /// one chain, unweighted ones in even and odd partial sums added at the end.
    static func gathered(_ range: Range<Int>, _ index: [Int32], _ weight: [Double]?, _ src: [Double],
                         lane: Int, offset: Int) -> Double {
        if let weight {
            var s = 0.0
            for e in range { s += weight[e] * src[32 * Int(index[e]) + offset + lane] }
            return s
        }
        var s = 0.0, t = 0.0
        var e = range.lowerBound
        while e + 1 < range.upperBound {
            s += src[32 * Int(index[e]) + offset + lane]
            t += src[32 * Int(index[e + 1]) + offset + lane]
            e += 2
        }
        if e < range.upperBound { s += src[32 * Int(index[e]) + offset + lane] }
        return s + t
    }

    @Test(arguments: [false, true])
    func rowPassMatchesScalarReference(weighted: Bool) {
        let p = Problem(seed: weighted ? 7 : 8)
        var ul = [Double](repeating: 0, count: 32 * p.rows)
        p.start.withUnsafeBufferPointer { st in
            p.local.withUnsafeBufferPointer { lo in
                p.count.withUnsafeBufferPointer { co in
                    sf_ridge_rows(p.rows, st.baseAddress, lo.baseAddress, weighted ? co.baseAddress : nil,
                                  p.v, p.lp, &ul)
                }
            }
        }
        for r in 0..<p.rows {
            for lane in 0..<16 {
                let range = p.start[r]..<p.start[r + 1]
                let sb = Self.gathered(range, p.local, weighted ? p.count : nil, p.v, lane: lane, offset: 0)
                let sa = Self.gathered(range, p.local, weighted ? p.count : nil, p.v, lane: lane, offset: 16)
                let l = p.lp[16 * r + lane]
                let u = sb + l * sa
                #expect(ul[32 * r + lane].bitPattern == u.bitPattern)
                #expect(ul[32 * r + 16 + lane].bitPattern == (l * u).bitPattern)
            }
        }
    }

    @Test func updateAndDirectionMatchScalarReference() {
        let p = Problem(seed: 9)
        let m = p.m
        var x = p.v, r = p.v.map { $0 * 0.5 + 0.1 }
        let q = p.v.map { $0 * $0 }, pVec = p.v.reversed().map { $0 }
        let pre = (0..<(48 * m)).map { Double($0 % 7) * 0.1 + 0.05 }
        let alpha = (0..<16).map { 0.01 * Double($0 + 1) }
        var out = [Double](repeating: 0, count: 32)
        let (x0, r0) = (x, r)
        out.withUnsafeMutableBufferPointer { o in
            sf_cg_update(m, alpha, &x, &r, pVec, q, pre, o.baseAddress!, o.baseAddress! + 16)
        }
        for lane in 0..<16 {
            var rz = 0.0, rr = 0.0
            for i in 0..<m {
                let o = 32 * i + lane
                #expect(x[o].bitPattern == (x0[o] + alpha[lane] * pVec[o]).bitPattern)
                let rb = r0[o] - alpha[lane] * q[o], ra = r0[o + 16] - alpha[lane] * q[o + 16]
                #expect(r[o].bitPattern == rb.bitPattern && r[o + 16].bitPattern == ra.bitPattern)
                let a = pre[48 * i + lane], b = pre[48 * i + 16 + lane], c = pre[48 * i + 32 + lane]
                let zb = a * rb + b * ra, za = b * rb + c * ra
                rz += rb * zb + ra * za
                rr += rb * rb + ra * ra
            }
            #expect(out[lane].bitPattern == rz.bitPattern && out[16 + lane].bitPattern == rr.bitPattern)
        }
        // The direction: p = M^-1 r + beta p where kept, 0 elsewhere.
        var direction = pVec
        let beta = (0..<16).map { 0.3 + 0.01 * Double($0) }
        let keep: [Int64] = (0..<16).map { $0 % 3 == 0 ? 0 : -1 }
        sf_cg_direction(m, beta, keep, r, pre, &direction)
        for i in 0..<m {
            for lane in 0..<16 {
                let o = 32 * i + lane
                let a = pre[48 * i + lane], b = pre[48 * i + 16 + lane], c = pre[48 * i + 32 + lane]
                let pb = (a * r[o] + b * r[o + 16]) + beta[lane] * pVec[o]
                let pa = (b * r[o] + c * r[o + 16]) + beta[lane] * pVec[o + 16]
                #expect(direction[o].bitPattern == (keep[lane] == 0 ? 0 : pb.bitPattern))
                #expect(direction[o + 16].bitPattern == (keep[lane] == 0 ? 0 : pa.bitPattern))
            }
        }
    }
}
