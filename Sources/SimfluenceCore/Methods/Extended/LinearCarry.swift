extension ExtendedRidgeMethod {
    /// The linear-time model whose additive effects carry over to later steps with geometric
    /// decay: beta_t = sum_{s <= t} rho^(t - s) beta(c_s) (as an optimizer's momentum spreads a
    /// batch's update over the steps after it). rho is cross-validated with lambda over
    /// ``ExtendedConfiguration/defaultCarryGrid`` (0 included, where it is linear-time).
    /// Teacher-forced.
    public static let linearCarry = ExtendedRidgeMethod(
        name: "linear-carry",
        configuration: ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: false,
                                             carryGrid: ExtendedConfiguration.defaultCarryGrid),
        summary: "linear-time whose additive effects carry over to later steps with a cross-validated decay rho")
}
