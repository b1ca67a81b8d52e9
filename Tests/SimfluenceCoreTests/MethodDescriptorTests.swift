import Testing
@testable import SimfluenceCore

/// The method descriptors: every method answers the pipeline's questions consistently, every
/// method/solver pair is honoured or refused, and the registry and the provenance mapping hold.
@Suite struct MethodDescriptorTests {
    static let planted = PlantedModel.random(pool: 12, tests: 3, batchSize: 3, seed: 21)
    static let log = planted.generateLog(.init(runs: 6, sample: 9, batchSize: 3, epochs: 2, noise: 1e-3), seed: 22)

    /// Random gradient features for the log's pool and test examples (two checkpoints).
    static let features: GradientFeatures = {
        var rng = SeededGenerator(seed: 23)
        func matrix(_ rows: Int) -> Matrix {
            Matrix(rows: rows, columns: 5, storage: (0..<(rows * 5)).map { _ in rng.nextGaussian() })
        }
        let checkpoints = [
            GradientCheckpoint(step: 0, learningRate: 0.1, stepsCovered: 6, train: matrix(12), test: matrix(3)),
            GradientCheckpoint(step: 6, learningRate: 0.1, stepsCovered: 0, train: matrix(12), test: matrix(3)),
        ]
        return GradientFeatures(trainIDs: log.trainIDs, testIDs: log.testIDs, batchSize: 3, checkpoints: checkpoints)
    }()

    static func inputs(_ solver: RidgeSolverChoice) -> MethodInputs {
        var inputs = MethodInputs(lambda: .fixed(0.3), gradients: features)
        inputs.solver = solver
        return inputs
    }

    @Test func registryNamesAreUniqueAndResolve() throws {
        let names = MethodRegistry.builtIn.methods.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count == 15)
        for name in names { #expect(MethodName(name)?.name == name) }
        #expect(MethodName("no-such-method") == nil)
        #expect(MethodName("all") == nil)
    }

    /// Every (method, solver) pair either fits with the solver it asked for (as the provenance
    /// records it) or is refused with a message naming the method and the solver.
    @Test(arguments: MethodRegistry.builtIn.methods.map(\.name),
          [RidgeSolverChoice.automatic, .dense, .iterative(tolerance: 1e-10)])
    func everyMethodSolverPairIsHonouredOrRefused(_ name: String, _ solver: RidgeSolverChoice) throws {
        let method = try #require(MethodName(name))
        let honoured = method.descriptor.solvers.contains(solver.kind)
        do {
            let fit = try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: Self.inputs(solver))
            #expect(honoured, "\(name) accepted --solver \(solver.kind.rawValue) it does not take")
            let recorded = fit.simulator.provenance.solver ?? ""
            switch solver {
            case .iterative:
                #expect(recorded.contains("conjugate gradients") && fit.simulator.provenance.iterative != nil)
            case .dense:
                #expect(recorded.contains("dense Cholesky") && fit.simulator.provenance.iterative == nil)
            case .automatic:
                break
            }
            #expect(fit.simulator.method == method)
        } catch SimfluenceError.invalidArgument(let message) {
            #expect(!honoured, "\(name) refused --solver \(solver.kind.rawValue): \(message)")
            #expect(message.contains(name) && message.contains("--solver \(solver.kind.rawValue)"))
        }
    }

    @Test(arguments: MethodRegistry.builtIn.methods.map(\.name))
    func slicesAreFittedOrRefusedAsTheDescriptorSays(_ name: String) throws {
        let method = try #require(MethodName(name))
        let inputs = Self.inputs(.automatic)
        switch method.descriptor.sharding {
        case .byTestRows:
            let whole = try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: inputs).simulator
            let slice = try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: inputs, tests: [1, 2]).simulator
            #expect(slice.testIDs == ["t1", "t2"])
            #expect(Array(slice.a.storage) == Array(whole.a.storage[12...]))
            #expect(Array(slice.b.storage) == Array(whole.b.storage[12...]))
        case .unsupported:
            #expect(throws: SimfluenceError.self) {
                try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: inputs, tests: [1])
            }
        }
    }

    /// The descriptor's batch of final losses is the last row of its trajectory, and its memory
    /// estimate is positive, for every method.
    @Test(arguments: MethodRegistry.builtIn.methods.map(\.name))
    func finalLossesAreTheLastRowOfTheRollout(_ name: String) throws {
        let method = try #require(MethodName(name))
        let fit = try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: Self.inputs(.automatic))
        let sim = fit.simulator
        let curricula = Self.log.runs.map { Array($0.simulatedBatches) }
        let initial = sim.startingLosses
        let finals = sim.simulateFinalLosses(curricula: curricula, initial: initial, threads: 2)
        for (c, batches) in curricula.enumerated() {
            let trajectory = sim.simulate(batches, initial: initial)
            #expect(finals.row(c) == trajectory.row(batches.count))
        }
        let request = FitRequest(log: Self.log, runs: Self.log.runs, inputs: Self.inputs(.automatic))
        #expect(method.descriptor.memoryEstimate(request).bytes > 0)
    }

    /// A refit on the same runs reproduces the fit: every hyperparameter the fit chose is held.
    @Test(arguments: MethodRegistry.builtIn.methods.map(\.name))
    func refitLikeTheFitReproducesIt(_ name: String) throws {
        let method = try #require(MethodName(name))
        var inputs = Self.inputs(.automatic)
        inputs.lambda = .auto(grid: [0.01, 0.1, 1], folds: 3)
        let fit = try MethodFitting.fit(method, log: Self.log, runs: Self.log.runs, inputs: inputs).simulator
        let refit = try method.descriptor.refit(like: fit, FitRequest(log: Self.log, runs: Self.log.runs, inputs: inputs))
        #expect(refit.a == fit.a && refit.b == fit.b && refit.carry == fit.carry)
        #expect(refit.stepAlpha == fit.stepAlpha && refit.stepBeta == fit.stepBeta)
    }

    @Test func provenanceRoundTripsThroughMetadata() throws {
        let p = FitProvenance(
            lambdaChoice: .crossValidated,
            crossValidation: CrossValidationRecord(folds: 5, grid: [0.01, 0.1], scores: [0.5, .infinity],
                                                   smoothingGrid: [100], scoresByPoint: [0.5, 0.25], carryGrid: [0, 0.9]),
            smoothing: 100, carry: 0.9, clampMultiple: 2, solver: "dense",
            iterative: IterativeSolveRecord(tolerance: 1e-7, maxIterations: 31, maxRelativeResidual: 9.5e-8),
            observedEvery: 4, scale: ScaleRecord(scale: 2.5, pairs: 135), log: "runs/", logFingerprint: "v1:0123456789abcdef",
            shard: try ShardSpec(index: 2, count: 3), shardTotalTests: 10, mergedFromShards: nil,
            details: ["rows": "40", "gradients_note": "x"])
        #expect(try FitProvenance(metadata: p.metadata) == p)
        #expect(p.metadata["cv_scores"] == "0.5,inf" && p.metadata["shard"] == "2/3" && p.metadata["lambda_choice"] == "cross-validated")
        // Every key the mapping writes is typed: none lands in the details bag on the way back.
        #expect(Set(p.metadata.keys).subtracting(["rows", "gradients_note"]).isSubset(of: FitProvenance.Key.typed))
    }

    @Test func malformedProvenanceNamesTheKey() {
        for (key, value) in [("cv_folds", "five"), ("smoothing", "x"), ("shard", "3"), ("lambda_choice", "maybe")] {
            var metadata = ["cv_grid": "1", "cv_scores": "1"]
            metadata[key] = value
            #expect(throws: SimfluenceError.invalidArgument("metadata \"\(key)\" should be \(Self.expected[key]!), found \"\(value)\"")) {
                try FitProvenance(metadata: metadata)
            }
        }
        #expect(throws: SimfluenceError.self) { try FitProvenance(metadata: ["cv_folds": "5"]) }
        #expect(throws: SimfluenceError.self) { try FitProvenance(metadata: ["cv_grid": "1,2"]) }
        #expect(throws: SimfluenceError.self) { try FitProvenance(metadata: ["cg_max_iterations": "3"]) }
    }

    static let expected = ["cv_folds": "an integer", "smoothing": "a number", "shard": "a slice K/N",
                           "lambda_choice": "\"fixed\" or \"cross-validated\""]
}
