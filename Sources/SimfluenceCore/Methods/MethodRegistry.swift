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
            precondition(d.name != "all" && !d.name.isEmpty, "'\(d.name)' cannot be a method name")
            byName[d.name] = k
        }
        self.methods = descriptors.map(MethodName.init)
        self.byName = byName
    }

    /// The method called `name`, or nil.
    public func method(named name: String) -> MethodName? {
        byName[name].map { methods[$0] }
    }

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
        methods.map { "\($0.name): \($0.descriptor.summary)" }
    }
}
