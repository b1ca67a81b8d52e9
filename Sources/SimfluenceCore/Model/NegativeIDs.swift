/// Negative integer ids in curricula: -100 and -1 are the padding and ignore sentinels of common
/// data loaders (PyTorch's `ignore_index`, Hugging Face's label padding), so a log or curriculum
/// that uses them as example ids most likely logged padding as training examples. They are kept
/// as ordinary ids (ids are labels), and commands warn.
public enum NegativeIDs {
    /// Appearances, over every batch, of ids that read as negative integers.
    public static func appearances<S: Sequence<[String]>>(in batches: S) -> Int {
        var count = 0
        for batch in batches {
            for id in batch where id.hasPrefix("-") && Int(id) != nil { count += 1 }
        }
        return count
    }

    /// Appearances of negative integer ids in every run of `log`.
    public static func appearances(in log: TrainingLog) -> Int {
        let negative = log.trainIDs.map { $0.hasPrefix("-") && Int($0) != nil }
        guard negative.contains(true) else { return 0 }
        var count = 0
        for run in log.runs { for batch in run.batches { for i in batch where negative[i] { count += 1 } } }
        return count
    }

    /// The warning to print for `count` appearances in `source`, or nil when there are none.
    public static func warning(count: Int, source: String) -> String? {
        guard count > 0 else { return nil }
        return "warning: \(source): \(count) batch entr\(count == 1 ? "y is a negative integer id" : "ies are negative integer ids") (-100 and -1 are padding sentinels of common data loaders); they are treated as ordinary training examples"
    }
}
