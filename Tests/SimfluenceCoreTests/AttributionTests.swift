import Testing
@testable import SimfluenceCore

@Suite struct AttributionTests {
    @Test func curriculumEditsRebatchAndDropTheRemainder() {
        let c = [[0, 1], [2, 3], [1, 4]]
        #expect(CurriculumEdits.dropping([1], from: c, batchSize: 2) == [[0, 2], [3, 4]])
        #expect(CurriculumEdits.dropping([0], from: c, batchSize: 2) == [[1, 2], [3, 1]])  // 4 is the dropped remainder
        #expect(CurriculumEdits.movingToEnd([1], in: c, batchSize: 2) == [[0, 2], [3, 4], [1, 1]])
        #expect(CurriculumEdits.typicalBatchSize([[1, 2, 3], [4, 5, 6], [7]]) == 3)
    }

    @Test func additiveRemovalEffectIsAppearancesTimesB() {
        // Additive simulator: final loss = L0 + sum of B over the curriculum, so removing an example that
        // appears twice (no remainder at batch size 2) changes it by exactly 2 B_i.
        let b = Matrix(rowArrays: [[-0.5, 0.25, -0.125, 1.0]])
        let sim = FittedSimulator(method: .additive, form: .additive, lambda: 0, trainIDs: ["a", "b", "c", "d"],
                                  testIDs: ["z"], a: Matrix(rows: 1, columns: 4), b: b, seen: [true, true, true, true], fittedOn: [])
        let reference = [[0, 1], [2, 3], [1, 0], [3, 2]]
        let effects = RemovalEffects.effects(of: sim, test: 0, reference: reference, initial: 3)
        #expect(effects == [-1.0, 0.5, -0.25, 2.0])
        let ranked = RemovalEffects.ranked(effects, present: [0, 1, 2, 3])
        #expect(ranked.map(\.index) == [0, 2, 1, 3])
        // An example absent from the reference has no effect; the mean over references halves it.
        let mean = RemovalEffects.meanEffects(of: sim, tests: [0], references: [(reference, [3]), ([[1, 2], [2, 1]], [3])], threads: 1)[0]
        #expect(mean[0] == -0.5 && mean[3] == 1.0 && mean[1] == 0.5 && mean[2] == -0.25)
    }

    @Test func linearRemovalEffectMatchesAHandRollout() {
        // One test example; A = [0.5, 0.4, 0.45], B = [0.1, -0.2, 0]; reference [[0,1],[2,0]], L0 = 1.
        let sim = FittedSimulator(method: .linear, form: .linear, lambda: 0, trainIDs: ["a", "b", "c"], testIDs: ["z"],
                                  a: Matrix(rowArrays: [[0.5, 0.4, 0.45]]), b: Matrix(rowArrays: [[0.1, -0.2, 0]]),
                                  seen: [true, true, true], fittedOn: [])
        let base = 0.95 * (0.9 * 1 - 0.1) + 0.1            // [0,1] then [2,0]
        let withoutB = 0.95 * 1 + 0.1                         // sequence 0,2,0 -> [[0,2]] (remainder 0 dropped)
        let effects = RemovalEffects.effects(of: sim, test: 0, reference: [[0, 1], [2, 0]], initial: 1)
        #expect(abs(effects[1] - (base - withoutB)) < 1e-15)
    }
}

@Suite struct AggregateAttributionTests {
    /// The aggregate is the mean (or sum) of the per-test effects, with the helped/hurt counts.
    @Test func aggregateIsTheMeanOfPerTestEffects() {
        let effects: [[Double]] = [[-1, 2, 0, 5], [-3, -2, 0, 5], [1, 3, 0, 5]]
        let mean = RemovalEffects.aggregate(effects, present: [0, 1, 2], by: .mean)
        #expect(mean.map(\.index) == [0, 2, 1])
        #expect(mean[0] == AggregateEffect(index: 0, effect: -1, helped: 2, hurt: 1))
        #expect(mean[1] == AggregateEffect(index: 2, effect: 0, helped: 0, hurt: 0))
        #expect(mean[2] == AggregateEffect(index: 1, effect: 1, helped: 1, hurt: 2))
        let sum = RemovalEffects.aggregate(effects, present: [0, 1, 2, 3], by: .sum)
        #expect(sum.map(\.effect) == [-3, 0, 3, 15])
    }
}
