import Testing
@testable import LanguageWorkload
import SimfluenceCore

/// The bundled corpus, loaded once for all tests.
private let bundled: Result<GlossCorpus, any Error> = Result { try GlossCorpus.bundled() }
private func corpus() throws -> GlossCorpus { try bundled.get() }

/// A small protocol that keeps debug-build tests fast: a 1-layer, width-16 model with a
/// 24-character context, 40 pre-training steps, 8-step runs.
func smallProtocol(seed: UInt64 = 7, runs: Int = 3) -> LanguageProtocol {
    LanguageProtocol(poolSize: 24, sampleSize: 12, batchSize: 3, epochs: 2, runs: runs, testSize: 8,
                     learningRate: 3e-3, seed: seed, pretrainSize: 300, pretrainSteps: 40, pretrainBatchSize: 8,
                     pretrainLearningRate: 1e-2, layers: 1, width: 16, heads: 2, mlpWidth: 32, context: 24,
                     projectionDimension: 64, gradientInterval: 3)
}

/// One small workload (pre-trained on 2 threads) shared by the tests that only read it.
private let shared: Result<LanguageFineTuning, any Error> = Result {
    try LanguageFineTuning(protocol: smallProtocol(), corpus: try corpus(), threads: 2)
}
func sharedWorkload() throws -> LanguageFineTuning { try shared.get() }

private func mean(_ a: [Double]) -> Double { a.reduce(0, +) / Double(a.count) }

@Suite struct CorpusTests {
    @Test func bundledCorpusLoads() throws {
        let c = try corpus()
        #expect(c.count == 8000)
        #expect(c.texts[0] == "telescope: make smaller or shorter" && c.partOfSpeech[0] == "verb")
        #expect(c.texts.allSatisfy { $0.utf8.count >= 10 && $0.utf8.count <= 96 })
        #expect(Set(c.partOfSpeech) == ["noun", "verb", "adj", "adv"])
        #expect(c.line(of: "7999") == 7999 && c.line(of: "8000") == nil && c.line(of: "01") == nil)
        let v = CharacterVocabulary(texts: c.texts)
        #expect(v.size == v.characters.count + 1 && v.characters.contains(UInt8(ascii: " ")) && v.characters.contains(UInt8(ascii: "z")))
        #expect(v.characters == v.characters.sorted())
    }

    @Test func tokensTruncateAtTheContextAndRoundTrip() {
        let v = CharacterVocabulary(texts: ["ab: c", "zz"])
        #expect(v.size == 7)  // begin, ' ', ':', a, b, c, z
        #expect(v.tokens(of: "ab: c", context: 10) == [0, 3, 4, 2, 1, 5])
        #expect(v.tokens(of: "ab: c", context: 2) == [0, 3, 4])
        #expect(v.tokens(of: "x", context: 5) == nil)
        #expect(v.text(of: v.tokens(of: "zab", context: 9)!) == "zab")
    }

    @Test func malformedLinesThrow() {
        #expect((try? GlossCorpus(text: "noun\tab: c\n\nverb\tzz\r\n"))?.texts == ["ab: c", "zz"])
        #expect(throws: SimfluenceError.input(file: "t.txt", line: 2, message: "expected 'POS<TAB>text', found no tab")) {
            try GlossCorpus(text: "noun\ta\nnoun b\n", source: "t.txt")
        }
        #expect(throws: SimfluenceError.input(file: "t.txt", line: 1, message: "the text after the tab is empty")) {
            try GlossCorpus(text: "noun\t\n", source: "t.txt")
        }
        #expect(throws: SimfluenceError.self) { try GlossCorpus(text: "noun\tcaf\u{E9}\n") }
        #expect(throws: SimfluenceError.self) { try GlossCorpus(text: "\n") }
    }
}

@Suite struct WorkloadSetupTests {
    @Test func splitsAreDisjointSizedAndLookedUp() throws {
        let w = try sharedWorkload()
        #expect(w.pretrainIDs.count == 300 && w.poolIDs.count == 24 && w.testIDs.count == 8)
        let all = w.pretrainIDs + w.poolIDs + w.testIDs
        #expect(Set(all).count == all.count)
        #expect(w.poolIDs.map { Int($0)! } == w.poolIDs.map { Int($0)! }.sorted())
        #expect(w.text(of: w.poolIDs[0]) == w.corpus.texts[Int(w.poolIDs[0])!])
        #expect(w.text(of: w.testIDs[3]) == w.corpus.texts[Int(w.testIDs[3])!])
        #expect(w.text(of: "nope") == nil && w.text(of: "8000") == nil)
        #expect(w.tokens(of: w.testIDs[0])!.count == min(w.text(of: w.testIDs[0])!.utf8.count, 24) + 1)
        #expect(w.metadata["model"] == "transformer-L1-d16-h2-mlp32-ctx24-v\(w.vocabulary.size)-tied-relu-prenorm")
        #expect(w.metadata["pool"] == "24" && w.metadata["steps"] == "8" && w.metadata["optimizer"] == "adamw")
        #expect(w.settings.stepsPerRun == 8 && w.pretrainingLosses.count == 40)
        // The default domain shift: pre-training on nouns, pool and test of other parts of speech.
        func pos(_ id: String) -> String { w.corpus.partOfSpeech[w.corpus.line(of: id)!] }
        #expect(w.pretrainIDs.allSatisfy { pos($0) == "noun" })
        #expect((w.poolIDs + w.testIDs).allSatisfy { ["adj", "adv", "verb"].contains(pos($0)) })
        #expect(Set(w.poolIDs.map(pos)).count == 3)
    }

    @Test func withoutADomainAllSplitsComeFromTheWholeCorpus() throws {
        var p = smallProtocol()
        p.fineTuningPartsOfSpeech = []
        p.pretrainSteps = 0
        let w = try LanguageFineTuning(protocol: p, corpus: try corpus(), threads: 1)
        let all = w.pretrainIDs + w.poolIDs + w.testIDs
        #expect(Set(all).count == 332)
        #expect(Set(all.map { w.corpus.partOfSpeech[w.corpus.line(of: $0)!] }).count == 4)
        #expect(w.checkpoint == w.initialParameters && w.pretrainingLosses.isEmpty)
    }

    @Test func invalidProtocolsThrow() throws {
        let c = try corpus()
        var bad: [LanguageProtocol] = []
        for edit in [{ (p: inout LanguageProtocol) in p.sampleSize = 25 }, { $0.poolSize = 8000 }, { $0.heads = 3 },
                     { $0.learningRate = -1 }, { $0.batchSize = 0 }, { $0.context = 0 }, { $0.orders = 4 },
                     { $0.weightDecay = -0.1 }, { $0.projectionDimension = 0 }, { $0.pretrainSize = 5381 },
                     { $0.fineTuningPartsOfSpeech = ["adv"]; $0.poolSize = 200; $0.testSize = 100 }] {
            var p = smallProtocol()
            edit(&p)
            bad.append(p)
        }
        for p in bad {
            #expect(throws: SimfluenceError.self) { try LanguageFineTuning(protocol: p, corpus: c, threads: 1) }
        }
    }

    @Test func pretrainingLowersHeldOutLossAgainstTheInitialisation() throws {
        let w = try sharedWorkload()
        let initial = mean(w.testLosses(at: w.initialParameters))
        let pretrained = mean(w.testLosses(at: w.checkpoint))
        // A uniform guess over the vocabulary costs log(size) nats; pre-training must beat the
        // random initialisation (which is close to it) by a clear margin.
        #expect(abs(initial - Double.log(Double(w.vocabulary.size))) < 0.2)
        #expect(pretrained < initial - 0.4, "pre-trained \(pretrained) vs initial \(initial)")
        #expect(w.pretrainingLosses.last! < w.pretrainingLosses.first! - 0.4)
    }
}

@Suite struct RunTests {
    @Test func runsAreBitIdenticalForOneAndTwoThreadsAndWhenRepeated() throws {
        let c = try corpus()
        var p = smallProtocol(runs: 2)
        p.pretrainSteps = 12  // enough to exercise pre-training's parallel batches
        let one = try LanguageFineTuning(protocol: p, corpus: c, threads: 1)
        let two = try LanguageFineTuning(protocol: p, corpus: c, threads: 2)
        #expect(one.checkpoint == two.checkpoint)
        let a = try one.trainAll(threads: 1), b = try two.trainAll(threads: 2), again = try one.trainAll(threads: 2)
        #expect(a == b && a == again)
        // Within one run, parallel over examples, too.
        let batches = one.curriculum(subset: 1, order: 0)
        #expect(one.train(name: "run1", poolIndexBatches: batches, threads: 2) == a.runs[0])
        #expect(one.testLosses(at: one.checkpoint, threads: 1) == one.testLosses(at: one.checkpoint, threads: 3))
    }

    @Test func logHasTheNativeShape() throws {
        let w = try sharedWorkload()
        let log = try w.trainAll(threads: 2)
        #expect(log.trainIDs == w.poolIDs && log.testIDs == w.testIDs && log.runs.count == 3)
        for (k, run) in log.runs.enumerated() {
            #expect(run.name == "run\(k + 1)" && run.firstLossStep == 0 && run.steps == 8)
            #expect(run.losses.rows == 9 && run.losses.columns == 8 && run.losses.storage.allSatisfy { $0.isFinite && $0 > 0 })
            #expect(run.batches.allSatisfy { $0.count == 3 })
            #expect(run.losses.row(0) == w.testLosses(at: w.checkpoint))
        }
        #expect(log.runs[0].batches != log.runs[1].batches)
        #expect(log.metadata == w.metadata)
    }

    @Test func fineTuningLowersThePoolLoss() throws {
        let w = try sharedWorkload()
        let batches = w.curriculum(subset: 1, order: 0)
        let trained = Set(batches.joined())
        let after = w.poolLosses(at: w.fineTunedParameters(poolIndexBatches: batches))
        let before = w.poolLosses(at: w.checkpoint)
        let drop = mean(trained.map { before[$0] - after[$0] })
        #expect(drop > 0.05, "trained examples' loss fell by \(drop)")
        let fell = trained.filter { after[$0] < before[$0] }.count
        #expect(Double(fell) >= 0.75 * Double(trained.count), "\(fell) of \(trained.count) trained examples' losses fell")
    }

    @Test func retrainReproducesALoggedRunAndOrdersShareTheirExamples() throws {
        let w = try sharedWorkload()
        let log = try w.trainAll(threads: 2)
        let workload: any RetrainableWorkload = w
        #expect(workload.retrain(name: "run2", batches: log.runs[1].batches) == log.runs[1])
        #expect(workload.curriculum(subset: 2, order: 0) == log.runs[1].batches)
        #expect(try w.train(name: "run3", batches: w.curriculum(ofRun: 3)) == log.runs[2])
        let orders = (0..<3).map { workload.curriculum(subset: 4, order: $0) }
        #expect(orders[0] != orders[1] && orders[1] != orders[2])
        for o in orders {
            #expect(o.count == 8 && o.joined().sorted() == orders[0].joined().sorted())
            #expect(Set(o.joined()).count == 12)
        }
        #expect(throws: SimfluenceError.self) { try w.train(name: "x", batches: [[w.testIDs[0]]]) }
        #expect(throws: SimfluenceError.self) { try w.train(name: "x", batches: [[]]) }
        // Ordered logs: run r trains subset (r - 1) / K + 1 in order (r - 1) % K.
        var p = smallProtocol(runs: 4).withOrders(2)
        p.pretrainSteps = 0  // only the curricula matter here
        let ordered = try LanguageFineTuning(protocol: p, corpus: try corpus(), threads: 2)
        #expect(ordered.curriculum(ofRun: 4) == ordered.curriculum(subset: 2, order: 1).map { $0.map { ordered.poolIDs[$0] } })
    }
}
