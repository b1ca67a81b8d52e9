import Foundation
import Testing
@_spi(Fuzzing) @testable import Simfluence

/// Inputs found by fuzzing (Fuzz/) or by reading the code while writing the fuzz targets, kept as
/// regression tests: each must be rejected with an input error, never crash.
@Suite struct FuzzRegressionTests {
    /// A model file with a valid checksum (as another program could write) but a repeated
    /// training or test id used to load, then crash `simulate` when it indexed the ids.
    @Test func modelWithRepeatedIDsIsRejected() throws {
        let model = FittedSimulator(method: .linear, form: .linear, lambda: 0.5, trainIDs: ["a", "b"], testIDs: ["t", "u"],
                                    a: Matrix(rows: 2, columns: 2), b: Matrix(rows: 2, columns: 2),
                                    seen: [true, true], fittedOn: ["r"], startingLosses: [1, 2])
        let text = String(decoding: ModelFile.encode(model), as: UTF8.self)
        for (from, to, message) in [("\"train_ids\":[\"a\",\"b\"]", "\"train_ids\":[\"a\",\"a\"]", "training id a appears twice"),
                                    ("\"test_ids\":[\"t\",\"u\"]", "\"test_ids\":[\"u\",\"u\"]", "test id u appears twice")] {
            let edited = ByteLevelParsing.resealingModel(Array(text.replacingOccurrences(of: from, with: to).utf8))
            edited.withUnsafeBytes { raw in
                expectInputError(file: "m", line: 2, [message]) { try ModelFile.decode(raw, source: "m") }
            }
        }
    }
}
