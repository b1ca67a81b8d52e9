/// Colour, dash and marker for one plotted method, from a colour-blind-safe palette.
public struct SeriesStyle: Sendable, Equatable {
    /// CSS colour.
    public var color: String
    /// Stroke width in pixels.
    public var width: Double
    /// SVG dash pattern, nil for a solid line.
    public var dash: String?
    /// Marker shape for scatter plots.
    public var marker: Marker

    public init(color: String, width: Double = 1.4, dash: String? = nil, marker: Marker = .circle) {
        self.color = color
        self.width = width
        self.dash = dash
        self.marker = marker
    }

    /// SVG stroke attributes for a line in this style.
    var strokeAttributes: [(String, String)] {
        var a: [(String, String)] = [("stroke", color), ("stroke-width", NumberFormat.coordinate(width)),
                                     ("stroke-linejoin", "round")]
        if let dash { a.append(("stroke-dasharray", dash)) }
        return a
    }
}

/// Scatter marker shapes; each method gets a different one, so colour is never the only cue.
public enum Marker: String, Sendable, CaseIterable {
    case circle, square, triangle, diamond, invertedTriangle, cross

    /// An SVG path of this marker centred on (x, y) with "radius" r.
    func path(x: Double, y: Double, r: Double) -> String {
        func c(_ v: Double) -> String { NumberFormat.coordinate(v) }
        switch self {
        case .circle:
            return "M\(c(x - r)),\(c(y))a\(c(r)),\(c(r)) 0 1,0 \(c(2 * r)),0a\(c(r)),\(c(r)) 0 1,0 \(c(-2 * r)),0Z"
        case .square:
            let s = r * 0.9
            return "M\(c(x - s)),\(c(y - s))h\(c(2 * s))v\(c(2 * s))h\(c(-2 * s))Z"
        case .triangle:
            return "M\(c(x)),\(c(y - r * 1.15))L\(c(x + r)),\(c(y + r * 0.75))L\(c(x - r)),\(c(y + r * 0.75))Z"
        case .invertedTriangle:
            return "M\(c(x)),\(c(y + r * 1.15))L\(c(x + r)),\(c(y - r * 0.75))L\(c(x - r)),\(c(y - r * 0.75))Z"
        case .diamond:
            let s = r * 1.2
            return "M\(c(x)),\(c(y - s))L\(c(x + s)),\(c(y))L\(c(x)),\(c(y + s))L\(c(x - s)),\(c(y))Z"
        case .cross:
            let s = r * 0.9
            return "M\(c(x - s)),\(c(y - s))L\(c(x + s)),\(c(y + s))M\(c(x - s)),\(c(y + s))L\(c(x + s)),\(c(y - s))"
        }
    }

    /// Whether the shape is drawn as a stroke rather than filled.
    var isStroked: Bool { self == .cross }
}

/// The report's colours: Okabe and Ito's colour-blind-safe palette (without its yellow, which
/// is unreadable on white). Every method gets its own colour, dash pattern and marker, so colour
/// is never the only cue; the two baselines get fixed, quieter styles (grey and purple).
public enum Palette {
    /// Colours of fitted methods, in order of use.
    /// (Black is the real run's alone, so no method is drawn in it.)
    public static let colors = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#882255", "#117733", "#AA4499", "#44AA99"]
    static let dashes = ["7 3", "2 2.5", "11 3 2 3", "4 2", "1 3", "14 4"]
    /// The real (recorded) loss: solid black, drawn under the simulations.
    public static let truth = SeriesStyle(color: "#000000", width: 2.0, dash: nil, marker: .circle)
    /// The persistence baseline.
    public static let persistence = SeriesStyle(color: "#8F8F8F", width: 1.5, dash: "3 3", marker: .cross)
    /// The mean-run baseline.
    public static let meanRun = SeriesStyle(color: "#CC79A7", width: 1.5, dash: "8 2 2 2 2 2", marker: .invertedTriangle)

    /// The style of every row of the metrics table, by method name: "persistence" and
    /// "mean-run" get their fixed styles, the other methods the palette in order.
    public static func styles(for methods: [String]) -> [SeriesStyle] {
        var next = 0
        let markers: [Marker] = [.circle, .square, .triangle, .diamond]
        return methods.map { name in
            switch name {
            case "persistence": return persistence
            case "mean-run": return meanRun
            default:
                defer { next += 1 }
                return SeriesStyle(color: colors[next % colors.count], width: 1.6,
                                   dash: dashes[(next + next / colors.count) % dashes.count],
                                   marker: markers[next % markers.count])
            }
        }
    }
}
