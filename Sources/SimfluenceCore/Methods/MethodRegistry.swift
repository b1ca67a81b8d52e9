/// The methods a build knows, by name: what `--method` accepts and model files may name.
///
/// Adding a method is one new file with its ``MethodDescriptor`` and one line in
/// ``builtIn``. A program can extend the registry with methods of its own
/// (``adding(_:)``) and pass it wherever a name is looked up (model files, the CLI's parser).
public struct MethodRegistry: Sendable {
    /// The registered methods, in order (the order of `--method all` and of tables).
    public let methods: [MethodName]
    private let byName: [String: Int]

    /// A registry of `descriptors`; their names must be distinct and not "all".
    public init(_ descriptors: [any MethodDescriptor]) {
        var byName: [String: Int] = [:]
        for (k, d) in descriptors.enumerated() {
            precondition(byName[d.name] == nil, "method '\(d.name)' registered twice")
            precondition(d.name != "all" && !d.name.isEmpty && !Self.combinations.contains { $0.name == d.name },
                         "'\(d.name)' cannot be a method name")
            byName[d.name] = k
        }
        self.methods = descriptors.map(MethodName.init)
        self.byName = byName
    }

    /// The method called `name` (a registered one or one of ``combinations``), or nil.
    public func method(named name: String) -> MethodName? {
        if let k = byName[name] { return methods[k] }
        return Self.combinations.first { $0.name == name }.map(MethodName.init)
    }

    /// Methods that combine the built-in ones (`auto` picks one, `stack` weighs several): known
    /// by name to commands and model files, but not among ``methods``, so `--method all` does not
    /// fit every candidate a second time.
    public static let combinations: [any MethodDescriptor] = [AutoMethod.auto, StackMethod.stack]

    /// This registry with `descriptor` appended.
    public func adding(_ descriptor: any MethodDescriptor) -> MethodRegistry {
        MethodRegistry(methods.map(\.descriptor) + [descriptor])
    }

    /// Every method of this build. One line per method.
    public static let builtIn = MethodRegistry([
        RidgeMethod.linear,
        RidgeMethod.additive,
        RidgeMethod.multiplicative,
        ExtendedRidgeMethod.linearPooled,
        ExtendedRidgeMethod.linearTime,
        ExtendedRidgeMethod.linearRollout,
        ExtendedRidgeMethod.linearCarry,
        LagKernelMethod.lagKernel,
        LagKernelMethod.lagKernelTracin,
        ClassicMethodDescriptor.tracinCP,
        ClassicMethodDescriptor.tracinCPScaled,
        ClassicMethodDescriptor.gradDot,
        ClassicMethodDescriptor.gradDotScaled,
        ClassicMethodDescriptor.influence,
        ClassicMethodDescriptor.influenceScaled,
    ])

    /// One line per method for help texts: "name: summary", grouped by family in order.
    public var helpLines: [String] {
        (methods.map(\.descriptor) + Self.combinations).map { "\($0.name): \($0.summary)" }
    }
}
