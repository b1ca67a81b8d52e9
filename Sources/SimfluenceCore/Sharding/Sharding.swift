/// One slice of the test set, for fitting a model on many machines (`fit --shard K/N`).
///
/// Slice K (1-based) of N holds test columns floor((K-1) T / N) ..< floor(K T / N) of the log's
/// T test examples: contiguous, in log order, sizes differing by at most one, and the slices
/// 1...N cover every test example exactly once. Test examples are fitted independently, so the
/// slices' parameters are bit-identical to the corresponding rows of an unsharded fit.
public struct ShardSpec: Sendable, Equatable, CustomStringConvertible {
    /// 1-based slice index.
    public var index: Int
    /// Number of slices.
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 1, index <= count else {
            throw SimfluenceError.invalidArgument("a shard is K/N with 1 <= K <= N (got \(index)/\(count))")
        }
        self.index = index
        self.count = count
    }

    /// Parses "K/N".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(trimmed(parts[0])),
              let n = Int(trimmed(parts[1])) else {
            throw SimfluenceError.invalidArgument("a shard is written K/N, for example 3/16 (got '\(text)')")
        }
        try self.init(index: k, count: n)
    }

    /// The test columns of this slice among `tests` test examples.
    public func range(tests: Int) -> Range<Int> {
        // floor(tests x k / count) in double-width arithmetic: no overflow for any sizes.
        func boundary(_ k: Int) -> Int {
            count.dividingFullWidth(max(0, tests).multipliedFullWidth(by: k)).quotient
        }
        return boundary(index - 1)..<boundary(index)
    }

    public var description: String { "\(index)/\(count)" }
}

private func trimmed(_ s: Substring) -> String {
    var s = s
    while s.first == " " || s.first == "\t" { s.removeFirst() }
    while s.last == " " || s.last == "\t" { s.removeLast() }
    return String(s)
}

/// A fingerprint of a training log: a 64-bit hash of its training and test ids, and of every
/// run's name, first loss step, curriculum (as indices) and recorded losses (bit patterns).
/// Two logs with the same fingerprint are, for fitting purposes, the same log. Written as
/// "v1:<16 hex digits>".
public enum LogFingerprint {
    public static func compute(_ log: TrainingLog) -> String {
        var h = Hasher64()
        h.add(log.trainIDs.count)
        for id in log.trainIDs { h.add(id) }
        h.add(log.testIDs.count)
        for id in log.testIDs { h.add(id) }
        h.add(log.runs.count)
        for run in log.runs {
            h.add(run.name)
            h.add(run.firstLossStep)
            h.add(run.batches.count)
            for batch in run.batches {
                h.add(batch.count)
                for i in batch { h.add(i) }
            }
            h.add(run.losses.rows)
            h.add(run.losses.columns)
            run.losses.storage.withUnsafeBufferPointer { s in
                for v in s { h.add(v.bitPattern) }
            }
        }
        let s = String(h.value, radix: 16)
        return "v1:" + String(repeating: "0", count: 16 - s.count) + s
    }
}

/// A simple, fast, well-mixing 64-bit hash over 64-bit words (not cryptographic).
struct Hasher64 {
    private(set) var value: UInt64 = 0x243F_6A88_85A3_08D3

    @inline(__always)
    mutating func add(_ w: UInt64) {
        var x = value ^ w
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        value = x ^ (x >> 31)
    }

    mutating func add(_ i: Int) { add(UInt64(bitPattern: Int64(i))) }

    mutating func add(_ s: String) {
        let bytes = Array(s.utf8)
        add(bytes.count)
        var k = 0
        while k < bytes.count {
            var w: UInt64 = 0
            for j in 0..<min(8, bytes.count - k) { w |= UInt64(bytes[k + j]) << (8 * UInt64(j)) }
            add(w)
            k += 8
        }
    }
}

/// Joins the parts of a sharded fit (`simfluence merge`).
public enum ShardMerge {
    /// Joins `parts` (in any order) into the simulator an unsharded fit would have produced:
    /// test examples in log order, parameters bit for bit.
    ///
    /// Refuses parts that do not belong together: a missing fingerprint or shard record,
    /// different logs (fingerprints), methods, forms, lambdas, training ids, seen flags, fitted
    /// runs, starting steps, shard counts or cross-validation records; duplicated or missing
    /// slices; or a part whose test examples are not its slice's size.
    public static func merge(_ parts: [FittedSimulator]) throws -> FittedSimulator {
        guard let first = parts.first else { throw SimfluenceError.invalidArgument("merge needs at least one part") }
        func fail(_ m: String) -> SimfluenceError { .invalidArgument("cannot merge: \(m)") }
        var specs: [ShardSpec] = []
        for (k, p) in parts.enumerated() {
            guard let spec = p.provenance.shard else {
                throw fail("part \(k + 1) was not fitted with --shard (no shard record)")
            }
            guard p.provenance.logFingerprint != nil else { throw fail("part \(k + 1) has no log fingerprint") }
            if case .unsupported(let why) = p.method.descriptor.sharding {
                throw fail("part \(k + 1) is a \(p.method) model, which cannot be sharded: \(why)")
            }
            specs.append(spec)
        }
        let n = specs[0].count
        guard let total = first.provenance.shardTotalTests else { throw fail("part 1 does not record the test-set size") }
        for (k, p) in parts.enumerated() {
            try checkBelongs(p, to: first, what: "part \(k + 1) (shard \(specs[k]))", spec: specs[k], shards: n, total: total)
        }
        var byIndex = [Int: Int]()
        for (k, s) in specs.enumerated() {
            if let other = byIndex[s.index] { throw fail("parts \(other + 1) and \(k + 1) are both shard \(s)") }
            byIndex[s.index] = k
        }
        let missing = (1...n).filter { byIndex[$0] == nil }
        if !missing.isEmpty { throw fail("missing shard(s) \(missing.map { "\($0)/\(n)" }.joined(separator: ", "))") }
        let merged = concatenate((1...n).map { parts[byIndex[$0]!] }, shards: n)
        // Validate the result as a loader would: a part relabelled to another slice (with its
        // checksum recomputed) passes every check above but repeats test ids.
        var seenIDs = Set<String>()
        for id in merged.testIDs where !seenIDs.insert(id).inserted {
            throw fail("test id '\(id)' appears in two parts: a part holds another slice's test examples (relabelled or from another split)")
        }
        return merged
    }

    /// Refuses a part that was not fitted like `first` (slice `spec` of `shards`, of `total` test examples).
    private static func checkBelongs(_ p: FittedSimulator, to first: FittedSimulator, what: String, spec: ShardSpec,
                                     shards n: Int, total: Int) throws {
        func fail(_ m: String) -> SimfluenceError { .invalidArgument("cannot merge: \(m)") }
        let pp = p.provenance, fp = first.provenance
        if pp.logFingerprint != fp.logFingerprint {
            throw fail("\(what) was fitted on a different log (fingerprint \(pp.logFingerprint ?? "?") vs \(fp.logFingerprint ?? "?"))")
        }
        if spec.count != n { throw fail("\(what) is one of \(spec.count) shards, part 1 one of \(n)") }
        if p.method != first.method || p.form != first.form {
            throw fail("\(what) is method \(p.method) (\(p.form.rawValue)), part 1 \(first.method) (\(first.form.rawValue))")
        }
        if p.lambda?.bitPattern != first.lambda?.bitPattern {
            throw fail("\(what) has lambda \(p.lambda.map { String($0) } ?? "none"), part 1 \(first.lambda.map { String($0) } ?? "none")")
        }
        if p.trainIDs != first.trainIDs || p.seen != first.seen { throw fail("\(what) has different training examples") }
        if p.fittedOn != first.fittedOn { throw fail("\(what) was fitted on different runs") }
        if p.startingStep != first.startingStep { throw fail("\(what) starts at a different step") }
        if pp.shardTotalTests != fp.shardTotalTests { throw fail("\(what) records a different test-set size") }
        if pp.lambdaChoice != fp.lambdaChoice || pp.crossValidation != fp.crossValidation {
            throw fail("\(what) chose lambda differently (lambda choice or cross-validation record)")
        }
        if (p.stepAlpha?.columns, p.stepBeta?.columns) != (first.stepAlpha?.columns, first.stepBeta?.columns)
            || (p.lossLower == nil) != (first.lossLower == nil) || (p.lossUpper == nil) != (first.lossUpper == nil)
            || p.carry.bitPattern != first.carry.bitPattern {
            throw fail("\(what) has different extended terms (step terms, loss bounds or carry-over) than part 1")
        }
        let expected = spec.range(tests: total).count
        if p.testIDs.count != expected {
            throw fail("\(what) holds \(p.testIDs.count) test examples, but slice \(spec) of \(total) has \(expected)")
        }
    }

    /// Joins checked parts, in slice order, row by row; the provenance is part 1's with the
    /// shard record dropped and the CG statistics the worst over parts.
    private static func concatenate(_ ordered: [FittedSimulator], shards n: Int) -> FittedSimulator {
        let first = ordered[0]
        let columns = first.trainIDs.count
        var a: [Double] = [], b: [Double] = []
        let total = ordered.reduce(0) { $0 + $1.testIDs.count }
        a.reserveCapacity(total * columns); b.reserveCapacity(total * columns)
        var testIDs: [String] = [], starting: [Double] = []
        var stepAlpha: [Double] = [], stepBeta: [Double] = [], lower: [Double] = [], upper: [Double] = []
        var iterations = 0, residual = 0.0
        for p in ordered {
            a.append(contentsOf: p.a.storage)
            b.append(contentsOf: p.b.storage)
            testIDs.append(contentsOf: p.testIDs)
            starting.append(contentsOf: p.startingLosses)
            stepAlpha += p.stepAlpha?.storage ?? []
            stepBeta += p.stepBeta?.storage ?? []
            lower += p.lossLower ?? []
            upper += p.lossUpper ?? []
            iterations = max(iterations, p.provenance.iterative?.maxIterations ?? 0)
            residual = max(residual, p.provenance.iterative?.maxRelativeResidual ?? 0)
        }
        var provenance = first.provenance
        provenance.shard = nil
        provenance.mergedFromShards = n
        provenance.iterative?.maxIterations = iterations
        provenance.iterative?.maxRelativeResidual = residual
        let solvers = Set(ordered.compactMap { $0.provenance.solver })
        if solvers.count > 1 { provenance.solver = solvers.sorted().joined(separator: "; ") }
        var merged = FittedSimulator(method: first.method, form: first.form, lambda: first.lambda, trainIDs: first.trainIDs,
                                     testIDs: testIDs, a: Matrix(rows: testIDs.count, columns: columns, storage: a),
                                     b: Matrix(rows: testIDs.count, columns: columns, storage: b), seen: first.seen,
                                     fittedOn: first.fittedOn, startingStep: first.startingStep, startingLosses: starting,
                                     provenance: provenance)
        if let s = first.stepAlpha { merged.stepAlpha = Matrix(rows: testIDs.count, columns: s.columns, storage: stepAlpha) }
        if let s = first.stepBeta { merged.stepBeta = Matrix(rows: testIDs.count, columns: s.columns, storage: stepBeta) }
        if first.lossLower != nil { merged.lossLower = lower }
        if first.lossUpper != nil { merged.lossUpper = upper }
        merged.carry = first.carry
        return merged
    }
}
