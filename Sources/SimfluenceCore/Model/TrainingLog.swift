/// A collection of logged training runs over one training pool and one test set.
///
/// Every run records the same test examples, in the order of ``testIDs``. Training examples
/// are referred to by their index into ``trainIDs`` everywhere in the core.
public struct TrainingLog: Sendable, Equatable {
    /// Ids of the training examples that appear in any run (the vocabulary), in a fixed order.
    /// Ids are strings; integer ids from a log are written in decimal.
    public var trainIDs: [String]
    /// Ids of the test examples whose losses every run records, in column order.
    public var testIDs: [String]
    /// The runs, in natural name order (run2 before run10).
    public var runs: [TrainingRun]
    /// Free-form metadata carried from the log (for example the trainer's settings).
    public var metadata: [String: String]

    /// Creates a log. Runs must record `testIDs.count` test examples and use indices below
    /// `trainIDs.count`.
    public init(trainIDs: [String], testIDs: [String], runs: [TrainingRun], metadata: [String: String] = [:]) {
        self.trainIDs = trainIDs
        self.testIDs = testIDs
        self.runs = runs
        self.metadata = metadata
    }

    /// Index of every training id in ``trainIDs``.
    public var trainIndex: [String: Int] {
        Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
    }

    /// The runs with the given names, in this log's order.
    public func runs(named names: Set<String>) -> [TrainingRun] {
        runs.filter { names.contains($0.name) }
    }
}

/// Orders strings the way people number runs: digit runs compare as numbers, so "run2" comes
/// before "run10". Ties on numeric value fall back to plain string order.
public func naturalOrder(_ a: String, _ b: String) -> Bool {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    var i = 0, j = 0
    func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 48 && s.value <= 57 }
    while i < x.count && j < y.count {
        if isDigit(x[i]) && isDigit(y[j]) {
            var i2 = i, j2 = j
            while i2 < x.count && isDigit(x[i2]) { i2 += 1 }
            while j2 < y.count && isDigit(y[j2]) { j2 += 1 }
            // Compare numerically without overflow: strip leading zeros, then by length, then digits.
            var a0 = i, b0 = j
            while a0 < i2 - 1 && x[a0] == "0" { a0 += 1 }
            while b0 < j2 - 1 && y[b0] == "0" { b0 += 1 }
            let la = i2 - a0, lb = j2 - b0
            if la != lb { return la < lb }
            for k in 0..<la where x[a0 + k] != y[b0 + k] { return x[a0 + k].value < y[b0 + k].value }
            i = i2; j = j2
        } else {
            if x[i] != y[j] { return x[i].value < y[j].value }
            i += 1; j += 1
        }
    }
    if (x.count - i) != (y.count - j) { return (x.count - i) < (y.count - j) }
    return a < b
}
