/// Builds one inline `<svg>` element as text. Coordinates are in CSS pixels, origin top left.
///
/// Every attribute value and text node goes through ``Markup/escape(_:)``; numbers are written
/// with ``NumberFormat/coordinate(_:)`` (one decimal), which keeps large plots small.
struct SVGWriter {
    let width: Double
    let height: Double
    private var attributes: [(String, String)]
    private var body = ""

    /// A drawing of `width` x `height` pixels. `label` is read by screen readers (`aria-label`).
    init(width: Double, height: Double, label: String, cssClass: String = "plot", attributes extra: [(String, String)] = []) {
        self.width = width
        self.height = height
        attributes = [("class", cssClass), ("role", "img"), ("aria-label", label)] + extra
    }

    /// The finished element.
    var markup: String {
        let w = NumberFormat.coordinate(width), h = NumberFormat.coordinate(height)
        var head = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\""
        for (k, v) in attributes { head += " \(k)=\"\(Markup.escape(v))\"" }
        return head + ">" + body + "</svg>"
    }

    /// Opens a group; close it with ``close(_:)``.
    mutating func open(_ tag: String = "g", _ attrs: [(String, String)] = []) {
        body += "<" + tag + render(attrs) + ">"
    }

    mutating func close(_ tag: String = "g") { body += "</" + tag + ">" }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ attrs: [(String, String)] = []) {
        body += "<line x1=\"\(c(x1))\" y1=\"\(c(y1))\" x2=\"\(c(x2))\" y2=\"\(c(y2))\"" + render(attrs) + "/>"
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ attrs: [(String, String)] = []) {
        body += "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(w))\" height=\"\(c(h))\"" + render(attrs) + "/>"
    }

    mutating func circle(_ cx: Double, _ cy: Double, _ r: Double, _ attrs: [(String, String)] = []) {
        body += "<circle cx=\"\(c(cx))\" cy=\"\(c(cy))\" r=\"\(c(r))\"" + render(attrs) + "/>"
    }

    mutating func path(_ d: String, _ attrs: [(String, String)] = []) {
        body += "<path d=\"\(Markup.escape(d))\"" + render(attrs) + "/>"
    }

    /// A text node. `anchor` is "start", "middle" or "end"; `rotate` turns it about (x, y).
    mutating func text(_ s: String, _ x: Double, _ y: Double, anchor: String = "start", rotate: Double? = nil,
                       _ attrs: [(String, String)] = []) {
        var a: [(String, String)] = [("x", c(x)), ("y", c(y))]
        if anchor != "start" { a.append(("text-anchor", anchor)) }
        if let rotate { a.append(("transform", "rotate(\(c(rotate)) \(c(x)) \(c(y)))")) }
        body += "<text" + render(a + attrs) + ">" + Markup.escape(s) + "</text>"
    }

    /// A polyline through `points` (pixel coordinates), unfilled.
    mutating func polyline(_ points: [(x: Double, y: Double)], _ attrs: [(String, String)] = []) {
        var p = ""
        p.reserveCapacity(points.count * 12)
        for (k, pt) in points.enumerated() {
            if k > 0 { p += " " }
            p += c(pt.x) + "," + c(pt.y)
        }
        body += "<polyline points=\"" + p + "\" fill=\"none\"" + render(attrs) + "/>"
    }

    /// Appends markup that is already well formed (for example a nested drawing).
    mutating func raw(_ markup: String) { body += markup }

    private func c(_ x: Double) -> String { NumberFormat.coordinate(x) }

    private func render(_ attrs: [(String, String)]) -> String {
        var out = ""
        for (k, v) in attrs { out += " \(k)=\"\(Markup.escape(v))\"" }
        return out
    }
}
