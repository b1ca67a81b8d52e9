/// Mean and spread of a list of per-item scores (per trajectory, per run or per test example).
public struct Summary: Sendable, Equatable {
    /// Arithmetic mean.
    public var mean: Double
    /// Population standard deviation (divides by `count`, ddof 0); 0 for a single value.
    public var std: Double
    /// Number of values summarised.
    public var count: Int

    public init(mean: Double, std: Double, count: Int) {
        self.mean = mean
        self.std = std
        self.count = count
    }

    /// Summarises `values` with two passes in index order (sum, then sum of squared deviations),
    /// so the result is bit-identical for the same input.
    ///
    /// - No values: mean and std are NaN, count 0.
    /// - Any NaN: mean and std are NaN.
    /// - Otherwise any +-infinity: mean is the IEEE sum divided by the count (+-infinity, or NaN
    ///   when both signs occur) and std is +infinity (the spread is unbounded).
    public init(of values: [Double]) {
        count = values.count
        if values.isEmpty || values.contains(where: { $0.isNaN }) {
            mean = .nan; std = .nan
            return
        }
        var sum = 0.0
        for v in values { sum += v }
        mean = sum / Double(values.count)
        if values.contains(where: { $0.isInfinite }) {
            std = .infinity
            return
        }
        var squares = 0.0
        for v in values {
            let d = v - mean
            squares += d * d
        }
        std = (squares / Double(values.count)).squareRoot()
    }
}
