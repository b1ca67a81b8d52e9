/// The candidates of `auto` and `stack` (``AutoMethod``, ``StackMethod``) that a request can
/// afford, and the ones left out with the reason, so that a log too large for one candidate
/// still gets the others instead of a refusal or hours of dense work.
///
/// A candidate is left out when
/// - it needs gradient features and the request has none (silently: it does not apply);
/// - its only solver is dense (a method whose ``MethodDescriptor/solvers`` has `.dense` but not
///   `.cg`, as lag-kernel-tracin) and the training runs use more than
///   ``denseExampleLimit`` distinct training examples;
/// - its memory estimate (``MethodDescriptor/memoryEstimate(_:)``) exceeds the request's
///   ``MethodInputs/memoryBudget``.
/// When every applicable candidate would be left out, none is: the fit then meets the usual
/// memory check, which names what is too large.
struct AffordableCandidates {
    /// Distinct training examples up to which `auto` and `stack` fit a dense-only candidate. The
    /// dense lag-kernel fit factors an n x n matrix per lambda, fold and kernel update: about 4-5
    /// minutes at 5,000 examples on 2 cores (Docs/Performance.md), growing as n^3, so about 20
    /// minutes at 8,192 and hours beyond 16,000. Fitted alone (`--method lag-kernel`) such a
    /// method is not limited.
    static let denseExampleLimit = 8_192

    /// The candidates to fit, in the order given.
    var kept: [MethodName]
    /// The candidates left out and why, in the order given.
    var leftOut: [(method: MethodName, reason: String)]

    /// The left-out candidates as "name (why)".
    var explanations: [String] { leftOut.map { "\($0.method.name) (\($0.reason))" } }

    /// For progress lines: "" or "; left out: name, name".
    var progressSuffix: String {
        leftOut.isEmpty ? "" : "; left out: " + leftOut.map(\.method.name).joined(separator: ", ")
    }

    init(_ candidates: [MethodName], _ request: FitRequest) {
        let allowed = candidates.allowed(by: request.inputs)
        var kept: [MethodName] = [], leftOut: [(method: MethodName, reason: String)] = []
        var active: Int?
        for method in allowed {
            let descriptor = method.descriptor
            if descriptor.solvers.contains(.dense) && !descriptor.solvers.contains(.cg) {
                let examples = active ?? FitMemory.activeExamplesAndRows(log: request.log, runs: request.runs).active
                active = examples
                if examples > Self.denseExampleLimit {
                    leftOut.append((method, "its solver is dense and the runs use \(examples) training examples, more than the \(Self.denseExampleLimit) auto and stack fit it for; fit it alone with --method \(method.name)"))
                    continue
                }
            }
            if let budget = request.inputs.memoryBudget {
                let estimate = descriptor.memoryEstimate(request)
                if estimate.bytes > budget {
                    leftOut.append((method, "it needs about \(FitMemory.describe(Double(estimate.bytes))) of memory, more than the \(FitMemory.describe(Double(budget))) this fit may use"))
                    continue
                }
            }
            kept.append(method)
        }
        if kept.isEmpty {
            kept = allowed
            leftOut = []
        }
        self.kept = kept
        self.leftOut = leftOut
    }

    /// The memory of fitting the kept candidates one after another (`auto`: the largest) or all
    /// kept at once (`stack`: the sum).
    func memoryEstimate(_ request: FitRequest, together: Bool) -> FitMemory.Estimate {
        let parts = kept.map { $0.descriptor.memoryEstimate(request) }
        if together {
            return FitMemory.Estimate(bytes: parts.reduce(0) { sum, part in
                let (total, overflow) = sum.addingReportingOverflow(part.bytes)
                return overflow ? Int.max : total
            },
                                      detail: parts.map(\.detail).joined(separator: "; "))
        }
        return parts.max { $0.bytes < $1.bytes } ?? FitMemory.Estimate(bytes: 0, detail: "")
    }
}
