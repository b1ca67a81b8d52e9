import ArgumentParser
import Foundation
import Simfluence

/// Where the classic methods (TracIn-CP, Grad-Dot, influence) find their gradient features.
struct GradientOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Gradient features for tracin-cp, grad-dot and influence (a folder with index.json).",
        discussion: "Default: the log's own gradients/ folder, which 'simfluence train' writes.",
        valueName: "dir"))
    var gradients: String?

    @Option(help: "Damping added to the influence Hessian (default: 0.1 x its mean non-zero eigenvalue bound, trace(H) / min(n, d)).")
    var damping: Double?

    /// The features for the log at `logPath`: `--gradients`, else the log's gradients/ folder
    /// (beside runs/), else nil.
    func features(forLog logPath: String) throws -> GradientFeatures? {
        if let gradients { return try GradientFeaturesFile.read(gradients) }
        return try GradientFeaturesFile.find(forLog: logPath)
    }

    func validate() throws {
        if let damping, !(damping.isFinite && damping > 0) {
            throw ValidationError("--damping must be a finite number > 0 (got \(damping))")
        }
    }
}

/// The methods a command was asked for, with `all` expanded to every method the inputs allow.
enum MethodSelection {
    /// Expands "all" and checks that classic methods have gradient features; prints a note for
    /// each method "all" skips.
    static func resolve(_ names: [String], gradientsAvailable: Bool) throws -> [MethodName] {
        try checkNames(names)
        var methods: [MethodName] = []
        for name in names {
            if name == "all" {
                for m in MethodName.allCases where !methods.contains(m) {
                    if m.needsGradients && !gradientsAvailable {
                        StandardStream.error.write("note: skipping \(m.name): the log has no gradient features (--gradients DIR)")
                        continue
                    }
                    methods.append(m)
                }
                continue
            }
            guard let m = MethodName(argument: name) else { continue }
            if m.needsGradients && !gradientsAvailable {
                throw ValidationError("\(name) needs gradient features: pass --gradients DIR ('simfluence train' writes them to <log>/gradients)")
            }
            if !methods.contains(m) { methods.append(m) }
        }
        return methods
    }

    /// Throws for the first name that is neither a method nor "all". Commands call it from
    /// `validate()` too, so that the error comes with their own usage line, not the tool's.
    static func checkNames(_ names: [String]) throws {
        for name in names where name != "all" && MethodName(argument: name) == nil {
            throw ValidationError("unknown method '\(name)'; choose from: \((MethodName.allValueStrings + ["all"]).joined(separator: ", "))")
        }
    }
}
