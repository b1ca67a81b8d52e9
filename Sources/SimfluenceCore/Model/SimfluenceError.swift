/// Every error simfluence reports: what went wrong, and where, in words a user can act on.
public enum SimfluenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Malformed or inconsistent input. `file` is the path (or a description of the source),
    /// `line` the 1-based line (or nil where lines do not apply, such as binary files), and
    /// `message` says what was expected and what was found.
    case input(file: String, line: Int?, message: String)
    /// A curriculum names a training example the simulator has no parameters for. `step` is the
    /// 1-based step whose batch holds it.
    case unseenExample(id: String, step: Int, source: String)
    /// The regularised normal equations are singular (or not positive definite) for a test example.
    case singularSystem(testID: String, lambda: Double)
    /// An argument or option is out of its range, or options contradict each other.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .input(file, line, message):
            if let line { return "\(file):\(line): \(message)" }
            return "\(file): \(message)"
        case let .unseenExample(id, step, source):
            return "\(source): step \(step): training example '\(id)' was never seen when the simulator was fitted, so it has no parameters (pass --unseen mean to simulate unseen examples as a typical seen one, or --unseen zero to drop them)"
        case let .singularSystem(testID, lambda):
            let advice = lambda > 0
                ? "use a larger lambda (the losses may be large: lambda is on the scale of the summed squared losses)"
                : "use a lambda > 0"
            return "the normal equations for test example '\(testID)' are singular at lambda = \(lambda): some parameters are not identified by the logged runs; \(advice)"
        case let .invalidArgument(message):
            return message
        }
    }
}

extension SimfluenceError {
    /// The refusal of a method that needs gradient features when none were given.
    static func missingGradients(method name: String) -> SimfluenceError {
        .invalidArgument("\(name) needs gradient features (pass --gradients DIR; 'simfluence train' writes them to <log>/gradients)")
    }
}
