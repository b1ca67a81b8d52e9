import Testing
@testable import DigitsWorkload
import SimfluenceCore

/// The bundled data set, loaded once for all tests.
private let bundled: Result<DigitsDataset, any Error> = Result { try DigitsDataset.bundled() }

private func dataset() throws -> DigitsDataset { try bundled.get() }

/// A small protocol that keeps debug-build tests fast.
private func small(seed: UInt64 = 7, runs: Int = 3, optimizer: OptimizerKind = .sgdMomentum,
                   flip: Double = 0) -> WorkloadProtocol {
    WorkloadProtocol(poolSize: 40, sampleSize: 24, batchSize: 4, epochs: 2, runs: runs, testSize: 30,
                     optimizer: optimizer, seed: seed, warmupSize: 120, warmupEpochs: 2, flipLabels: flip)
}

private func mean(_ a: [Double]) -> Double { a.reduce(0, +) / Double(a.count) }

@Suite struct DatasetTests {
    @Test func bundledDatasetLoads() throws {
        let d = try dataset()
        #expect(d.count == 1797)
        #expect(d.features.count == 1797 * 64)
        #expect(Set(d.labels) == Set(0...9))
        #expect(d.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(d.features.contains(1) && d.features.contains(0))
        // First row of the CSV: 0,0,5,13,9,1,0,0,... label 0.
        #expect(Array(d.pixels(ofRow: 0).prefix(4)) == [0, 0, 5.0 / 16, 13.0 / 16])
        #expect(d.labels[0] == 0 && d.labels[1] == 1)
        #expect(d.row(of: "1796") == 1796 && d.row(of: "1797") == nil && d.row(of: "01") == nil && d.row(of: "x") == nil)
    }

    @Test func malformedCSVThrows() {
        let good = Array(repeating: "0", count: 64).joined(separator: ",")
        #expect((try? DigitsDataset(csv: good + ",3\n" + good + ",4\r\n\n")).map(\.labels) == [3, 4])
        #expect(throws: SimfluenceError.input(file: "t.csv", line: 2, message: "expected 65 comma-separated integers, found 64 fields")) {
            try DigitsDataset(csv: good + ",3\n" + good + "\n", source: "t.csv")
        }
        #expect(throws: SimfluenceError.input(file: "t.csv", line: 1, message: "label is 10, expected 0...9")) {
            try DigitsDataset(csv: good + ",10\n", source: "t.csv")
        }
        #expect(throws: SimfluenceError.input(file: "t.csv", line: 1, message: "pixel 1 is 17, expected 0...16")) {
            try DigitsDataset(csv: "17" + good.dropFirst() + ",1\n", source: "t.csv")
        }
        #expect(throws: SimfluenceError.input(file: "t.csv", line: 1, message: "field 65 is 'a', not an integer")) {
            try DigitsDataset(csv: good + ",a\n", source: "t.csv")
        }
        #expect(throws: SimfluenceError.self) { try DigitsDataset(csv: "\n\n") }
    }

    @Test func splitsAreDisjointAndSized() throws {
        var settings = WorkloadProtocol()
        settings.warmupEpochs = 0  // the split does not depend on warm-up training
        let w = try DigitsFineTuning(protocol: settings, dataset: try dataset())
        #expect(w.warmupIDs.count == 300 && w.poolIDs.count == 200 && w.testIDs.count == 200)
        let all = w.warmupIDs + w.poolIDs + w.testIDs
        #expect(Set(all).count == all.count)
        #expect(all.allSatisfy { w.dataset.row(of: $0) != nil })
        #expect(w.poolIDs.map { Int($0)! } == w.poolIDs.map { Int($0)! }.sorted())
        // The test set holds several classes (a seeded random split, not the first rows).
        #expect(Set(w.testIDs.compactMap { w.label(of: $0) }).count == 10)
        #expect(w.pixels(of: w.testIDs[0]) == w.dataset.pixels(ofRow: Int(w.testIDs[0])!))
        #expect(w.label(of: "nope") == nil && w.pixels(of: "nope").isEmpty)
    }

    @Test func invalidProtocolsThrow() throws {
        let d = try dataset()
        for bad in [WorkloadProtocol(poolSize: 1000, testSize: 600), WorkloadProtocol(sampleSize: 201),
                    WorkloadProtocol(batchSize: 0), WorkloadProtocol(flipLabels: 1.5), WorkloadProtocol(learningRate: -1)] {
            #expect(throws: SimfluenceError.self) { try DigitsFineTuning(protocol: bad, dataset: d) }
        }
    }
}

@Suite struct ModelTests {
    /// Random parameters (larger than the initialisation, with non-zero biases) and a batch of 3.
    @Test func gradientMatchesCentralFiniteDifferences() throws {
        let d = try dataset()
        let model = MLP()
        var rng = SeededGenerator(seed: 42)
        let p = (0..<model.parameterCount).map { _ in 0.4 * rng.nextGaussian() }
        let rows = [5, 100, 1234]
        let x = rows.flatMap { d.pixels(ofRow: $0) }, y = rows.map { d.labels[$0] }
        let (loss, g) = model.batchGradient(features: x, labels: y, parameters: p)
        let losses = rows.map { model.loss(features: d.pixels(ofRow: $0), label: d.labels[$0], parameters: p) }
        #expect(abs(loss - mean(losses)) < 1e-14)

        let h = 1e-5
        var maxRelative = 0.0, diffSq = 0.0, normSq = 0.0
        var q = p
        for k in 0..<p.count {
            q[k] = p[k] + h
            let up = model.batchGradient(features: x, labels: y, parameters: q).loss
            q[k] = p[k] - h
            let down = model.batchGradient(features: x, labels: y, parameters: q).loss
            q[k] = p[k]
            let fd = (up - down) / (2 * h)
            maxRelative = max(maxRelative, abs(g[k] - fd) / max(abs(fd), 1e-4))
            diffSq += (g[k] - fd) * (g[k] - fd)
            normSq += fd * fd
        }
        #expect(normSq > 1e-4)
        #expect(maxRelative < 1e-6, "max component-wise relative error \(maxRelative)")
        #expect((diffSq / normSq).squareRoot() < 1e-6)

        // The batch gradient is the mean of the per-example gradients.
        let per = rows.map { model.perExampleGradient(features: d.pixels(ofRow: $0), label: d.labels[$0], parameters: p).gradient }
        for k in 0..<p.count {
            #expect(abs((per[0][k] + per[1][k] + per[2][k]) / 3 - g[k]) <= 1e-14 * max(1, abs(g[k])))
        }
    }

    @Test func lossIsStableForLargeLogits() {
        let model = MLP(inputs: 2, hidden: 2, classes: 3)
        // W1 = 0, b1 = 0 -> h = 0; b2 = [1000, 0, -1000]: logits far apart.
        var p = [Double](repeating: 0, count: model.parameterCount)
        p[model.b2Offset] = 1000; p[model.b2Offset + 2] = -1000
        #expect(model.loss(features: [0.5, 0.5], label: 0, parameters: p) == 0)
        #expect(abs(model.loss(features: [0.5, 0.5], label: 1, parameters: p) - 1000) < 1e-9)
        let g = model.perExampleGradient(features: [0.5, 0.5], label: 2, parameters: p).gradient
        #expect(g.allSatisfy(\.isFinite) && abs(g[model.b2Offset] - 1) < 1e-12 && abs(g[model.b2Offset + 2] + 1) < 1e-12)
    }

    @Test func adamAndSGDStepsAreTheTextbookUpdates() {
        var p = [1.0, -2.0]
        let g = [0.5, -0.25]
        var sgd = OptimizerState(settings: OptimizerSettings(kind: .sgdMomentum, learningRate: 0.1, momentum: 0.9), parameterCount: 2)
        p.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { gb in
            sgd.step(parameters: pb.baseAddress!, gradient: gb.baseAddress!)
            sgd.step(parameters: pb.baseAddress!, gradient: gb.baseAddress!)
        } }
        // v1 = g, v2 = 1.9 g: p -= 0.1 * 2.9 g
        #expect(abs(p[0] - (1 - 0.29 * 0.5)) < 1e-15 && abs(p[1] - (-2 + 0.29 * 0.25)) < 1e-15)
        var q = [1.0, -2.0]
        var adam = OptimizerState(settings: OptimizerSettings(kind: .adam, learningRate: 0.01), parameterCount: 2)
        q.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { gb in
            adam.step(parameters: pb.baseAddress!, gradient: gb.baseAddress!)
        } }
        // The first bias-corrected Adam step is lr * sign(g) (up to epsilon).
        #expect(abs(q[0] - 0.99) < 1e-9 && abs(q[1] - (-1.99)) < 1e-9)
    }
}

@Suite struct TrainingTests {
    @Test func sameSeedIsBitIdenticalOtherSeedDiffers() throws {
        let d = try dataset()
        let a = try DigitsFineTuning(protocol: small(seed: 3), dataset: d).trainAll()
        let b = try DigitsFineTuning(protocol: small(seed: 3), dataset: d).trainAll()
        #expect(a == b)
        let c = try DigitsFineTuning(protocol: small(seed: 4), dataset: d).trainAll()
        #expect(c.testIDs != a.testIDs && c.trainIDs != a.trainIDs)
        #expect(c.runs[0].losses != a.runs[0].losses && c.runs[0].batches != a.runs[0].batches)
    }

    @Test(arguments: [OptimizerKind.sgdMomentum, .adam])
    func fineTuningLowersTestLoss(optimizer: OptimizerKind) throws {
        var settings = small(runs: 4, optimizer: optimizer)
        settings.sampleSize = 40
        settings.epochs = 3  // 30 steps
        let w = try DigitsFineTuning(protocol: settings, dataset: try dataset())
        let log = try w.trainAll()
        let start = w.testLosses(at: w.checkpoint)
        let finals = log.runs.map { mean($0.finalLosses) }
        for run in log.runs { #expect(run.initialLosses == start) }
        #expect(mean(finals) < mean(start) - 0.05, "checkpoint \(mean(start)), after fine-tuning \(finals)")
        // The warm-up helped too: the checkpoint is better than the untrained initialisation.
        let untrained = try DigitsFineTuning(protocol: { var s = settings; s.warmupEpochs = 0; return s }(), dataset: try dataset())
        #expect(mean(untrained.testLosses(at: untrained.checkpoint)) > mean(start))
        // Runs differ from each other.
        #expect(Set(finals).count == finals.count)
    }

    @Test func logLayoutAndMetadata() throws {
        let settings = small(flip: 0.1)
        let w = try DigitsFineTuning(protocol: settings, dataset: try dataset())
        let log = try w.trainAll()
        #expect(log.trainIDs == w.poolIDs && log.testIDs == w.testIDs)
        #expect(log.runs.map(\.name) == ["run1", "run2", "run3"])
        for run in log.runs {
            #expect(run.firstLossStep == 0 && run.steps == 12 && run.losses.rows == 13 && run.losses.columns == 30)
            #expect(run.batches.allSatisfy { $0.count == 4 && $0.allSatisfy { (0..<40).contains($0) } })
            // Each epoch presents the run's sample once.
            let epoch1 = run.batches[0..<6].flatMap { $0 }, epoch2 = run.batches[6..<12].flatMap { $0 }
            #expect(Set(epoch1).count == 24 && Set(epoch1) == Set(epoch2) && epoch1 != epoch2)
        }
        let m = log.metadata
        #expect(m["dataset"] == "uci-optical-digits" && m["pool"] == "40" && m["sample"] == "24" && m["batch"] == "4")
        #expect(m["epochs"] == "2" && m["runs"] == "3" && m["test"] == "30" && m["seed"] == "7")
        #expect(m["optimizer"] == "sgd-momentum" && m["learningRate"] == "0.01" && m["momentum"] == "0.9")
        #expect(m["warmupSize"] == "120" && m["warmupEpochs"] == "2" && m["flipLabels"] == "0.1")
        #expect(m["flippedIDs"] == w.flippedIDs.joined(separator: ",") && m["flippedCount"] == "4")
    }

    @Test func trainingARunsCurriculumReproducesIt() throws {
        let w = try DigitsFineTuning(protocol: small(), dataset: try dataset())
        let log = try w.trainAll()
        let curricula = w.curricula()
        for k in [0, 2] {
            let again = try w.train(name: curricula[k].name, batches: curricula[k].batches)
            #expect(again == log.runs[k])
        }
        // A different order of the same batches gives different losses.
        let reversed = try w.train(name: "r", batches: curricula[0].batches.reversed())
        #expect(reversed.finalLosses != log.runs[0].finalLosses)
        #expect(throws: SimfluenceError.self) { try w.train(name: "bad", batches: [[w.poolIDs[0]], [w.testIDs[0]]]) }
        #expect(throws: SimfluenceError.self) { try w.train(name: "bad", batches: [[]]) }
    }

    @Test func threadCountDoesNotChangeTheLog() throws {
        let w = try DigitsFineTuning(protocol: small(runs: 5), dataset: try dataset())
        let one = try w.trainAll(threads: 1), two = try w.trainAll(threads: 2), three = try w.trainAll(threads: 3)
        #expect(one == two && two == three)
    }

    @Test func labelFlippingFlipsTheRequestedFraction() throws {
        let d = try dataset()
        let w = try DigitsFineTuning(protocol: small(flip: 0.25), dataset: d)
        #expect(w.flippedIDs.count == 10 && Set(w.flippedIDs).count == 10)
        let flipped = Set(w.flippedIDs)
        #expect(flipped.isSubset(of: Set(w.poolIDs)))
        for id in w.poolIDs {
            let changed = w.label(of: id) != w.originalLabel(of: id)
            #expect(changed == flipped.contains(id))
            #expect((0...9).contains(w.label(of: id)!))
        }
        for id in w.testIDs + w.warmupIDs { #expect(w.label(of: id) == w.originalLabel(of: id)) }
        // Flipped labels are what training sees.
        let id = w.flippedIDs[0]
        let direct = w.model.perExampleGradient(features: w.pixels(of: id), label: w.label(of: id)!, parameters: w.checkpoint)
        #expect(w.perExampleGradient(id: id, at: w.checkpoint)!.loss == direct.loss)
        // Same seed, same flips; no flipping by default.
        #expect(try DigitsFineTuning(protocol: small(flip: 0.25), dataset: d).flippedIDs == w.flippedIDs)
        #expect(try DigitsFineTuning(protocol: small(), dataset: d).flippedIDs.isEmpty)
        #expect(try DigitsFineTuning(protocol: small(flip: 1), dataset: d).flippedIDs.count == 40)
    }
}
