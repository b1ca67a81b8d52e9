import SimfluenceKernels
import Testing

/// The C kernels against plain Swift scalar code doing the same sums in the same order. On a
/// machine with AVX-512 or AVX2 the kernels run their vector clones while the reference runs
/// scalar SSE2 arithmetic, so bit equality here also shows that the instruction set chosen at
/// load time does not change results.
@Suite struct RidgeKernelTests {
    /// Lanes per vector (test examples per block).
    static let W = Int(SF_LANES)

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
            v = (0..<(2 * W * m)).map { _ in uniform() }
            lp = (0..<(W * rows)).map { _ in 1 + uniform() }
        }
    }

    /// Sum over e of w_e (x[2W i_e + lane + offset]), as the kernel orders it: weighted sums in
    /// one chain, unweighted ones in even and odd partial sums added at the end.
    static func gathered(_ range: Range<Int>, _ index: [Int32], _ weight: [Double]?, _ src: [Double],
                         lane: Int, offset: Int) -> Double {
        if let weight {
            var s = 0.0
            for e in range { s += weight[e] * src[2 * W * Int(index[e]) + offset + lane] }
            return s
        }
        var s = 0.0, t = 0.0
        var e = range.lowerBound
        while e + 1 < range.upperBound {
            s += src[2 * W * Int(index[e]) + offset + lane]
            t += src[2 * W * Int(index[e + 1]) + offset + lane]
            e += 2
        }
        if e < range.upperBound { s += src[2 * W * Int(index[e]) + offset + lane] }
        return s + t
    }

    /// The row pass in double, and from float records into float sums (`single`): the gathered
    /// floats converted exactly, summed in double in the same order, rounded once.
    @Test(arguments: [false, true], [false, true])
    func rowPassMatchesScalarReference(weighted: Bool, single: Bool) {
        let p = Problem(seed: weighted ? 7 : 8)
        let W = Self.W
        let vSingle = p.v.map { Float($0) }
        let source = single ? vSingle.map { Double($0) } : p.v
        var ul = [Double](repeating: 0, count: 2 * W * p.rows)
        var ulSingle = [Float](repeating: 0, count: 2 * W * p.rows)
        p.start.withUnsafeBufferPointer { st in
            p.local.withUnsafeBufferPointer { lo in
                p.count.withUnsafeBufferPointer { co in
                    if single {
                        sf_ridge_rows_single(p.rows, st.baseAddress, lo.baseAddress, weighted ? co.baseAddress : nil,
                                             vSingle, p.lp, &ulSingle)
                    } else {
                        sf_ridge_rows(p.rows, st.baseAddress, lo.baseAddress, weighted ? co.baseAddress : nil,
                                      p.v, p.lp, &ul)
                    }
                }
            }
        }
        for r in 0..<p.rows {
            for lane in 0..<W {
                let range = p.start[r]..<p.start[r + 1]
                let sb = Self.gathered(range, p.local, weighted ? p.count : nil, source, lane: lane, offset: 0)
                let sa = Self.gathered(range, p.local, weighted ? p.count : nil, source, lane: lane, offset: W)
                let l = p.lp[W * r + lane]
                let u = sb + l * sa
                if single {
                    #expect(ulSingle[2 * W * r + lane].bitPattern == Float(u).bitPattern)
                    #expect(ulSingle[2 * W * r + W + lane].bitPattern == Float(l * u).bitPattern)
                } else {
                    #expect(ul[2 * W * r + lane].bitPattern == u.bitPattern)
                    #expect(ul[2 * W * r + W + lane].bitPattern == (l * u).bitPattern)
                }
            }
        }
    }

    /// The row pass with the carry-over filter (runs of 1 to 6 rows, decay 0.7): along a run the
    /// B sums are filtered, c = sb at a run's first row and 0.7 c + sb after, and u = c + L sa.
    @Test(arguments: [false, true])
    func carriedRowPassMatchesScalarReference(weighted: Bool) {
        let p = Problem(seed: weighted ? 12 : 13)
        let W = Self.W, carry = 0.7
        let runStart: [UInt8] = (0..<p.rows).map { r in r == 0 || r % 6 == 2 || r % 11 == 5 ? 1 : 0 }
        var ul = [Double](repeating: 0, count: 2 * W * p.rows)
        p.start.withUnsafeBufferPointer { st in
            p.local.withUnsafeBufferPointer { lo in
                p.count.withUnsafeBufferPointer { co in
                    sf_ridge_rows_carried(p.rows, st.baseAddress, lo.baseAddress, weighted ? co.baseAddress : nil,
                                          p.v, p.lp, carry, runStart, &ul)
                }
            }
        }
        for lane in 0..<W {
            var c = 0.0
            for r in 0..<p.rows {
                let range = p.start[r]..<p.start[r + 1]
                let sb = Self.gathered(range, p.local, weighted ? p.count : nil, p.v, lane: lane, offset: 0)
                let sa = Self.gathered(range, p.local, weighted ? p.count : nil, p.v, lane: lane, offset: W)
                c = runStart[r] != 0 ? sb : carry * c + sb
                let l = p.lp[W * r + lane]
                let u = c + l * sa
                #expect(ul[2 * W * r + lane].bitPattern == u.bitPattern)
                #expect(ul[2 * W * r + W + lane].bitPattern == (l * u).bitPattern)
            }
        }
    }

    /// The column-oriented copy of a problem's pattern: per example its (row, weight) pairs in
    /// row order, as `IterativeRidge` builds it.
    static func columns(_ p: Problem) -> (start: [Int], row: [Int32], count: [Double]) {
        var start = [0], row: [Int32] = [], count: [Double] = []
        for i in 0..<p.m {
            for r in 0..<p.rows {
                for e in p.start[r]..<p.start[r + 1] where p.local[e] == Int32(i) {
                    row.append(Int32(r))
                    count.append(p.count[e])
                }
            }
            start.append(row.count)
        }
        return (start, row, count)
    }

    /// The column pass, weighted or not, with or without v (and its ridge term and dot product),
    /// from double or float (`single`) row records.
    @Test(arguments: [(false, true, false), (true, true, false), (false, false, false), (true, true, true), (false, true, true)])
    func columnPassMatchesScalarReference(weighted: Bool, withV: Bool, single: Bool) {
        let p = Problem(seed: weighted ? 10 : 11)
        let W = Self.W, c = Self.columns(p), lambda = 0.7
        // Row records: any values (a third of them not exact in float); the row count is the problem's.
        let given = (0..<(2 * W * p.rows)).map { (i: Int) -> Double in
            let offset: Double = i % 3 == 0 ? 1e-9 : 0
            return Double(i % 13) * 0.25 - 1.5 + offset
        }
        let ulSingle = given.map { Float($0) }
        let ul = single ? ulSingle.map { Double($0) } : given
        for (usesA, usesB) in [(true, true), (false, true), (true, false)] {
            var out = [Double](repeating: .nan, count: 2 * W * p.m), dot = [Double](repeating: 0, count: W)
            c.start.withUnsafeBufferPointer { cs in
                c.row.withUnsafeBufferPointer { cr in
                    c.count.withUnsafeBufferPointer { cc in
                        p.v.withUnsafeBufferPointer { v in
                            dot.withUnsafeMutableBufferPointer { dp in
                                if single {
                                    sf_ridge_columns_single(p.m, cs.baseAddress, cr.baseAddress, weighted ? cc.baseAddress : nil,
                                                            ulSingle, withV ? v.baseAddress : nil, lambda, usesA ? 1 : 0,
                                                            usesB ? 1 : 0, &out, withV ? dp.baseAddress : nil)
                                } else {
                                    sf_ridge_columns(p.m, cs.baseAddress, cr.baseAddress, weighted ? cc.baseAddress : nil, given,
                                                     withV ? v.baseAddress : nil, lambda, usesA ? 1 : 0, usesB ? 1 : 0, &out,
                                                     withV ? dp.baseAddress : nil)
                                }
                            }
                        }
                    }
                }
            }
            for lane in 0..<W {
                var d = 0.0
                for i in 0..<p.m {
                    let range = c.start[i]..<c.start[i + 1]
                    var qb = Self.gathered(range, c.row, weighted ? c.count : nil, ul, lane: lane, offset: 0)
                    var qa = Self.gathered(range, c.row, weighted ? c.count : nil, ul, lane: lane, offset: W)
                    let vb = withV ? p.v[2 * W * i + lane] : 0, va = withV ? p.v[2 * W * i + W + lane] : 0
                    if withV { qb += lambda * vb; qa += lambda * va }
                    let ob = usesB ? qb : 0, oa = usesA ? qa : 0
                    #expect(out[2 * W * i + lane].bitPattern == ob.bitPattern)
                    #expect(out[2 * W * i + W + lane].bitPattern == oa.bitPattern)
                    d += vb * ob
                    d += va * oa
                }
                if withV { #expect(dot[lane].bitPattern == d.bitPattern) }
            }
        }
    }

    @Test(arguments: [true, false])
    func updateAndDirectionMatchScalarReference(preconditioned: Bool) {
        let p = Problem(seed: 9)
        let m = p.m, W = Self.W
        var x = p.v, r = p.v.map { $0 * 0.5 + 0.1 }
        let q = p.v.map { $0 * $0 }, pVec = p.v.reversed().map { $0 }
        // Without a preconditioner the kernels take nil and the reference uses the identity.
        let pre = (0..<(3 * W * m)).map { i -> Double in
            preconditioned ? Double(i % 7) * 0.1 + 0.05 : [1.0, 0.0, 1.0][(i / W) % 3]
        }
        let alpha = (0..<W).map { 0.01 * Double($0 + 1) }
        var out = [Double](repeating: 0, count: 2 * W)
        let (x0, r0) = (x, r)
        pre.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { o in
                sf_cg_update(m, alpha, &x, &r, pVec, q, preconditioned ? pb.baseAddress : nil, o.baseAddress!, o.baseAddress! + W)
            }
        }
        for lane in 0..<W {
            var rz = 0.0, rr = 0.0
            for i in 0..<m {
                let o = 2 * W * i + lane
                #expect(x[o].bitPattern == (x0[o] + alpha[lane] * pVec[o]).bitPattern)
                let rb = r0[o] - alpha[lane] * q[o], ra = r0[o + W] - alpha[lane] * q[o + W]
                #expect(r[o].bitPattern == rb.bitPattern && r[o + W].bitPattern == ra.bitPattern)
                let zb: Double, za: Double
                if preconditioned {
                    let a = pre[3 * W * i + lane], b = pre[3 * W * i + W + lane], c = pre[3 * W * i + 2 * W + lane]
                    zb = a * rb + b * ra; za = b * rb + c * ra
                } else {
                    zb = rb; za = ra
                }
                rz += rb * zb + ra * za
                rr += rb * rb + ra * ra
            }
            #expect(out[lane].bitPattern == rz.bitPattern && out[W + lane].bitPattern == rr.bitPattern)
        }
        // The direction: p = M^-1 r + beta p where kept, 0 elsewhere, and its float copy.
        var direction = pVec
        var directionSingle = [Float](repeating: .nan, count: pVec.count)
        let beta = (0..<W).map { 0.3 + 0.01 * Double($0) }
        let keep: [Int64] = (0..<W).map { $0 % 3 == 0 ? 0 : -1 }
        pre.withUnsafeBufferPointer { pb in
            sf_cg_direction(m, beta, keep, r, preconditioned ? pb.baseAddress : nil, &direction, &directionSingle)
        }
        for i in 0..<m {
            for lane in 0..<W {
                let o = 2 * W * i + lane
                let zb: Double, za: Double
                if preconditioned {
                    let a = pre[3 * W * i + lane], b = pre[3 * W * i + W + lane], c = pre[3 * W * i + 2 * W + lane]
                    zb = a * r[o] + b * r[o + W]; za = b * r[o] + c * r[o + W]
                } else {
                    zb = r[o]; za = r[o + W]
                }
                let pb = zb + beta[lane] * pVec[o]
                let pa = za + beta[lane] * pVec[o + W]
                #expect(direction[o].bitPattern == (keep[lane] == 0 ? 0 : pb.bitPattern))
                #expect(direction[o + W].bitPattern == (keep[lane] == 0 ? 0 : pa.bitPattern))
                #expect(directionSingle[o].bitPattern == Float(direction[o]).bitPattern)
                #expect(directionSingle[o + W].bitPattern == Float(direction[o + W]).bitPattern)
            }
        }
    }

    /// The shifted systems' step: listed systems only, x += alpha p then p = zeta r + beta p
    /// from the chosen half of r.
    @Test(arguments: [0, 1])
    func shiftUpdateMatchesScalarReference(half: Int) {
        let p = Problem(seed: 13)
        let m = p.m, W = Self.W, systems = 4
        let r = p.v
        var xp = (0..<(2 * W * m * systems)).map { Double($0 % 17) * 0.03 - 0.2 }
        let before = xp
        let shifts: [Int64] = [3, 1]
        let scalars = (0..<(3 * W * shifts.count)).map { 0.1 + 0.07 * Double($0 % 11) }
        sf_cg_shift_update(m, half, shifts.count, shifts, systems, scalars, r, &xp)
        for i in 0..<m {
            for j in 0..<systems {
                let s = shifts.firstIndex(of: Int64(j))
                for lane in 0..<W {
                    let x = 2 * W * (i * systems + j) + lane, d = x + W
                    guard let s else {
                        #expect(xp[x].bitPattern == before[x].bitPattern && xp[d].bitPattern == before[d].bitPattern)
                        continue
                    }
                    let alpha = scalars[3 * W * s + lane], zeta = scalars[3 * W * s + W + lane]
                    let beta = scalars[3 * W * s + 2 * W + lane]
                    #expect(xp[x].bitPattern == (before[x] + alpha * before[d]).bitPattern)
                    #expect(xp[d].bitPattern == (zeta * r[2 * W * i + W * half + lane] + beta * before[d]).bitPattern)
                }
            }
        }
    }
}
