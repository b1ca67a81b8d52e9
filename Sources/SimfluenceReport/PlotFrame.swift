/// The geometry of one plot: outer size and the margins around its plot area, in pixels.
struct PlotFrame: Sendable {
    var width: Double
    var height: Double
    var left: Double = 62
    var right: Double = 14
    var top: Double = 26
    var bottom: Double = 44

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }
    var plotWidth: Double { plotRight - plotLeft }
    var plotHeight: Double { plotBottom - plotTop }

    /// Ticks to aim for on the x axis: about one per 65 pixels.
    var xTickTarget: Int { max(2, Int(plotWidth / 65)) }
    /// Ticks to aim for on the y axis: about one per 40 pixels.
    var yTickTarget: Int { max(2, Int(plotHeight / 40)) }

    /// Root attributes recording both axis transforms, so readers (and tests) can map any
    /// drawn coordinate back to data: data-x-scale, data-x-domain ("lower upper"),
    /// data-x-pixels ("start end"), and the same for y.
    func transformAttributes(x: Axis, y: Axis) -> [(String, String)] {
        func r(_ v: Double) -> String { NumberFormat.significant(v, digits: 15) }
        return [("data-x-scale", x.scale.rawValue), ("data-x-domain", "\(r(x.lower)) \(r(x.upper))"),
                ("data-x-pixels", "\(r(x.pixelStart)) \(r(x.pixelEnd))"),
                ("data-y-scale", y.scale.rawValue), ("data-y-domain", "\(r(y.lower)) \(r(y.upper))"),
                ("data-y-pixels", "\(r(y.pixelStart)) \(r(y.pixelEnd))")]
    }

    /// The values of the ticks whose labels can be drawn without overlapping: majors first, in
    /// order, each kept if its label's extent (`extent(label)` pixels along the axis) clears every
    /// label kept so far; then labelled minors the same way.
    func placeLabels(major: [Axis.Tick], minor: [Axis.Tick], axis: Axis, extent: (String) -> Double) -> Set<Double> {
        var placed: [(lo: Double, hi: Double)] = []
        var values = Set<Double>()
        for t in major + minor where !t.label.isEmpty && axis.contains(t.value) {
            let p = axis.pixel(t.value), half = extent(t.label) / 2
            if placed.allSatisfy({ p + half <= $0.lo || p - half >= $0.hi }) {
                placed.append((p - half, p + half))
                values.insert(t.value)
            }
        }
        return values
    }

    /// Draws the plot area, grid, ticks with labels, axis titles and an optional title.
    func drawAxes(into svg: inout SVGWriter, x: Axis, y: Axis, xTitle: String, yTitle: String, title: String?) {
        svg.rect(plotLeft, plotTop, plotWidth, plotHeight, [("fill", "#ffffff"), ("stroke", "none")])
        svg.open("g", [("class", "grid"), ("stroke", "#e4e4e4"), ("stroke-width", "1")])
        for t in x.ticks where x.contains(t.value) {
            let px = x.pixel(t.value)
            svg.line(px, plotTop, px, plotBottom)
        }
        for t in y.ticks where y.contains(t.value) {
            let py = y.pixel(t.value)
            svg.line(plotLeft, py, plotRight, py)
        }
        svg.close()
        svg.rect(plotLeft, plotTop, plotWidth, plotHeight, [("fill", "none"), ("stroke", "#8a8a8a"), ("stroke-width", "1")])

        // Tick marks for every tick; labels placed greedily (decades and nice ticks first, then
        // labelled minor ticks) wherever they do not collide with one already placed.
        let xLabels = placeLabels(major: x.ticks, minor: x.minorTicks, axis: x) { Double($0.count) * 6.3 + 8 }
        let yLabels = placeLabels(major: y.ticks, minor: y.minorTicks, axis: y) { _ in 14 }
        for t in x.ticks {
            let px = x.pixel(t.value)
            svg.open("g", [("class", "tick x"), ("data-value", NumberFormat.significant(t.value, digits: 15))])
            svg.line(px, plotBottom, px, plotBottom + 4, [("stroke", "#555")])
            if xLabels.contains(t.value) { svg.text(t.label, px, plotBottom + 16, anchor: "middle", [("class", "ticklabel")]) }
            svg.close()
        }
        for t in y.ticks {
            let py = y.pixel(t.value)
            svg.open("g", [("class", "tick y"), ("data-value", NumberFormat.significant(t.value, digits: 15))])
            svg.line(plotLeft - 4, py, plotLeft, py, [("stroke", "#555")])
            if yLabels.contains(t.value) { svg.text(t.label, plotLeft - 7, py + 4, anchor: "end", [("class", "ticklabel")]) }
            svg.close()
        }
        for t in y.minorTicks where y.contains(t.value) {
            let py = y.pixel(t.value)
            svg.open("g", [("class", "tick minor"), ("data-value", NumberFormat.significant(t.value, digits: 15))])
            svg.line(plotLeft - 2.5, py, plotLeft, py, [("stroke", "#777")])
            if yLabels.contains(t.value) {
                svg.line(plotLeft, py, plotRight, py, [("stroke", "#f0f0f0")])
                svg.text(t.label, plotLeft - 7, py + 4, anchor: "end", [("class", "ticklabel minor")])
            }
            svg.close()
        }
        for t in x.minorTicks where x.contains(t.value) {
            let px = x.pixel(t.value)
            svg.open("g", [("class", "tick minor"), ("data-value", NumberFormat.significant(t.value, digits: 15))])
            svg.line(px, plotBottom, px, plotBottom + 2.5, [("stroke", "#777")])
            if xLabels.contains(t.value) {
                svg.line(px, plotTop, px, plotBottom, [("stroke", "#f0f0f0")])
                svg.text(t.label, px, plotBottom + 16, anchor: "middle", [("class", "ticklabel minor")])
            }
            svg.close()
        }
        svg.text(xTitle, (plotLeft + plotRight) / 2, height - 8, anchor: "middle", [("class", "axistitle")])
        svg.text(yTitle, 14, (plotTop + plotBottom) / 2, anchor: "middle", rotate: -90, [("class", "axistitle")])
        if let title {
            svg.text(title, plotLeft, 16, [("class", "plottitle")])
        }
    }
}
