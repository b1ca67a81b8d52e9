import Foundation
import SimfluenceCore

/// The UCI optical digits data set (1797 8x8 images of handwritten digits, classes 0..9).
///
/// Example ids are 0-based row indices of the CSV, written in decimal ("0" ... "1796").
/// Pixels are stored scaled to [0, 1] (raw counts 0..16 divided by 16), row-major, 64 per example.
public struct DigitsDataset: Sendable, Equatable {
    /// Number of pixels per example (8 x 8).
    public static let pixelCount = 64
    /// Number of classes.
    public static let classCount = 10
    /// Name recorded in training-log metadata.
    public static let name = "uci-optical-digits"

    /// Scaled pixels of every example, `count * 64` values, example `r` at `r * 64 ..< (r + 1) * 64`.
    public let features: [Double]
    /// Class label (0..9) of every example.
    public let labels: [Int]

    /// Number of examples.
    public var count: Int { labels.count }

    /// The id of row `row`.
    public static func id(ofRow row: Int) -> String { String(row) }

    /// The row of `id`, or nil if `id` is not a row index of this data set.
    public func row(of id: String) -> Int? {
        guard let r = Int(id), r >= 0, r < count, String(r) == id else { return nil }
        return r
    }

    /// The scaled pixels of row `row`.
    public func pixels(ofRow row: Int) -> [Double] {
        Array(features[(row * Self.pixelCount)..<((row + 1) * Self.pixelCount)])
    }

    /// Loads the copy of the data set bundled with this module (`Resources/digits.csv`).
    public static func bundled() throws -> DigitsDataset {
        guard let url = Bundle.module.url(forResource: "digits", withExtension: "csv") else {
            throw SimfluenceError.input(file: "digits.csv", line: nil, message: "the bundled resource is missing")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimfluenceError.input(file: url.path, line: nil, message: "cannot read: \(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SimfluenceError.input(file: url.path, line: nil, message: "not UTF-8 text")
        }
        return try DigitsDataset(csv: text, source: "digits.csv")
    }

    /// Parses CSV text: one example a line, 64 integer pixel counts 0..16 then a label 0..9.
    /// Blank lines are skipped. Malformed lines throw ``SimfluenceError/input(file:line:message:)``.
    public init(csv: String, source: String = "digits.csv") throws {
        var features: [Double] = []
        var labels: [Int] = []
        var lineNumber = 0
        // `isNewline` also matches "\r\n", which Swift treats as one Character.
        for line in csv.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == Self.pixelCount + 1 else {
                throw SimfluenceError.input(file: source, line: lineNumber,
                                            message: "expected \(Self.pixelCount + 1) comma-separated integers, found \(fields.count) fields")
            }
            for (k, field) in fields.enumerated() {
                let trimmed = field.trimmingCharacters(in: .whitespaces)
                guard let value = Int(trimmed) else {
                    throw SimfluenceError.input(file: source, line: lineNumber,
                                                message: "field \(k + 1) is '\(trimmed)', not an integer")
                }
                if k < Self.pixelCount {
                    guard (0...16).contains(value) else {
                        throw SimfluenceError.input(file: source, line: lineNumber,
                                                    message: "pixel \(k + 1) is \(value), expected 0...16")
                    }
                    features.append(Double(value) / 16)
                } else {
                    guard (0..<Self.classCount).contains(value) else {
                        throw SimfluenceError.input(file: source, line: lineNumber,
                                                    message: "label is \(value), expected 0...9")
                    }
                    labels.append(value)
                }
            }
        }
        guard !labels.isEmpty else {
            throw SimfluenceError.input(file: source, line: nil, message: "no examples")
        }
        self.features = features
        self.labels = labels
    }
}
