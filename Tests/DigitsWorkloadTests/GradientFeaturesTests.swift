import Foundation
import Testing
@testable import DigitsWorkload
import SimfluenceCore

/// A small protocol (12 steps per run) that keeps debug-build tests fast.
private func smallWorkload(runs: Int = 6) throws -> DigitsFineTuning {
    try DigitsFineTuning(protocol: WorkloadProtocol(poolSize: 40, sampleSize: 24, batchSize: 4, epochs: 2, runs: runs,
                                                    testSize: 30, seed: 5, warmupSize: 120, warmupEpochs: 2))
}

@Suite struct WorkloadGradientFeaturesTests {
    @Test func checkpointsCoverTheRunAndRecordTheProtocol() throws {
        let w = try smallWorkload()
        let f = try w.gradientFeatures(every: 5)  // T = 12: steps 0, 5, 10 (5, 5, 2 steps) and final 12 (0)
        try f.validate()
        #expect(f.checkpoints.map(\.step) == [0, 5, 10, 12])
        #expect(f.checkpoints.map(\.stepsCovered) == [5, 5, 2, 0])
        #expect(f.totalStepsCovered == w.settings.stepsPerRun)
        #expect(f.checkpoints.allSatisfy { $0.learningRate == w.settings.optimizerSettings.learningRate })
        #expect(f.batchSize == 4 && f.dimension == w.model.parameterCount)
        #expect(f.trainIDs == w.poolIDs && f.testIDs == w.testIDs)
        #expect(f.finalCheckpointIndex == 3)
        let noFinal = try w.gradientFeatures(every: 6, includeFinal: false)
        #expect(noFinal.checkpoints.map(\.step) == [0, 6] && noFinal.checkpoints.map(\.stepsCovered) == [6, 6])
        #expect(throws: SimfluenceError.self) { try w.gradientFeatures(every: 0) }
        #expect(throws: SimfluenceError.self) { try w.gradientFeatures(referenceRun: 7) }
    }

    @Test func gradientsAreTheExactPerExampleGradientsAtTheReferenceRunsCheckpoints() throws {
        let w = try smallWorkload()
        let f = try w.gradientFeatures(every: 4)
        // Step 0 is the shared warm-up checkpoint.
        for (r, id) in w.poolIDs.enumerated() {
            #expect(f.checkpoints[0].train.row(r) == w.perExampleGradient(id: id, at: w.checkpoint)!.gradient)
        }
        for (r, id) in w.testIDs.enumerated() {
            #expect(f.checkpoints[0].test.row(r) == w.perExampleGradient(id: id, at: w.checkpoint)!.gradient)
        }
        // Later checkpoints are the reference run's real parameters: the test losses there are the
        // losses run1 records at that step, and the gradients are taken at those parameters.
        let run1 = try w.train(name: "run1", batches: w.curriculum(ofRun: 1))
        let steps = f.checkpoints.map(\.step)
        #expect(steps == [0, 4, 8, 12])
        let parameters = w.referenceParameters(run: 1, at: steps)
        #expect(parameters[0] == w.checkpoint)
        for (k, step) in steps.enumerated() {
            #expect(w.testLosses(at: parameters[k]) == run1.losses.row(step))
            for r in [0, 17, 39] {
                #expect(f.checkpoints[k].train.row(r) == w.perExampleGradient(id: w.poolIDs[r], at: parameters[k])!.gradient)
            }
            #expect(f.checkpoints[k].test.row(29) == w.perExampleGradient(id: w.testIDs[29], at: parameters[k])!.gradient)
        }
        #expect(parameters[1] != parameters[0] && parameters[3] != parameters[2])
        // Another reference run has other checkpoints (after step 0).
        let other = try w.gradientFeatures(every: 4, referenceRun: 2)
        #expect(other.checkpoints[0] == f.checkpoints[0] && other.checkpoints[1] != f.checkpoints[1])
    }

    @Test func recordedGradientMatchesFiniteDifferences() throws {
        let w = try smallWorkload()
        let f = try w.gradientFeatures(every: 6)
        let p = w.referenceParameters(run: 1, at: [6])[0]
        let id = w.testIDs[3]
        let x = w.pixels(of: id), y = w.label(of: id)!
        let h = 1e-6
        for k in [w.model.b1Offset + 3, w.model.w2Offset + 41, w.model.b2Offset + 2] {
            var plus = p, minus = p
            plus[k] += h; minus[k] -= h
            let numeric = (w.model.loss(features: x, label: y, parameters: plus)
                           - w.model.loss(features: x, label: y, parameters: minus)) / (2 * h)
            #expect(abs(f.checkpoints[1].test[3, k] - numeric) < 1e-7)
        }
    }

    @Test func deterministicAndThreadIndependent() throws {
        let w = try smallWorkload()
        let a = try w.gradientFeatures(every: 4, threads: 1)
        let b = try w.gradientFeatures(every: 4, threads: 2)
        let c = try smallWorkload().gradientFeatures(every: 4)
        #expect(a == b && a == c)
    }

    @Test func classicSimulatorsRunOnTheDigitsWorkload() throws {
        let w = try smallWorkload(runs: 6)
        let log = try w.trainAll()
        let split = try HoldoutSplit.last(2, of: log)
        let f = try w.gradientFeatures(every: 4)
        let persistence = Scoring.score(method: "persistence", lambda: nil,
                                        predictions: Baselines.persistence(split.heldOut), heldOut: split.heldOut)
        var report: [String] = []
        for method in ClassicMethod.allCases {
            let sim = try ClassicScores.simulator(method, features: f, log: log, trainingRuns: split.training)
            #expect(sim.seen.allSatisfy { $0 } && sim.trainIDs == log.trainIDs && sim.testIDs == log.testIDs)
            let predictions = try HeldOutSimulation.predict(sim, heldOut: split.heldOut, unseen: .error)
            let scores = Scoring.score(method: method.rawValue, lambda: nil, predictions: predictions, heldOut: split.heldOut)
            report.append("\(method.rawValue): all-steps MSE \(scores.allStepsMSE.mean) scale \(sim.metadata["scale"] ?? "-")")
            if method == .tracinCPScaled {
                #expect(scores.allStepsMSE.mean.isFinite)
                // The fitted scale is positive: gradient descent lowers aligned test losses.
                #expect((Double(sim.metadata["scale"] ?? "") ?? 0) > 0)
                // And the scaled simulator is no worse than predicting no change at all.
                #expect(scores.allStepsMSE.mean <= persistence.allStepsMSE.mean)
            }
        }
        if ProcessInfo.processInfo.environment["SIMFLUENCE_VERBOSE"] != nil {
            print((report + ["persistence: all-steps MSE \(persistence.allStepsMSE.mean)"]).joined(separator: "\n"))
        }
    }
}

/// Held-out scores of every classic method on the default protocol (32 runs, last 5 held out).
/// Off unless SIMFLUENCE_CLASSIC_REPORT is set (run it in release:
/// `SIMFLUENCE_CLASSIC_REPORT=1 swift test -c release --filter ClassicReport`).
@Suite struct ClassicReport {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIMFLUENCE_CLASSIC_REPORT"] != nil))
    func defaultProtocolReport() throws {
        let env = ProcessInfo.processInfo.environment
        let clock = ContinuousClock()
        var start = clock.now
        let w = try DigitsFineTuning(protocol: WorkloadProtocol())
        let log = try w.trainAll()
        print("workload + 32 runs: \(clock.now - start)")
        start = clock.now
        let f = try w.gradientFeatures(every: env["EVERY"].flatMap(Int.init) ?? 24)
        print("gradient features (\(f.checkpoints.count) checkpoints, d = \(f.dimension)): \(clock.now - start)")
        let split = try HoldoutSplit.last(5, of: log)
        let damping = env["DAMPING"].flatMap(Double.init)
        for method in ClassicMethod.allCases {
            start = clock.now
            let sim = try ClassicScores.simulator(method, features: f, log: log, trainingRuns: split.training, damping: damping)
            let elapsed = clock.now - start
            let predictions = try HeldOutSimulation.predict(sim, heldOut: split.heldOut, unseen: .zero)
            let s = Scoring.score(method: method.rawValue, lambda: nil, predictions: predictions, heldOut: split.heldOut)
            print("\(method.rawValue): MSE \(s.allStepsMSE.mean) final \(s.finalStepMSE.mean) rho-ex \(s.spearmanAcrossExamples.mean) rho-runs \(s.spearmanAcrossRuns?.mean ?? .nan) scale \(sim.metadata["scale"] ?? "-") damping \(sim.metadata["damping"] ?? "-") [\(elapsed)]")
        }
        for (name, p) in [("persistence", Baselines.persistence(split.heldOut)),
                          ("mean-run", Baselines.meanRun(training: split.training, heldOut: split.heldOut))] {
            let s = Scoring.score(method: name, lambda: nil, predictions: p, heldOut: split.heldOut)
            print("\(name): MSE \(s.allStepsMSE.mean) final \(s.finalStepMSE.mean) rho-ex \(s.spearmanAcrossExamples.mean) rho-runs \(s.spearmanAcrossRuns?.mean ?? .nan)")
        }
    }
}
