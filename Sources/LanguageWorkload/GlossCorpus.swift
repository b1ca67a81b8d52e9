import Foundation
import SimfluenceCore

/// The WordNet 3.0 glosses bundled with this module: 8,000 short English texts, one a line,
/// `POS<TAB>word: definition` (lower-case ASCII, POS noun, verb, adj or adv).
///
/// An example is the text after the tab, `word: definition` (24 to 96 characters in the bundled
/// file): the part of speech is kept (``partOfSpeech``) but not modelled. Example ids are 0-based
/// line numbers written in decimal ("0" ... "7999").
public struct GlossCorpus: Sendable, Equatable {
    /// Name recorded in training-log metadata.
    public static let name = "wordnet-3.0-glosses"

    /// The example text of every line (`word: definition`).
    public let texts: [String]
    /// The part of speech of every line (`noun`, `verb`, `adj` or `adv` in the bundled file).
    public let partOfSpeech: [String]

    /// Number of examples.
    public var count: Int { texts.count }

    /// The id of line `line` (0-based).
    public static func id(ofLine line: Int) -> String { String(line) }

    /// The line of `id`, or nil if `id` is not a line number of this corpus.
    public func line(of id: String) -> Int? {
        guard let r = Int(id), r >= 0, r < count, String(r) == id else { return nil }
        return r
    }

    /// Loads the copy bundled with this module (`Resources/wordnet-glosses.txt`).
    public static func bundled() throws -> GlossCorpus {
        guard let url = Bundle.module.url(forResource: "wordnet-glosses", withExtension: "txt") else {
            throw SimfluenceError.input(file: "wordnet-glosses.txt", line: nil, message: "the bundled resource is missing")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SimfluenceError.input(file: url.path, line: nil, message: "cannot read: \(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SimfluenceError.input(file: url.path, line: nil, message: "not UTF-8 text")
        }
        return try GlossCorpus(text: text, source: "wordnet-glosses.txt")
    }

    /// Parses `POS<TAB>text` lines. Blank lines are skipped (they do not get a line number). A
    /// line without a tab, with an empty text, or with a character outside printable ASCII
    /// throws ``SimfluenceError/input(file:line:message:)``.
    public init(text: String, source: String = "wordnet-glosses.txt") throws {
        var texts: [String] = []
        var pos: [String] = []
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            guard let tab = line.firstIndex(of: "\t") else {
                throw SimfluenceError.input(file: source, line: lineNumber, message: "expected 'POS<TAB>text', found no tab")
            }
            let body = line[line.index(after: tab)...]
            guard !body.isEmpty else {
                throw SimfluenceError.input(file: source, line: lineNumber, message: "the text after the tab is empty")
            }
            if let bad = body.unicodeScalars.first(where: { !($0.value >= 0x20 && $0.value < 0x7F) }) {
                throw SimfluenceError.input(file: source, line: lineNumber,
                                            message: "character U+\(String(bad.value, radix: 16, uppercase: true)) is not printable ASCII")
            }
            texts.append(String(body))
            pos.append(String(line[..<tab]))
        }
        guard !texts.isEmpty else {
            throw SimfluenceError.input(file: source, line: nil, message: "no examples")
        }
        self.texts = texts
        partOfSpeech = pos
    }
}

/// The model's character-level vocabulary: token 0 is the begin token that starts every input,
/// tokens 1... are the characters of a corpus in ascending byte order. There is no padding token:
/// every sequence is processed at its own length, so nothing is ever padded.
public struct CharacterVocabulary: Sendable, Equatable {
    /// Token of the begin marker (input only: it is never a prediction target).
    public static let begin = 0
    /// The characters, as ASCII bytes, of tokens 1 ... ``size`` - 1.
    public let characters: [UInt8]
    private let tokenOfByte: [Int]

    /// The vocabulary of every character that occurs in `texts` (printable ASCII).
    public init(texts: [String]) {
        var seen = [Bool](repeating: false, count: 128)
        for t in texts { for b in t.utf8 where b < 128 { seen[Int(b)] = true } }
        characters = (0..<128).filter { seen[$0] }.map(UInt8.init)
        var map = [Int](repeating: -1, count: 128)
        for (k, b) in characters.enumerated() { map[Int(b)] = k + 1 }
        tokenOfByte = map
    }

    /// Number of tokens: the characters plus the begin token.
    public var size: Int { characters.count + 1 }

    /// The tokens of `text`: the begin token, then one token per character, at most `context`
    /// characters (a longer text is truncated to its first `context` characters). Predicting
    /// token k + 1 from tokens 0...k for every k gives the text's loss over `min(count, context)`
    /// characters. Nil if `text` has a character outside the vocabulary.
    public func tokens(of text: String, context: Int) -> [Int]? {
        var out = [Self.begin]
        out.reserveCapacity(min(text.utf8.count, context) + 1)
        for b in text.utf8.prefix(context) {
            guard b < 128, tokenOfByte[Int(b)] > 0 else { return nil }
            out.append(tokenOfByte[Int(b)])
        }
        return out
    }

    /// The text of character tokens (the begin token and unknown tokens are skipped).
    public func text(of tokens: [Int]) -> String {
        String(decoding: tokens.compactMap { $0 >= 1 && $0 < size ? characters[$0 - 1] : nil }, as: UTF8.self)
    }
}
