import Foundation
import Testing
import Simfluence

/// A method defined outside the library, as a user (or a new file in the library) would add
/// one: one descriptor type. It runs through evaluation, bootstrap, sharding and model files
/// without any other change.
///
/// Constant drift: L_t = L_{t-1} + d_z, with d_z the mean observed one-step change of test
/// example z over the training runs (curriculum-blind; it stores d as a one-column step term).
struct ConstantDriftMethod: MethodDescriptor {
    var name: String { "constant-drift" }
    var family: MethodFamily { .extended }
    var summary: String { "L_t = L_{t-1} + d, d the mean step change (a test of the descriptor)" }
    var needs: MethodNeeds { MethodNeeds(gradients: false, gappedLogs: .interpolated) }
    var solvers: Set<SolverKind> { [.auto] }
    var sharding: ShardSupport { .byTestRows }

    func memoryEstimate(_ request: FitRequest) -> FitMemory.Estimate {
        FitMemory.Estimate(bytes: 16 * request.log.testIDs.count * max(1, request.log.trainIDs.count), detail: "A and B")
    }

    func fit(_ request: FitRequest) throws -> MethodFit {
        let log = request.log
        let tests = request.tests ?? Array(log.testIDs.indices)
        var drift = [Double](repeating: 0, count: tests.count)
        var steps = 0
        for run in request.runs where run.losses.rows >= 2 {
            for r in 1..<run.losses.rows {
                for (c, z) in tests.enumerated() { drift[c] += run.losses[r, z] - run.losses[r - 1, z] }
                steps += 1
            }
        }
        let n = log.trainIDs.count
        var sim = FittedSimulator(method: MethodName(self), form: .additive, lambda: nil, trainIDs: log.trainIDs,
                                  testIDs: tests.map { log.testIDs[$0] }, a: Matrix(rows: tests.count, columns: n),
                                  b: Matrix(rows: tests.count, columns: n), seen: Array(repeating: true, count: n),
                                  fittedOn: request.runs.map(\.name),
                                  startingStep: request.runs.map(\.firstLossStep).min() ?? 0,
                                  startingLosses: tests.map { z in request.runs.map { $0.losses[0, z] }.reduce(0, +) / Double(max(1, request.runs.count)) },
                                  provenance: FitProvenance(details: ["drift_steps": String(steps)]))
        sim.stepAlpha = Matrix(rows: tests.count, columns: 1)
        sim.stepBeta = Matrix(rows: tests.count, columns: 1, storage: drift.map { $0 / Double(max(1, steps)) })
        return MethodFit(simulator: sim, selection: nil, seconds: 0)
    }

    func refit(like fitted: FittedSimulator, _ request: FitRequest) throws -> FittedSimulator {
        try fit(request).simulator
    }

    /// Its own rollout (not the standard recurrence's): L_t = L_{t-1} + d_z, whatever the batch.
    func simulate<C: Collection<[Int]>>(_ model: FittedSimulator, _ batches: C, initial: [Double], tests: [Int]?,
                                        firstStep: Int) -> Rollout {
        let tests = tests ?? Array(model.testIDs.indices)
        var out = Matrix(rows: batches.count + 1, columns: tests.count)
        for (c, z) in tests.enumerated() {
            out[0, c] = initial[c]
            for t in 1...max(1, batches.count) where t <= batches.count { out[t, c] = out[t - 1, c] + model.stepBeta![z, 0] }
        }
        return Rollout(losses: out, clamped: 0)
    }

    func finalLosses(_ model: FittedSimulator, curricula: [[[Int]]], initial: [Double], tests: [Int]?, threads: Int) -> Matrix {
        let width = tests?.count ?? model.testIDs.count
        var out = Matrix(rows: curricula.count, columns: width)
        for (k, c) in curricula.enumerated() {
            let losses = simulate(model, c, initial: initial, tests: tests, firstStep: model.startingStep + 1).losses
            for j in 0..<width { out[k, j] = losses[c.count, j] }
        }
        return out
    }
}

@Suite struct AddingAMethodTests {
    static let method = MethodName(ConstantDriftMethod())
    /// A log whose every test loss falls by exactly 0.01 a step, whatever the curriculum.
    static let log: TrainingLog = {
        let planted = PlantedModel.random(pool: 10, tests: 4, batchSize: 2, seed: 31)
        var log = planted.generateLog(.init(runs: 6, sample: 8, batchSize: 2, epochs: 2, noise: 0), seed: 32)
        for k in log.runs.indices {
            for r in 0..<log.runs[k].losses.rows {
                for z in 0..<4 { log.runs[k].losses[r, z] = 3 + Double(z) - 0.01 * Double(r) }
            }
        }
        return log
    }()

    @Test func evaluatesBesideTheBuiltInMethods() throws {
        let split = try HoldoutSplit.last(2, of: Self.log)
        let result = try Evaluator.evaluate([Self.method, .linear], log: Self.log, split: split, inputs: MethodInputs(lambda: .fixed(0.1)))
        #expect(result.results.map(\.scores.method) == ["constant-drift", "linear", "persistence", "mean-run"])
        // The drift is the log's exact dynamics: the simulator reproduces the held-out runs.
        #expect(result.results[0].scores.allStepsMSE.mean < 1e-20)
        #expect(result.results[0].clamped == 0)
        #expect(result.results[2].scores.allStepsMSE.mean > 1e-6)
    }

    @Test func roundTripsThroughAModelFileWithItsRegistry() throws {
        let fit = try MethodFitting.fit(Self.method, log: Self.log, runs: Self.log.runs, inputs: MethodInputs(lambda: .fixed(0)))
        let bytes = ModelFile.encode(fit.simulator)
        let registry = MethodRegistry.builtIn.adding(ConstantDriftMethod())
        let back = try bytes.withUnsafeBytes { try ModelFile.decode($0, source: "m", registry: registry) }
        #expect(back == fit.simulator)
        #expect(back.method.descriptor is ConstantDriftMethod)
        // A build that does not know the method refuses the file by name.
        #expect(throws: SimfluenceError.self) { try bytes.withUnsafeBytes { try ModelFile.decode($0, source: "m") } }
    }

    /// The new method joins a stack beside a built-in one; the log's exact dynamics take all the
    /// weight, and a stack holding it reads back with the registry that knows it.
    @Test func joinsAStack() throws {
        let stack = StackMethod(candidates: [.linear, Self.method])
        let fit = try stack.fit(FitRequest(log: Self.log, runs: Self.log.runs, inputs: MethodInputs(lambda: .auto(grid: [0.1, 1], folds: 3))))
        #expect(fit.simulator.method == Self.method, "\(fit.simulator.provenance.details)")
        let linear = try MethodFitting.fit(.linear, log: Self.log, runs: Self.log.runs, inputs: MethodInputs(lambda: .fixed(0.1))).simulator
        let mixed = FittedSimulator.stack([StackComponent(weight: 0.5, simulator: linear), StackComponent(weight: 0.5, simulator: fit.simulator)],
                                          method: MethodName(stack), provenance: FitProvenance())
        let registry = MethodRegistry.builtIn.adding(ConstantDriftMethod())
        let back = try ModelFile.encode(mixed).withUnsafeBytes { try ModelFile.decode($0, source: "m", registry: registry) }
        #expect(back == mixed)
        #expect(back.components[1].simulator.method.descriptor is ConstantDriftMethod)
    }

    @Test func shardsMergeAndBootstraps() throws {
        var parts: [FittedSimulator] = []
        for k in 1...2 {
            let spec = try ShardSpec(index: k, count: 2)
            parts.append(try FitPipeline.fit(Self.method, log: Self.log, inputs: MethodInputs(lambda: .fixed(0)), shard: spec).simulator)
        }
        let merged = try ShardMerge.merge(parts.reversed())
        let whole = try FitPipeline.fit(Self.method, log: Self.log, inputs: MethodInputs(lambda: .fixed(0))).simulator
        #expect(merged.stepBeta == whole.stepBeta && merged.testIDs == whole.testIDs)
        let split = try HoldoutSplit.last(2, of: Self.log)
        let iv = try Bootstrap.heldOut(Self.method, fitted: whole, log: Self.log, training: split.training, heldOut: split.heldOut,
                                       inputs: MethodInputs(lambda: .fixed(0)), replicates: 3, seed: 1)
        #expect(iv.replicates == 3 && iv.lower.count == 2)
    }

    @Test func solverAndSliceChecksFollowTheDescriptor() throws {
        var inputs = MethodInputs(lambda: .fixed(0))
        inputs.solver = .dense
        #expect(throws: SimfluenceError.self) {
            try MethodFitting.fit(Self.method, log: Self.log, runs: Self.log.runs, inputs: inputs)
        }
    }
}
