extension ExtendedRidgeMethod {
    /// L_t = (alpha(c_t) + u_t) L_{t-1} + beta(c_t) + v_t with smooth per-step terms u, v
    /// (piecewise linear in t, second-difference penalty). Their free constant part plays the
    /// role of the pooled means, so this nests linear-pooled (for a constant batch size) and
    /// mean-run. Teacher-forced.
    public static let linearTime = ExtendedRidgeMethod(
        name: "linear-time",
        configuration: ExtendedConfiguration(pooled: false, stepKnots: ExtendedConfiguration.defaultKnots, rollout: false),
        summary: "linear plus smooth per-step terms u_t, v_t shared by all training examples")
}
