/// One simulator of a stack and its weight (see ``FittedSimulator/components``).
public struct StackComponent: Sendable, Equatable {
    /// The weight of this simulator's trajectory in the stack's, in [0, 1]; a stack's weights
    /// sum to 1.
    public var weight: Double
    /// The simulator, with the stack's training and test ids in the same order.
    public var simulator: FittedSimulator

    public init(weight: Double, simulator: FittedSimulator) {
        self.weight = weight
        self.simulator = simulator
    }
}

extension FittedSimulator {
    /// A stack of `components` (weights >= 0 summing to 1, every simulator with the same training
    /// and test ids): its own A and B are zero, its seen flags, fitted runs and starting point
    /// the first component's.
    public static func stack(_ components: [StackComponent], method: MethodName, provenance: FitProvenance) -> FittedSimulator {
        precondition(!components.isEmpty, "a stack needs at least one component")
        let first = components[0].simulator
        precondition(components.allSatisfy { $0.simulator.trainIDs == first.trainIDs && $0.simulator.testIDs == first.testIDs },
                     "a stack's components must share training and test ids")
        let zeros = Matrix(rows: first.testIDs.count, columns: first.trainIDs.count)
        var sim = FittedSimulator(method: method, form: .additive, lambda: nil, trainIDs: first.trainIDs, testIDs: first.testIDs,
                                  a: zeros, b: zeros, seen: first.seen, fittedOn: first.fittedOn,
                                  startingStep: first.startingStep, startingLosses: first.startingLosses, provenance: provenance)
        sim.components = components
        return sim
    }

    /// Whether rollouts can clamp losses to a stored range, so that a clamped count means
    /// something: an extended simulator, or a stack with one among its components.
    public var clamps: Bool { isExtended || components.contains { $0.simulator.isExtended } }

    /// Whether a refit (``MethodDescriptor/refit(like:_:)``) needs gradient features: the
    /// method's, or for a stack any component's.
    public var refitNeedsGradients: Bool {
        method.needsGradients || components.contains { $0.simulator.method.needsGradients }
    }

    /// The stack's rollout: the weighted sum of its components' rollouts (each its own method's,
    /// summed in component order), and the total of their clamped losses.
    func stackRollout<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int]?, firstStep: Int) -> Rollout {
        var sum: Matrix?
        var clamped = 0
        for part in components {
            let rollout = part.simulator.simulation(batches, initial: initial, tests: tests, firstStep: firstStep)
            clamped += rollout.clamped
            sum = Self.addingWeighted(sum, rollout.losses, part.weight)
        }
        var losses = sum!
        // Row 0 is the starting loss itself, not a weighted sum of copies of it.
        for (c, value) in initial.enumerated() where c < losses.columns { losses[0, c] = value }
        return Rollout(losses: losses, clamped: clamped)
    }

    /// The stack's final losses: the weighted sum of its components' (in component order).
    func stackFinalLosses(curricula: [[[Int]]], initial: [Double], tests: [Int]?, threads: Int) -> Matrix {
        var sum: Matrix?
        for part in components {
            let losses = part.simulator.simulateFinalLosses(curricula: curricula, initial: initial, tests: tests, threads: threads)
            sum = Self.addingWeighted(sum, losses, part.weight)
        }
        return sum!
    }

    /// `sum + weight x m` (`weight x m` when `sum` is nil).
    private static func addingWeighted(_ sum: Matrix?, _ m: Matrix, _ weight: Double) -> Matrix {
        var out = sum ?? Matrix(rows: m.rows, columns: m.columns)
        for k in out.storage.indices { out.storage[k] += weight * m.storage[k] }
        return out
    }
}
