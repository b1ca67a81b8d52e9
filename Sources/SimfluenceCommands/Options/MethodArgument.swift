import ArgumentParser
import Simfluence

extension MethodName: ExpressibleByArgument {
    /// A registered method's name, or a combination's ("auto", "stack"; ``MethodRegistry/combinations``).
    public init?(argument: String) {
        self.init(argument)
    }
    public static var allValueStrings: [String] { allCases.map(\.name) + MethodRegistry.combinations.map(\.name) }
}

extension UnseenPolicy: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension SolverKind: ExpressibleByArgument {}

extension ShardSpec {
    /// Parses `--shard K/N`, with the library's message on a malformed or out-of-range value.
    static func parseArgument(_ text: String) throws -> ShardSpec {
        do {
            return try ShardSpec(parsing: text)
        } catch SimfluenceError.invalidArgument(let message) {
            throw ValidationError(message)
        }
    }
}

extension MethodRegistry {
    /// The methods as a help paragraph: "name: summary" per method.
    var helpText: String {
        helpLines.joined(separator: "; ")
    }
}

extension RemovalEffects.Aggregation: ExpressibleByArgument {}
