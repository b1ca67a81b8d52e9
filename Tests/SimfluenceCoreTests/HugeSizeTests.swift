import Testing
@testable import SimfluenceCore

/// Sizes near Int.max from flags and files never trap (issue 14, C).
@Suite struct HugeSizeTests {
    @Test func shardRangesDoNotOverflow() throws {
        let huge = try ShardSpec(index: Int.max, count: Int.max)
        #expect(huge.range(tests: 10) == 9..<10)
        #expect(try ShardSpec(index: 1, count: Int.max).range(tests: Int.max) == 0..<1)
        #expect(try ShardSpec(index: 3, count: 4).range(tests: 10) == 5..<7)
    }

    @Test func aPartClaimingAHugeTestSetIsRefused() throws {
        let planted = PlantedModel.random(pool: 6, tests: 4, batchSize: 2, seed: 5)
        let log = planted.generateLog(.init(runs: 3, sample: 4, batchSize: 2, epochs: 1, noise: 0), seed: 6)
        var parts: [FittedSimulator] = []
        for k in 1...2 {
            let spec = try ShardSpec(index: k, count: 2)
            var sim = try MethodFitting.fit(.linear, log: log, runs: log.runs, lambda: .fixed(0.1),
                                            tests: Array(spec.range(tests: 4))).simulator
            sim.provenance.logFingerprint = LogFingerprint.compute(log)
            sim.provenance.shard = spec
            sim.provenance.shardTotalTests = 1 << 62
            parts.append(sim)
        }
        #expect(throws: SimfluenceError.self) { try ShardMerge.merge(parts) }
    }

    @Test func gradientStepCountsAreBounded() {
        let m = Matrix(rows: 1, columns: 1, storage: [1])
        let f = GradientFeatures(trainIDs: ["a"], testIDs: ["t"], batchSize: 1,
                                 checkpoints: [GradientCheckpoint(step: 0, learningRate: 0.1, stepsCovered: Int.max, train: m, test: m)])
        #expect(throws: SimfluenceError.self) { try f.validate() }
    }

    /// A damping so large that the damped system overflows: the message says to lower it.
    @Test func hugeDampingAsksForASmallerOne() {
        let g = Matrix(rows: 3, columns: 2, storage: [1, 0, 0, 1, 1, 1])
        let t = Matrix(rows: 1, columns: 2, storage: [1, 2])
        let f = GradientFeatures(trainIDs: ["a", "b", "c"], testIDs: ["z"], batchSize: 1,
                                 checkpoints: [GradientCheckpoint(step: 0, learningRate: 0.1, stepsCovered: 3, train: g, test: t)])
        for solver in [InfluenceSolver.woodbury, .direct] {
            do {
                _ = try ClassicScores.scores(.influence, features: f, damping: 1e308, solver: solver)
                Issue.record("expected an error")
            } catch {
                #expect("\(error)".contains("smaller damping"), "\(error)")
            }
        }
    }
}
