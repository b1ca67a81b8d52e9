/// Draws an 8x8 digit image as a small SVG grid of grey squares.
public enum DigitImage {
    /// The image as an `<svg>` element: 64 `<rect class="px">` cells, row-major, each shaded from
    /// white (0) to black (1); values outside 0...1 are clamped and non-finite ones drawn as 0.
    /// Fewer than 64 values leave the remaining cells white; extra values are ignored.
    ///
    /// - Parameters:
    ///   - pixels: 64 intensities in 0...1, row-major.
    ///   - label: the class label, written into the accessible name.
    ///   - cell: the side of one square in pixels.
    public static func svg(pixels: [Double], label: Int, cell: Double = 5) -> String {
        let side = cell * 8
        var svg = SVGWriter(width: side + 2, height: side + 2, label: "8 by 8 image of a handwritten \(label)",
                            cssClass: "digit")
        svg.rect(0.5, 0.5, side + 1, side + 1, [("fill", "#ffffff"), ("stroke", "#9a9a9a"), ("stroke-width", "1")])
        for r in 0..<8 {
            for c in 0..<8 {
                let k = r * 8 + c
                let v = k < pixels.count && pixels[k].isFinite ? min(max(pixels[k], 0), 1) : 0
                svg.rect(1 + Double(c) * cell, 1 + Double(r) * cell, cell, cell,
                         [("class", "px"), ("fill", grey(1 - v))])
            }
        }
        return svg.markup
    }

    /// "#rrggbb" for a grey level in 0 (black) ... 1 (white).
    static func grey(_ level: Double) -> String {
        let v = Int((min(max(level, 0), 1) * 255).rounded())
        let digits = Array("0123456789abcdef")
        let hex = String([digits[v / 16], digits[v % 16]])
        return "#" + hex + hex + hex
    }
}
