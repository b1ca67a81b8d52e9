extension ExtendedRidgeMethod {
    /// A_i = a + a_i, B_i = b + b_i: ridge on the deviations a_i, b_i only; the pooled means a, b
    /// are (almost) unpenalised. Teacher-forced.
    public static let linearPooled = ExtendedRidgeMethod(
        name: "linear-pooled", configuration: ExtendedConfiguration(pooled: true, stepKnots: 0, rollout: false),
        summary: "linear with A_i, B_i shrunk towards pooled means instead of zero")
}
