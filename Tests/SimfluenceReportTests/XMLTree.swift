import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element, for inspecting the report's markup in tests.
final class XMLNode {
    let name: String
    let attributes: [String: String]
    var children: [XMLNode] = []
    var text = ""
    weak var parent: XMLNode?

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// Every descendant (depth first, document order), not including self.
    var descendants: [XMLNode] { children.flatMap { [$0] + $0.descendants } }

    /// Descendants named `name` (and carrying `attribute` when given).
    func all(_ name: String, where attribute: String? = nil, is value: String? = nil) -> [XMLNode] {
        descendants.filter { node in
            guard node.name == name else { return false }
            guard let attribute else { return true }
            guard let v = node.attributes[attribute] else { return false }
            return value == nil || v == value
        }
    }

    /// Descendants whose class attribute contains the word `word`.
    func withClass(_ word: String) -> [XMLNode] {
        descendants.filter { ($0.attributes["class"] ?? "").split(separator: " ").contains(Substring(word)) }
    }

    /// All text below this element, concatenated.
    var allText: String { text + children.map(\.allText).joined() }

    /// The nearest ancestor named `name`.
    func ancestor(_ name: String) -> XMLNode? {
        var p = parent
        while let node = p, node.name != name { p = node.parent }
        return p
    }
}

/// Parses a document with Foundation's XMLParser; returns nil (and the error) if it is not
/// well-formed XML.
final class XMLTreeBuilder: NSObject, XMLParserDelegate {
    private var stack: [XMLNode] = []
    private(set) var root: XMLNode?
    private(set) var error: Error?

    static func parse(_ text: String) -> (root: XMLNode?, error: Error?) {
        let builder = XMLTreeBuilder()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = builder
        let ok = parser.parse()
        return (ok ? builder.root : nil, parser.parserError ?? builder.error)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let node = XMLNode(name: elementName, attributes: attributeDict)
        node.parent = stack.last
        stack.last?.children.append(node)
        if root == nil { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        error = parseError
    }
}
