import Testing
@testable import SimfluenceCore

@Suite struct MetricsSummaryTests {
    @Test func meanAndPopulationStdByHand() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 40/8 = 5; squared deviations 9,1,1,1,0,0,4,16 sum 32;
        // population variance 32/8 = 4, std 2 (the sample std would be sqrt(32/7) = 2.138).
        let s = Summary(of: [2, 4, 4, 4, 5, 5, 7, 9])
        #expect(s == Summary(mean: 5, std: 2, count: 8))
    }

    @Test func singleAndEmpty() {
        #expect(Summary(of: [3.5]) == Summary(mean: 3.5, std: 0, count: 1))
        let empty = Summary(of: [])
        #expect(empty.count == 0 && empty.mean.isNaN && empty.std.isNaN)
    }

    @Test func nonFiniteValues() {
        let inf = Summary(of: [1, .infinity, 2])
        #expect(inf.mean == .infinity && inf.std == .infinity && inf.count == 3)
        let nan = Summary(of: [1, .nan, .infinity])
        #expect(nan.mean.isNaN && nan.std.isNaN && nan.count == 3)
    }
}
