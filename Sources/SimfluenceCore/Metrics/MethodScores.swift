/// Every number the evaluation protocol reports for one method on one set of held-out runs.
///
/// See ``Scoring/score(method:lambda:predictions:heldOut:)`` for the definitions.
public struct MethodScores: Sendable, Equatable {
    /// The method's name ("linear", "persistence", "mean-run", ...).
    public var method: String
    /// The ridge penalty the method was fitted with; nil for baselines and unfitted methods.
    public var lambda: Double?
    /// Mean squared error over the predicted steps, per (held-out run, test example) trajectory;
    /// summarised over trajectories. Squared loss units.
    public var allStepsMSE: Summary
    /// Mean absolute error over the predicted steps, per trajectory; summarised over
    /// trajectories. Loss units.
    public var allStepsMAE: Summary
    /// Squared error at the last recorded step, per trajectory; summarised over trajectories.
    public var finalStepMSE: Summary
    /// Within each held-out run, Spearman's rho between true and predicted final losses over the
    /// test examples; summarised over runs.
    public var spearmanAcrossExamples: Summary
    /// For each test example, Spearman's rho between true and predicted final losses over the
    /// held-out runs; summarised over test examples. nil with fewer than 3 held-out runs.
    public var spearmanAcrossRuns: Summary?
    /// Within each group of 3 or more held-out runs on the same multiset of training examples
    /// (``OrderGroups``), for each test example, Spearman's rho between true and predicted final
    /// losses over the group's runs; summarised over (group, test example) pairs. nil when no
    /// group has 3 runs.
    public var spearmanAcrossOrders: Summary?

    public init(method: String, lambda: Double?, allStepsMSE: Summary, allStepsMAE: Summary, finalStepMSE: Summary,
                spearmanAcrossExamples: Summary, spearmanAcrossRuns: Summary?, spearmanAcrossOrders: Summary? = nil) {
        self.method = method
        self.lambda = lambda
        self.allStepsMSE = allStepsMSE
        self.allStepsMAE = allStepsMAE
        self.finalStepMSE = finalStepMSE
        self.spearmanAcrossExamples = spearmanAcrossExamples
        self.spearmanAcrossRuns = spearmanAcrossRuns
        self.spearmanAcrossOrders = spearmanAcrossOrders
    }
}
