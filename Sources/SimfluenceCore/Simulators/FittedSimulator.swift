/// A fitted training-run simulator: per test example z, one multiplicative factor A_i and one
/// additive term B_i for every training example i, applied by the recurrence
/// L_t = alpha(c_t) L_{t-1} + beta(c_t) (see ``RecurrenceForm``).
///
/// Losses are in the units of the log (usually nats of cross-entropy). Sign convention: a
/// negative B_i (or an A_i below 1/|c_t|) lowers the loss, that is, helps the test example.
public struct FittedSimulator: Sendable, Equatable {
    /// The method that fitted the parameters and simulates with them.
    public var method: MethodName
    /// Which recurrence the parameters plug into.
    public var form: RecurrenceForm
    /// The ridge penalty the parameters were fitted with (nil for methods not fitted by ridge).
    public var lambda: Double?
    /// Training example ids, in column order of ``a`` and ``b``.
    public var trainIDs: [String]
    /// Test example ids, in row order of ``a`` and ``b``.
    public var testIDs: [String]
    /// A[z, i]: multiplicative factor of training example i for test example z (tests x train).
    /// Unused (all zero) for the additive form.
    public var a: Matrix
    /// B[z, i]: additive term of training example i for test example z (tests x train), in loss
    /// units. Unused (all zero) for the multiplicative form.
    public var b: Matrix
    /// seen[i] is true when training example i appeared in at least one fitted run; parameters of
    /// unseen examples are zero and simulating them is an error unless ``UnseenPolicy/zero``.
    public var seen: [Bool]
    /// Names of the runs the simulator was fitted on.
    public var fittedOn: [String]
    /// The step at which the fitted runs recorded their first loss (0: before training, native
    /// layout; 1: after the first update, GPTDynamics layout). A simulation that starts from
    /// ``startingLosses`` applies a curriculum's batches from step `startingStep + 1` on.
    public var startingStep: Int
    /// Per test example (in ``testIDs`` order), the mean over the fitted runs of their first
    /// recorded loss: the default starting point of a simulation. Loss units.
    public var startingLosses: [Double]
    /// How the simulator was fitted: lambda choice, cross-validation, solver, shard, log, ...
    public var provenance: FitProvenance
    /// ``provenance`` as the model file's key-value metadata.
    public var metadata: [String: String] { provenance.metadata }
    /// Optional per-step terms shared by all training examples (extended methods): u_t is added
    /// to alpha(c_t). Tests x S; column c holds step t = c + 1; steps beyond S use column S - 1.
    /// nil (the default) for Simfluence-Linear and its variants.
    public var stepAlpha: Matrix? = nil
    /// Optional per-step additive terms v_t added to beta(c_t); same layout as ``stepAlpha``.
    public var stepBeta: Matrix? = nil
    /// Optional per-test-example lower and upper bounds: every simulated loss is clamped to
    /// [lossLower[z], lossUpper[z]] before it is fed back. nil (the default): no clamping.
    public var lossLower: [Double]? = nil
    public var lossUpper: [Double]? = nil
    /// Carry-over decay rho of the additive effects (extended methods): the beta of step t is
    /// sum_{s <= t} rho^(t - s) beta(c_s) over the simulated batches, so a batch keeps acting,
    /// geometrically fading, on later steps. 0 (the default): beta = beta(c_t).
    public var carry: Double = 0
    /// Optional lag kernel of the additive effects (the lag-kernel simulator): the beta of step t
    /// is sum_{s <= t} kappa(t - s) beta(c_s) over the simulated batches (``LagKernel``). nil (the
    /// default): beta = beta(c_t), or the geometric carry-over above. Never set together with
    /// ``carry``.
    public var lagKernel: LagKernel? = nil
    /// The simulators of a stack (``StackMethod``) and their weights: the stack's trajectory is
    /// the weighted sum of theirs, each rolled out on its own. Empty (the default) for every other
    /// simulator; a stack's own ``a`` and ``b`` are zero and unused.
    public var components: [StackComponent] = []

    /// Whether the simulator uses any extended term (step terms, carry-over, a lag kernel or clamping).
    public var isExtended: Bool {
        stepAlpha != nil || stepBeta != nil || lossLower != nil || lossUpper != nil || carry != 0 || lagKernel != nil
    }

    /// Creates a simulator; `a` and `b` must be `testIDs.count` x `trainIDs.count`.
    public init(method: MethodName, form: RecurrenceForm, lambda: Double?, trainIDs: [String], testIDs: [String],
                a: Matrix, b: Matrix, seen: [Bool], fittedOn: [String],
                startingStep: Int = 0, startingLosses: [Double]? = nil, provenance: FitProvenance = FitProvenance()) {
        precondition(a.rows == testIDs.count && a.columns == trainIDs.count, "A must be tests x train")
        precondition(b.rows == testIDs.count && b.columns == trainIDs.count, "B must be tests x train")
        precondition(seen.count == trainIDs.count, "seen must have one flag per training example")
        self.method = method
        self.form = form
        self.lambda = lambda
        self.trainIDs = trainIDs
        self.testIDs = testIDs
        self.a = a
        self.b = b
        self.seen = seen
        self.fittedOn = fittedOn
        self.startingStep = startingStep
        self.startingLosses = startingLosses ?? Array(repeating: 0, count: testIDs.count)
        precondition(self.startingLosses.count == testIDs.count, "one starting loss per test example")
        self.provenance = provenance
    }

    /// Maps a curriculum of training-example ids to indices into ``trainIDs``.
    ///
    /// Ids the simulator never saw are an error under ``UnseenPolicy/error`` and are dropped
    /// (no effect) under ``UnseenPolicy/zero``; under ``UnseenPolicy/mean`` they map to
    /// ``typicalExampleID``, which must be one of ``trainIDs`` (see ``plan(_:unseen:source:firstStep:)``,
    /// which adds it). `source` names the curriculum in error messages; `firstStep` is the step
    /// number of `curriculum[0]`.
    public func resolve(_ curriculum: [[String]], unseen: UnseenPolicy, source: String, firstStep: Int = 1) throws -> [[Int]] {
        let index = Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
        let typical = unseen == .mean ? index[Self.typicalExampleID] : nil
        precondition(unseen != .mean || typical != nil, "resolve(unseen: .mean) needs addingTypicalExample() first")
        return try curriculum.enumerated().map { offset, batch in
            try batch.compactMap { id -> Int? in
                if let i = index[id], seen[i] { return i }
                switch unseen {
                case .zero: return nil
                case .mean: return typical
                case .error: throw SimfluenceError.unseenExample(id: id, step: firstStep + offset, source: source)
                }
            }
        }
    }

    /// The simulator and batches that roll `curriculum` out under `unseen`: this simulator and
    /// ``resolve(_:unseen:source:firstStep:)``'s batches, or, under ``UnseenPolicy/mean`` when
    /// the curriculum has unseen ids, ``addingTypicalExample()`` and batches that use it.
    public func plan(_ curriculum: [[String]], unseen: UnseenPolicy, source: String,
                     firstStep: Int = 1) throws -> (simulator: FittedSimulator, batches: [[Int]]) {
        guard unseen == .mean else {
            return (self, try resolve(curriculum, unseen: unseen, source: source, firstStep: firstStep))
        }
        let index = Dictionary(uniqueKeysWithValues: trainIDs.enumerated().map { ($1, $0) })
        let allSeen = curriculum.allSatisfy { $0.allSatisfy { id in index[id].map { seen[$0] } ?? false } }
        let sim = allSeen ? self : addingTypicalExample()
        return (sim, try sim.resolve(curriculum, unseen: allSeen ? .error : .mean, source: source, firstStep: firstStep))
    }

    /// The id of the extra training example ``addingTypicalExample()`` appends (a string no log
    /// id can collide with in practice: it contains a NUL character).
    public static let typicalExampleID = "\u{0}simfluence-typical-unseen-example"

    /// This simulator with one more training example, ``typicalExampleID``, marked seen, whose
    /// A and B for each test example are the means of A and B over the seen examples (zero when
    /// none was seen). It stands for any example the fitted runs did not contain.
    public func addingTypicalExample() -> FittedSimulator {
        let n = trainIDs.count, rows = testIDs.count
        let seenCount = Double(seen.filter { $0 }.count)
        func widened(_ m: Matrix) -> Matrix {
            var out = Matrix(rows: rows, columns: n + 1)
            for z in 0..<rows {
                var sum = 0.0
                for i in 0..<n {
                    out.storage[z * (n + 1) + i] = m.storage[z * n + i]
                    if seen[i] { sum += m.storage[z * n + i] }
                }
                out.storage[z * (n + 1) + n] = seenCount > 0 ? sum / seenCount : 0
            }
            return out
        }
        var copy = self
        copy.components = components.map { StackComponent(weight: $0.weight, simulator: $0.simulator.addingTypicalExample()) }
        copy.a = widened(a)
        copy.b = widened(b)
        copy.trainIDs.append(Self.typicalExampleID)
        copy.seen.append(true)
        return copy
    }

    /// Rolls the model out autoregressively from `initial` losses through `batches`, as its
    /// method's descriptor does it (see ``MethodDescriptor/simulate(_:_:initial:tests:firstStep:)``).
    ///
    /// - Parameters:
    ///   - batches: the batches to apply, in order, as indices into ``trainIDs``.
    ///   - initial: the starting loss of every test example in `tests`.
    ///   - tests: rows of ``a``/``b`` to simulate (default: every test example, in order).
    ///   - firstStep: the step number of `batches.first` (for per-step terms; default
    ///     `startingStep + 1`). Ignored by simulators without step terms.
    /// - Returns: a `(batches.count + 1)` x `tests.count` matrix; row 0 is `initial` and row t the
    ///   predicted loss after applying the first t batches.
    public func simulate<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int]? = nil,
                                                firstStep: Int? = nil) -> Matrix {
        simulation(batches, initial: initial, tests: tests, firstStep: firstStep).losses
    }

    /// ``simulate(_:initial:tests:firstStep:)`` with the number of simulated losses that were
    /// clamped to the model's stored range.
    public func simulation<C: Collection<[Int]>>(_ batches: C, initial: [Double], tests: [Int]? = nil,
                                                  firstStep: Int? = nil) -> Rollout {
        method.descriptor.simulate(self, batches, initial: initial, tests: tests, firstStep: firstStep ?? startingStep + 1)
    }

    /// Final predicted losses of many curricula (each a list of batches of indices into
    /// ``trainIDs``) for the test examples `tests` (default all), each starting from `initial`
    /// (one loss per test example): a `curricula.count` x `tests.count` matrix, bit-identical to
    /// the last row of ``simulate(_:initial:tests:firstStep:)`` per curriculum.
    public func simulateFinalLosses(curricula: [[[Int]]], initial: [Double], tests: [Int]? = nil,
                                    threads: Int = Parallel.defaultThreads) -> Matrix {
        method.descriptor.finalLosses(self, curricula: curricula, initial: initial, tests: tests, threads: threads)
    }
}
