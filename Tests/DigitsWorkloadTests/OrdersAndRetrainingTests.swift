import DigitsWorkload
import SimfluenceCore
import Testing

/// Order groups of the digits workload, and exact retraining.
@Suite struct OrdersAndRetrainingTests {
    static let settings = WorkloadProtocol(poolSize: 40, sampleSize: 24, batchSize: 4, epochs: 2, runs: 6, testSize: 10,
                                           warmupSize: 40, warmupEpochs: 1)

    @Test func ordersShareTheSubsetAndDifferInOrder() throws {
        let w = try DigitsFineTuning(protocol: Self.settings)
        let orders = (0..<4).map { w.curriculum(subset: 3, order: $0) }
        for o in orders { #expect(o.joined().sorted() == orders[0].joined().sorted()) }
        #expect(Set(orders.map { $0.flatMap { $0 } }).count == 4)
        // Order 0 of subset r is run r of an ordinary log; other subsets hold other examples.
        #expect(orders[0].map { $0.map { w.poolIDs[$0] } } == w.curriculum(ofRun: 3))
        #expect(w.curriculum(subset: 4, order: 0).joined().sorted() != orders[0].joined().sorted())
    }

    @Test func ordersFlagGroupsConsecutiveRuns() throws {
        let w = try DigitsFineTuning(protocol: Self.settings.withOrders(3))
        let c = w.curricula().map { $0.batches.joined().sorted() }
        #expect(c[0] == c[1] && c[1] == c[2] && c[3] == c[4] && c[4] == c[5] && c[0] != c[3])
        #expect(w.curricula()[0].batches != w.curricula()[1].batches)
        #expect(w.metadata["orders"] == "3")
        #expect(try DigitsFineTuning(protocol: Self.settings).metadata["orders"] == nil)
    }

    /// Retraining an unedited curriculum reproduces its logged run bit for bit.
    @Test func retrainingReproducesTheLoggedRun() throws {
        let w = try DigitsFineTuning(protocol: Self.settings)
        let log = try w.trainAll(threads: 2)
        let again = w.retrain(name: "again", batches: w.curriculum(subset: 2, order: 0))
        #expect(again.batches == log.runs[1].batches)
        #expect(again.losses.storage.map(\.bitPattern) == log.runs[1].losses.storage.map(\.bitPattern))
    }
}
