import ArgumentParser
import Simfluence

extension MethodName: ExpressibleByArgument {
    /// A registered method's name, or "auto" (``AutoMethod``).
    public init?(argument: String) {
        if argument == AutoMethod.auto.name { self.init(AutoMethod.auto) } else { self.init(argument) }
    }
    public static var allValueStrings: [String] { allCases.map(\.name) + [AutoMethod.auto.name] }
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
        (helpLines + ["\(AutoMethod.auto.name): \(AutoMethod.auto.summary)"]).joined(separator: "; ")
    }
}

extension RemovalEffects.Aggregation: ExpressibleByArgument {}
