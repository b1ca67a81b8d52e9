/// One line of a line plot: a value per step from `firstStep` on.
struct LineSeries: Sendable {
    /// Identifies the series in the markup (`data-series`), e.g. "run28 true" or "run28 linear".
    var key: String
    /// The legend entry it belongs to (`data-legend-key`), e.g. "true" or "linear".
    var legendKey: String
    var style: SeriesStyle
    /// The step (x value) of `values[0]`.
    var firstStep: Int
    var values: [Double]
}

/// What had to be adjusted to draw some series, per legend key, for captions.
struct PlotNotes: Sendable {
    /// Non-finite values skipped (the line is broken there).
    var nonFinite: [String: Int] = [:]
    /// Finite values outside the plotted range, pinned to its edge.
    var clipped: [String: Int] = [:]
    /// Values <= 0 on a log axis, drawn at the axis minimum.
    var clampedNonPositive: [String: Int] = [:]
    /// Whether some series were thinned to min/max per pixel column.
    var decimated = false

    mutating func merge(_ other: PlotNotes) {
        nonFinite.merge(other.nonFinite, uniquingKeysWith: +)
        clipped.merge(other.clipped, uniquingKeysWith: +)
        clampedNonPositive.merge(other.clampedNonPositive, uniquingKeysWith: +)
        decimated = decimated || other.decimated
    }

    /// Sentences for a caption ("" when nothing was adjusted). `order` lists legend keys in
    /// legend order; `names` maps keys to display names; `markers` words them for a scatter plot.
    func sentences(order: [String], names: [String: String], axisMinimum: String?, markers: Bool = false) -> String {
        func list(_ counts: [String: Int]) -> String {
            order.compactMap { key in counts[key].flatMap { $0 > 0 ? "\(names[key] ?? key): \($0)" : nil } }
                .joined(separator: ", ")
        }
        var out: [String] = []
        if nonFinite.values.contains(where: { $0 > 0 }) {
            out.append(markers
                ? "Non-finite predictions (a diverged simulation) are not drawn (\(list(nonFinite)))."
                : "Non-finite values (a diverged simulation) are not drawn; the line breaks there (\(list(nonFinite))).")
        }
        if clipped.values.contains(where: { $0 > 0 }) {
            out.append(markers
                ? "Predictions far outside the range of the real losses are drawn as hollow markers pinned to the edge of the plot (\(list(clipped)))."
                : "Predictions far outside the range of the real losses are pinned to the edge of the plot (\(list(clipped))).")
        }
        if clampedNonPositive.values.contains(where: { $0 > 0 }) {
            out.append("Values \u{2264} 0 cannot be shown on the log axis and are drawn at its minimum\(axisMinimum.map { ", \($0)" } ?? "") (\(list(clampedNonPositive))).")
        }
        if decimated {
            out.append("Long series are thinned to the lowest and highest value in each pixel column, so spikes keep their full height.")
        }
        return out.joined(separator: " ")
    }
}

/// A line plot of per-step series sharing one pair of axes.
struct LinePlot: Sendable {
    var frame: PlotFrame
    var x: Axis
    var y: Axis
    var xTitle: String
    var yTitle: String
    var title: String?
    var series: [LineSeries]

    /// The plot as an `<svg>` element, and what was adjusted to draw it.
    func render(label: String) -> (markup: String, notes: PlotNotes) {
        var svg = SVGWriter(width: frame.width, height: frame.height, label: label,
                            attributes: frame.transformAttributes(x: x, y: y))
        frame.drawAxes(into: &svg, x: x, y: y, xTitle: xTitle, yTitle: yTitle, title: title)
        var notes = PlotNotes()
        for s in series { draw(s, into: &svg, notes: &notes) }
        return (svg.markup, notes)
    }

    private func draw(_ s: LineSeries, into svg: inout SVGWriter, notes: inout PlotNotes) {
        func raw(_ v: Double) -> String { NumberFormat.significant(v, digits: 12) }
        let last = s.values.count - 1
        var attrs: [(String, String)] = [("class", "series"), ("data-series", s.key), ("data-legend-key", s.legendKey),
                                         ("data-count", String(s.values.count))]
        if last >= 0 {
            attrs.append(("data-first", "\(s.firstStep) \(raw(s.values[0]))"))
            attrs.append(("data-last", "\(s.firstStep + last) \(raw(s.values[last]))"))
        }
        svg.open("g", attrs + s.style.strokeAttributes)
        // Split at non-finite values; pin the rest into the plot area.
        var segment: [(x: Double, y: Double)] = []
        func flush() {
            guard !segment.isEmpty else { return }
            let kept = Decimation.keptIndices(pixelX: segment.map(\.x), values: segment.map(\.y),
                                              buckets: max(1, Int(frame.plotWidth)))
            if kept.count < segment.count { notes.decimated = true }
            let points = kept.map { segment[$0] }
            if points.count == 1 {
                svg.circle(points[0].x, points[0].y, s.style.width, [("fill", s.style.color), ("stroke", "none")])
            } else {
                svg.polyline(points)
            }
            segment.removeAll(keepingCapacity: true)
        }
        for (i, v) in s.values.enumerated() {
            guard v.isFinite else {
                notes.nonFinite[s.legendKey, default: 0] += 1
                flush()
                continue
            }
            var value = v
            if y.scale == .log10 && value <= 0 {
                notes.clampedNonPositive[s.legendKey, default: 0] += 1
                value = y.lower
            }
            var py = y.pixel(value)
            if py < frame.plotTop - 0.05 || py > frame.plotBottom + 0.05 || !py.isFinite {
                notes.clipped[s.legendKey, default: 0] += 1
                py = min(max(py.isFinite ? py : frame.plotTop, frame.plotTop), frame.plotBottom)
            }
            segment.append((x.pixel(Double(s.firstStep + i)), py))
        }
        flush()
        svg.close()
    }
}
