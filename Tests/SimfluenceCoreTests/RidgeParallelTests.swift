import Testing
@testable import SimfluenceCore

/// The work queue of the fitting loops: every item once, and a deterministic error.
@Suite struct RidgeParallelTests {
    struct Failure: Error, Equatable { let item: Int }

    /// Per-item slots written by the worker that ran the item.
    final class Slots: @unchecked Sendable {
        var runs: [Int]
        init(_ count: Int) { runs = Array(repeating: 0, count: count) }
    }

    @Test(arguments: [1, 2, 5])
    func everyItemRunsOnce(threads: Int) throws {
        let slots = Slots(103)
        try ridgeParallel(103, threads: threads) { items in
            for i in items { slots.runs[i] += 1 }
        }
        #expect(slots.runs == Array(repeating: 1, count: 103))
    }

    /// Items 17 and 33 fail, 33 often first in time (its worker reaches it sooner when item costs
    /// differ): the error reported is always item 17's, and every item below it has run.
    @Test(arguments: [1, 2, 4])
    func lowestFailingItemIsReported(threads: Int) throws {
        for trial in 0..<20 {
            let slots = Slots(60)
            do {
                try ridgeParallel(60, threads: threads) { items in
                    for i in items {
                        if i == 17 {
                            // Slow, so that another worker can reach 33 before this throws.
                            var x = 0.0
                            for k in 0..<(20_000 * (trial % 3 + 1)) { x += Double(k).squareRoot() }
                            if x < 0 { return }
                            throw Failure(item: 17)
                        }
                        if i == 33 { throw Failure(item: 33) }
                        slots.runs[i] += 1
                    }
                }
                Issue.record("no error thrown")
            } catch let error as Failure {
                #expect(error == Failure(item: 17), "threads \(threads), trial \(trial)")
            }
            #expect(slots.runs[0..<17].allSatisfy { $0 == 1 })
            #expect(slots.runs.allSatisfy { $0 <= 1 })
        }
    }
}
