/// Thins long series for drawing without hiding spikes.
public enum Decimation {
    /// Indices of the points to draw when `pixelX` (ascending pixel positions of the points) has
    /// more than `2 * buckets` points spread over `buckets` one-pixel columns: within each column
    /// the point with the smallest and the one with the largest value, in index order, plus the
    /// very first and last points. Every local extreme that would be visible survives, so a
    /// one-step spike still reaches its full height. Shorter series are kept whole.
    ///
    /// - Parameters:
    ///   - pixelX: the x pixel of every point (non-decreasing).
    ///   - values: the y value of every point (any monotone transform of the plotted value).
    ///   - buckets: the number of pixel columns the series spans (at least 1).
    public static func keptIndices(pixelX: [Double], values: [Double], buckets: Int) -> [Int] {
        precondition(pixelX.count == values.count, "one x per value")
        let n = values.count
        guard n > 2 * max(1, buckets) else { return Array(0..<n) }
        var kept: [Int] = [0]
        var start = 0
        while start < n {
            let column = pixelX[start].rounded(.down)
            var end = start + 1
            while end < n && pixelX[end].rounded(.down) == column { end += 1 }
            var lowest = start, highest = start
            for i in start..<end {
                if values[i] < values[lowest] { lowest = i }
                if values[i] > values[highest] { highest = i }
            }
            for i in [min(lowest, highest), max(lowest, highest)] where i != kept.last! { kept.append(i) }
            start = end
        }
        if kept.last! != n - 1 { kept.append(n - 1) }
        return kept
    }
}
