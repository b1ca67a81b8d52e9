/// A group of scatter points drawn in one style.
struct ScatterSeries: Sendable {
    /// The legend key (`data-legend-key`), a method name.
    var key: String
    var style: SeriesStyle
    var points: [(x: Double, y: Double)]
}

/// A scatter plot of predicted against true values with the y = x diagonal.
struct ScatterPlot: Sendable {
    var frame: PlotFrame
    /// The same data interval on both axes, so the diagonal is the 45-degree line.
    var x: Axis
    var y: Axis
    var xTitle: String
    var yTitle: String
    var series: [ScatterSeries]

    /// The plot as an `<svg>` element and what was left out or pinned, per key.
    func render(label: String) -> (markup: String, notes: PlotNotes) {
        var svg = SVGWriter(width: frame.width, height: frame.height, label: label,
                            attributes: frame.transformAttributes(x: x, y: y))
        frame.drawAxes(into: &svg, x: x, y: y, xTitle: xTitle, yTitle: yTitle, title: nil)
        // The diagonal y = x over the shared interval.
        let lo = max(x.lower, y.lower), hi = min(x.upper, y.upper)
        if lo < hi {
            svg.line(x.pixel(lo), y.pixel(lo), x.pixel(hi), y.pixel(hi),
                     [("class", "diagonal"), ("stroke", "#6b6b6b"), ("stroke-width", "1"), ("stroke-dasharray", "4 3")])
        }
        var notes = PlotNotes()
        let total = series.map(\.points.count).reduce(0, +)
        let radius = total > 1500 ? 2.4 : 3.2
        for s in series {
            var attrs: [(String, String)] = [("class", "points"), ("data-legend-key", s.key), ("data-count", String(s.points.count))]
            if s.style.marker.isStroked {
                attrs += [("fill", "none"), ("stroke", s.style.color), ("stroke-width", "1.3")]
            } else {
                attrs += [("fill", s.style.color), ("fill-opacity", "0.75"), ("stroke", "#ffffff"), ("stroke-width", "0.4")]
            }
            svg.open("g", attrs)
            var d = "", pinned = ""
            for p in s.points {
                guard p.x.isFinite, p.y.isFinite else {
                    notes.nonFinite[s.key, default: 0] += 1
                    continue
                }
                var (vx, vy) = (p.x, p.y)
                if x.scale == .log10 && vx <= 0 { vx = x.lower; notes.clampedNonPositive[s.key, default: 0] += 1 }
                if y.scale == .log10 && vy <= 0 { vy = y.lower; notes.clampedNonPositive[s.key, default: 0] += 1 }
                let px = x.pixel(vx), py = y.pixel(vy)
                if !x.contains(vx) || !y.contains(vy) {
                    notes.clipped[s.key, default: 0] += 1
                    pinned += s.style.marker.path(x: min(max(px, frame.plotLeft), frame.plotRight),
                                                  y: min(max(py, frame.plotTop), frame.plotBottom), r: radius)
                } else {
                    d += s.style.marker.path(x: px, y: py, r: radius)
                }
            }
            // One path per method keeps thousands of markers small; pinned markers are hollow.
            if !d.isEmpty { svg.path(d) }
            if !pinned.isEmpty {
                svg.path(pinned, [("class", "pinned"), ("fill", "none"), ("stroke", s.style.color), ("stroke-width", "1.2")])
            }
            svg.close()
        }
        return (svg.markup, notes)
    }
}
