/// One logged training run: the curriculum it trained on and the losses it recorded.
///
/// Steps count from 1: `batches[t - 1]` is the batch c_t of step t. Losses are recorded from
/// step `firstLossStep` (0 = before training, as in the native layout; 1 = after the first
/// update, as in the GPTDynamics layout) through the last step T, for every test example.
public struct TrainingRun: Sendable, Equatable {
    /// The run's name (its folder name in a log).
    public var name: String
    /// `batches[t - 1]` holds the training examples of step t, as indices into
    /// ``TrainingLog/trainIDs``. An index may appear more than once in a batch; it then counts
    /// once per appearance in alpha(c_t) and beta(c_t).
    public var batches: [[Int]]
    /// The step at which the first loss row was recorded: 0 or 1.
    public var firstLossStep: Int
    /// Recorded losses: row r is the loss after step `firstLossStep + r` (row 0 is the starting
    /// point of every simulation of this run), one column per test example in the order of
    /// ``TrainingLog/testIDs``. Has `steps - firstLossStep + 1` rows.
    public var losses: Matrix

    /// Creates a run. `losses.rows` must equal `batches.count - firstLossStep + 1`.
    public init(name: String, batches: [[Int]], firstLossStep: Int, losses: Matrix) {
        precondition(firstLossStep == 0 || firstLossStep == 1, "firstLossStep must be 0 or 1")
        precondition(losses.rows == batches.count - firstLossStep + 1,
                     "run \(name): \(losses.rows) loss rows for \(batches.count) steps from step \(firstLossStep)")
        self.name = name
        self.batches = batches
        self.firstLossStep = firstLossStep
        self.losses = losses
    }

    /// Number of training steps T.
    public var steps: Int { batches.count }

    /// The batches that a simulation starting from the first recorded loss applies, in order:
    /// steps `firstLossStep + 1 ... T`.
    public var simulatedBatches: ArraySlice<[Int]> { batches[firstLossStep...] }

    /// The first recorded loss of every test example (the starting point of a simulation).
    public var initialLosses: [Double] { losses.row(0) }

    /// The final recorded loss of every test example.
    public var finalLosses: [Double] { losses.row(losses.rows - 1) }
}
