/// One entry of a legend.
struct LegendEntry: Sendable {
    /// The key the plotted elements carry in `data-legend-key` (a method name, or "true").
    var key: String
    /// The text shown.
    var name: String
    var style: SeriesStyle
}

/// Legends as HTML lists with a small SVG swatch per entry, so they wrap with the page.
enum Legend {
    /// A legend of line swatches (`markers == false`) or scatter markers. Each `<li>` carries
    /// `data-key`; the list carries `class="legend"`.
    static func html(_ entries: [LegendEntry], markers: Bool = false) -> String {
        var out = "<ul class=\"legend\">"
        for e in entries {
            var swatch = SVGWriter(width: markers ? 14 : 34, height: 12, label: "", cssClass: "swatch",
                                   attributes: [("aria-hidden", "true")])
            if markers {
                let d = e.style.marker.path(x: 7, y: 6, r: 4.2)
                swatch.path(d, e.style.marker.isStroked
                    ? [("fill", "none"), ("stroke", e.style.color), ("stroke-width", "1.6")]
                    : [("fill", e.style.color), ("stroke", "#ffffff"), ("stroke-width", "0.5")])
            } else {
                swatch.line(1, 6, 33, 6, e.style.strokeAttributes)
            }
            out += "<li data-key=\"\(Markup.escape(e.key))\">" + swatch.markup + "<span>" + Markup.escape(e.name) + "</span></li>"
        }
        return out + "</ul>"
    }
}
