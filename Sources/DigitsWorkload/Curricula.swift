import SimfluenceCore

extension DigitsFineTuning {
    /// The curriculum of run `run` (1-based): a random ``WorkloadProtocol/sampleSize`` of the
    /// pool (seeded by the protocol's seed and the run number), reshuffled for each of the
    /// ``WorkloadProtocol/epochs`` epochs and cut into batches of ``WorkloadProtocol/batchSize``.
    public func curriculum(ofRun run: Int) -> [[String]] {
        var rng = RandomDraws.generator(seed: settings.seed, .run, offset: UInt64(run))
        var sample = RandomDraws.sample(settings.sampleSize, of: poolIDs.count, using: &rng)
        var batches: [[String]] = []
        batches.reserveCapacity(settings.stepsPerRun)
        for _ in 0..<settings.epochs {
            RandomDraws.shuffle(&sample, using: &rng)
            for start in stride(from: 0, to: sample.count, by: settings.batchSize) {
                batches.append(sample[start..<min(start + settings.batchSize, sample.count)].map { poolIDs[$0] })
            }
        }
        return batches
    }

    /// The curricula of all runs, named "run1" ... "runN".
    public func curricula() -> [(name: String, batches: [[String]])] {
        (1...settings.runs).map { (name: "run\($0)", batches: curriculum(ofRun: $0)) }
    }
}
