import Simfluence

/// The machine-readable form of an evaluation (`evaluate --json`).
enum EvaluationJSON {
    /// `extra`: further members of a method's entry, by method name.
    static func make(_ result: EvaluationResult, extra: (String) -> [(String, JSON)] = { _ in [] }) -> JSON {
        .object([
            ("heldout_runs", .array(result.heldOutRuns.map { .string($0) })),
            ("training_runs", .array(result.trainingRuns.map { .string($0) })),
            ("results", .array(result.results.map { entry($0, extra: extra($0.scores.method)) })),
        ])
    }

    private static func entry(_ e: MethodEvaluation, extra: [(String, JSON)]) -> JSON {
        let s = e.scores
        var members: [(String, JSON)] = [
            ("method", .string(s.method)),
            ("lambda", .number(s.lambda)),
            ("all_steps_mse", .number(s.allStepsMSE.mean)), ("all_steps_mse_std", .number(s.allStepsMSE.std)),
            ("all_steps_mae", .number(s.allStepsMAE.mean)), ("all_steps_mae_std", .number(s.allStepsMAE.std)),
            ("final_step_mse", .number(s.finalStepMSE.mean)), ("final_step_mse_std", .number(s.finalStepMSE.std)),
            ("spearman_across_examples", .number(s.spearmanAcrossExamples.mean)),
            ("spearman_across_examples_std", .number(s.spearmanAcrossExamples.std)),
            ("spearman_across_runs", .number(s.spearmanAcrossRuns?.mean)),
            ("spearman_across_runs_std", .number(s.spearmanAcrossRuns?.std)),
            ("spearman_across_orders", .number(s.spearmanAcrossOrders?.mean)),
            ("spearman_across_orders_std", .number(s.spearmanAcrossOrders?.std)),
            ("trajectories", .number(Double(s.allStepsMSE.count))),
        ]
        if let fit = e.fit {
            members.append(("fit_seconds", .number(fit.seconds)))
            if let sel = fit.selection { members.append(("cross_validation", JSON(sel))) }
        }
        members += extra
        return .object(members)
    }
}
