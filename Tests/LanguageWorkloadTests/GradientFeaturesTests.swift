import Testing
@testable import LanguageWorkload
import SimfluenceCore

@Suite struct LanguageGradientFeaturesTests {
    @Test func featuresHaveTheCheckpointLayoutAndDoNotDependOnThreads() throws {
        let w = try sharedWorkload()
        let f = try w.gradientFeatures(threads: 2)
        try f.validate()
        #expect(f.trainIDs == w.poolIDs && f.testIDs == w.testIDs && f.batchSize == 3 && f.dimension == 64)
        #expect(f.checkpoints.map(\.step) == [0, 3, 6, 8] && f.checkpoints.map(\.stepsCovered) == [3, 3, 2, 0])
        #expect(f.checkpoints.allSatisfy { $0.learningRate == w.settings.learningRate })
        #expect(f.metadata["projection"] == "gaussian" && f.metadata["projection_dimension"] == "64")
        #expect(f.metadata["original_dimension"] == String(w.model.parameterCount))
        #expect(try w.referenceGradients(threads: 1) == f)
        // Later checkpoints differ (the parameters moved).
        #expect(f.checkpoints[0].train != f.checkpoints[3].train)
    }

    @Test func unprojectedRowsAreThePerExampleGradientsAtTheReferenceRunsCheckpoints() throws {
        let w = try sharedWorkload()
        let f = try w.gradientFeatures(every: 4, includeFinal: false, dimension: 0, threads: 2)
        #expect(f.dimension == w.model.parameterCount && f.metadata["projection"] == "none")
        #expect(f.checkpoints.map(\.step) == [0, 4])
        let p = w.referenceParameters(at: [0, 4])
        #expect(p[0] == w.checkpoint)
        for (k, id) in [(0, w.poolIDs[5]), (1, w.poolIDs[17])] {
            let g = w.perExampleGradient(id: id, at: p[k])!.gradient.map(Double.init)
            #expect(f.checkpoints[k].train.row(w.poolIndex(of: id)!) == g)
        }
        let gz = w.perExampleGradient(id: w.testIDs[2], at: p[1])!.gradient.map(Double.init)
        #expect(f.checkpoints[1].test.row(2) == gz)
        #expect(throws: SimfluenceError.self) { try w.gradientFeatures(every: 0) }
        #expect(throws: SimfluenceError.self) { try w.gradientFeatures(referenceRun: 4) }
    }

    @Test func projectionIsRTransposeTimesTheVectorWithoutMaterialisingR() {
        // 300 inputs: three blocks of rows (128, 128, 44).
        let projection = GaussianProjection(inputDimension: 300, dimension: 24, seed: 9)
        var rng = SeededGenerator(seed: 10)
        let count = 7
        let vectors = SharedBuffer<Float>(count: count * 300, value: 0)
        for k in 0..<(count * 300) { vectors.pointer[k] = Float(rng.nextGaussian()) }
        let projected = projection.project(vectors, count: count, threads: 2)
        #expect(projected == projection.project(vectors, count: count, threads: 1))
        let rows = (0..<300).map { projection.row($0) }
        for e in 0..<count {
            for j in 0..<24 {
                var exact = 0.0
                for a in 0..<300 { exact += Double(vectors.pointer[e * 300 + a]) * rows[a][j] }
                #expect(abs(projected[e, j] - exact) < 1e-4)
            }
        }
        // Entries are N(0, 1 / dimension): rows differ, the mean square is about 1/24.
        let all = rows.joined()
        let meanSquare = all.map { $0 * $0 }.reduce(0, +) / Double(all.count)
        #expect(abs(meanSquare * 24 - 1) < 0.1 && abs(all.reduce(0, +) / Double(all.count)) < 0.02)
        #expect(rows[0] != rows[1] && GaussianProjection(inputDimension: 300, dimension: 24, seed: 11).row(0) != rows[0])
    }

    @Test func projectedDotProductsEstimateTheOriginalOnes() {
        let d = 400, k = 1024
        let projection = GaussianProjection(inputDimension: d, dimension: k, seed: 3)
        var rng = SeededGenerator(seed: 4)
        let vectors = SharedBuffer<Float>(count: 2 * d, value: 0)
        for a in 0..<d {
            let x = rng.nextGaussian()
            vectors.pointer[a] = Float(x)
            vectors.pointer[d + a] = Float(0.6 * x + 0.8 * rng.nextGaussian())
        }
        let p = projection.project(vectors, count: 2, threads: 1)
        func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).map(*).reduce(0, +) }
        let g = (0..<d).map { Double(vectors.pointer[$0]) }, h = (0..<d).map { Double(vectors.pointer[d + $0]) }
        let scale = dot(g, g).squareRoot() * dot(h, h).squareRoot()
        // Standard error about sqrt(2 / k) of |g| |h|.
        #expect(abs(dot(p.row(0), p.row(1)) - dot(g, h)) < 0.15 * scale)
        #expect(abs(dot(p.row(0), p.row(0)) / dot(g, g) - 1) < 0.15)
    }
}

@Suite struct CounterfactualStudyTests {
    /// The core's counterfactual study runs on the workload end to end: fit runs, held-out random
    /// runs and order groups retrained, gradient features recorded for TracIn-CP, edits retrained.
    @Test func theCounterfactualStudyRunsOnTheLanguageWorkload() throws {
        let w = try sharedWorkload()
        let design = CounterfactualDesign(fitRuns: 4, randomRuns: 3, orderSubsets: 1, orders: 3, editReferences: 1, editTests: 1,
                                          editSizes: [2])
        let result = try CounterfactualStudy.run(w, design: design, methods: [.linear, .tracinCP],
                                                 inputs: MethodInputs(lambda: .fixed(0.1)), threads: 2)
        #expect(result.fitLog.runs.count == 4 && result.randomLog.runs.count == 3 && result.orderLog.runs.count == 3)
        #expect(result.fitLog.runs[1] == w.retrain(name: "run2", batches: w.curriculum(subset: 2, order: 0)))
        #expect(result.scores.map(\.method) == ["linear", "tracin-cp", "persistence", "mean-run"])
        #expect(!result.edits.isEmpty && result.edits.allSatisfy { $0.predictedChange.isFinite && $0.realChange.isFinite })
        #expect(result.fitLog.metadata["workload"] == "language-model-fine-tuning")
    }
}
