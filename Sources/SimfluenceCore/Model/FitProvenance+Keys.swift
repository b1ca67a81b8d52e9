/// The one mapping between ``FitProvenance`` and the string key-value metadata of model files.
///
/// Numbers are written as Swift prints them (`String(Double)`: the shortest text that reads
/// back to the same bits), lists comma-separated. Keys not listed here are method details.
extension FitProvenance {
    enum Key {
        static let lambdaChoice = "lambda_choice"
        static let cvFolds = "cv_folds"
        static let cvGrid = "cv_grid"
        static let cvScores = "cv_scores"
        static let cvSmoothingGrid = "cv_smoothing_grid"
        static let cvScoresByPoint = "cv_scores_by_point"
        static let cvCarryGrid = "cv_carry_grid"
        static let smoothing = "smoothing"
        static let carry = "carry"
        static let clampMultiple = "clamp_multiple"
        static let solver = "solver"
        static let cgTolerance = "cg_tolerance"
        static let cgMaxIterations = "cg_max_iterations"
        static let cgMaxResidual = "cg_max_relative_residual"
        static let observedEvery = "observed_every"
        static let scale = "scale"
        static let scalePairs = "scale_pairs"
        static let log = "log"
        static let fingerprint = "log_fingerprint"
        static let shard = "shard"
        static let shardTotalTests = "shard_total_tests"
        static let mergedFromShards = "merged_from_shards"

        static let typed: Set<String> = [
            lambdaChoice, cvFolds, cvGrid, cvScores, cvSmoothingGrid, cvScoresByPoint, cvCarryGrid, smoothing, carry,
            clampMultiple, solver, cgTolerance, cgMaxIterations, cgMaxResidual, observedEvery, scale, scalePairs, log,
            fingerprint, shard, shardTotalTests, mergedFromShards,
        ]
    }

    /// The provenance as model-file metadata (key -> string).
    public var metadata: [String: String] {
        var m = details
        func list(_ v: [Double]) -> String { v.map { String($0) }.joined(separator: ",") }
        m[Key.lambdaChoice] = lambdaChoice?.rawValue
        if let cv = crossValidation {
            m[Key.cvFolds] = String(cv.folds)
            m[Key.cvGrid] = list(cv.grid)
            m[Key.cvScores] = list(cv.scores)
            m[Key.cvSmoothingGrid] = cv.smoothingGrid.map(list)
            m[Key.cvScoresByPoint] = cv.scoresByPoint.map(list)
            m[Key.cvCarryGrid] = cv.carryGrid.map(list)
        }
        m[Key.smoothing] = smoothing.map { String($0) }
        m[Key.carry] = carry.map { String($0) }
        m[Key.clampMultiple] = clampMultiple.map { String($0) }
        m[Key.solver] = solver
        if let it = iterative {
            m[Key.cgTolerance] = String(it.tolerance)
            m[Key.cgMaxIterations] = String(it.maxIterations)
            m[Key.cgMaxResidual] = String(it.maxRelativeResidual)
        }
        m[Key.observedEvery] = observedEvery.map { String($0) }
        if let s = scale {
            m[Key.scale] = String(s.scale)
            m[Key.scalePairs] = String(s.pairs)
        }
        m[Key.log] = log
        m[Key.fingerprint] = logFingerprint
        m[Key.shard] = shard?.description
        m[Key.shardTotalTests] = shardTotalTests.map { String($0) }
        m[Key.mergedFromShards] = mergedFromShards.map { String($0) }
        return m
    }

    /// Reads provenance from model-file metadata. Throws
    /// ``SimfluenceError/invalidArgument(_:)`` naming the key when a typed value is malformed or
    /// a group is incomplete (a CV grid without scores, a shard without the test-set size).
    public init(metadata m: [String: String]) throws {
        func bad(_ key: String, _ what: String) -> SimfluenceError {
            .invalidArgument("metadata \"\(key)\" should be \(what), found \"\(m[key] ?? "")\"")
        }
        func double(_ key: String) throws -> Double? {
            guard let text = m[key] else { return nil }
            guard let v = Double(text) else { throw bad(key, "a number") }
            return v
        }
        func int(_ key: String) throws -> Int? {
            guard let text = m[key] else { return nil }
            guard let v = Int(text) else { throw bad(key, "an integer") }
            return v
        }
        func list(_ key: String) throws -> [Double]? {
            guard let text = m[key] else { return nil }
            if text.isEmpty { return [] }
            return try text.split(separator: ",", omittingEmptySubsequences: false).map {
                guard let v = Double($0) else { throw bad(key, "a comma-separated list of numbers") }
                return v
            }
        }
        func require<T>(_ value: T?, _ key: String, with other: String) throws -> T {
            guard let value else { throw bad(key, "present with \"\(other)\"") }
            return value
        }
        self.init(details: m.filter { !Key.typed.contains($0.key) })
        if let text = m[Key.lambdaChoice] {
            guard let k = LambdaChoiceKind(rawValue: text) else { throw bad(Key.lambdaChoice, "\"fixed\" or \"cross-validated\"") }
            lambdaChoice = k
        }
        if let folds = try int(Key.cvFolds) {
            crossValidation = CrossValidationRecord(
                folds: folds, grid: try require(try list(Key.cvGrid), Key.cvGrid, with: Key.cvFolds),
                scores: try require(try list(Key.cvScores), Key.cvScores, with: Key.cvFolds),
                smoothingGrid: try list(Key.cvSmoothingGrid), scoresByPoint: try list(Key.cvScoresByPoint),
                carryGrid: try list(Key.cvCarryGrid))
        }
        smoothing = try double(Key.smoothing)
        carry = try double(Key.carry)
        clampMultiple = try double(Key.clampMultiple)
        solver = m[Key.solver]
        if let tolerance = try double(Key.cgTolerance) {
            iterative = IterativeSolveRecord(
                tolerance: tolerance,
                maxIterations: try require(try int(Key.cgMaxIterations), Key.cgMaxIterations, with: Key.cgTolerance),
                maxRelativeResidual: try require(try double(Key.cgMaxResidual), Key.cgMaxResidual, with: Key.cgTolerance))
        }
        observedEvery = try int(Key.observedEvery)
        if let s = try double(Key.scale) {
            scale = ScaleRecord(scale: s, pairs: try require(try int(Key.scalePairs), Key.scalePairs, with: Key.scale))
        }
        log = m[Key.log]
        logFingerprint = m[Key.fingerprint]
        if let text = m[Key.shard] {
            guard let spec = try? ShardSpec(parsing: text) else { throw bad(Key.shard, "a slice K/N") }
            shard = spec
        }
        shardTotalTests = try int(Key.shardTotalTests)
        mergedFromShards = try int(Key.mergedFromShards)
        // A typed key whose group is missing (cv_grid without cv_folds, ...) would be lost.
        let kept = metadata
        if let orphan = m.keys.sorted().first(where: { Key.typed.contains($0) && kept[$0] == nil }) {
            throw SimfluenceError.invalidArgument("metadata \"\(orphan)\" appears without the rest of its group (for example cv_grid needs cv_folds and cv_scores)")
        }
    }
}
