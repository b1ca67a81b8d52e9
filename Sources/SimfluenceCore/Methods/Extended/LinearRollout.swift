extension ExtendedRidgeMethod {
    /// The linear-time model, started from its teacher-forced solution and refined by L-BFGS on
    /// the squared error of rolled-out trajectories (exact adjoint gradients), same penalties.
    /// Only the terms shared by all training examples (step terms) are refined; A_i and B_i keep
    /// their teacher-forced values (refining them too overfits: see Docs/Methods.md).
    public static let linearRollout = ExtendedRidgeMethod(
        name: "linear-rollout",
        configuration: ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: true,
                                             rolloutSharedOnly: true),
        summary: "linear-time with its step terms refined on rolled-out trajectories (L-BFGS)")
}
