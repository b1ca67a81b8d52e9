/// A method, by the name users type: a handle on its ``MethodDescriptor``.
///
/// Two names are equal when their descriptors' names are. Built-in methods are static members
/// (`.linear`, `.linearCarry`, `.tracinCP`, ...); ``init(_:registry:)`` looks a typed name up.
public struct MethodName: Hashable, Sendable, CustomStringConvertible {
    /// Everything the pipeline needs to know about the method.
    public let descriptor: any MethodDescriptor

    /// The method `descriptor` describes (also for methods not in any registry).
    public init(_ descriptor: any MethodDescriptor) {
        self.descriptor = descriptor
    }

    /// The method called `name` in `registry`, or nil.
    public init?(_ name: String, registry: MethodRegistry = .builtIn) {
        guard let m = registry.method(named: name) else { return nil }
        self = m
    }

    /// The CLI name ("linear", "tracin-cp-scaled", ...).
    public var name: String { descriptor.name }
    public var description: String { name }
    /// Whether the method needs gradient features besides the log.
    public var needsGradients: Bool { descriptor.needs.gradients }
    /// Whether a command should load the log's gradient features for the method: it needs them,
    /// or uses them when given.
    public var readsGradients: Bool { descriptor.needs.gradients || descriptor.needs.gradientsWhenGiven }

    /// Every built-in method, in registration order (Simfluence's first).
    public static var allCases: [MethodName] { MethodRegistry.builtIn.methods }

    public static func == (a: MethodName, b: MethodName) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension MethodName {
    public static let linear = MethodName(RidgeMethod.linear)
    public static let additive = MethodName(RidgeMethod.additive)
    public static let multiplicative = MethodName(RidgeMethod.multiplicative)
    public static let linearPooled = MethodName(ExtendedRidgeMethod.linearPooled)
    public static let linearTime = MethodName(ExtendedRidgeMethod.linearTime)
    public static let linearRollout = MethodName(ExtendedRidgeMethod.linearRollout)
    public static let linearCarry = MethodName(ExtendedRidgeMethod.linearCarry)
    public static let lagKernel = MethodName(LagKernelMethod.lagKernel)
    public static let lagKernelTracin = MethodName(LagKernelMethod.lagKernelTracin)
}

extension MethodName {
    public static let tracinCP = MethodName(ClassicMethodDescriptor.tracinCP)
    public static let tracinCPScaled = MethodName(ClassicMethodDescriptor.tracinCPScaled)
    public static let gradDot = MethodName(ClassicMethodDescriptor.gradDot)
    public static let gradDotScaled = MethodName(ClassicMethodDescriptor.gradDotScaled)
    public static let influence = MethodName(ClassicMethodDescriptor.influence)
    public static let influenceScaled = MethodName(ClassicMethodDescriptor.influenceScaled)
}

extension Array where Element == MethodName {
    /// The methods `inputs` allow, in order: those that need gradient features only when the
    /// inputs have them (the candidates of `auto` and `stack`).
    public func allowed(by inputs: MethodInputs) -> [MethodName] {
        filter { !$0.needsGradients || inputs.gradients != nil }
    }
}
