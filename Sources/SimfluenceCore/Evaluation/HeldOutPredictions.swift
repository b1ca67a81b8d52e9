/// Simulating held-out runs with a fitted simulator.
public enum HeldOutSimulation {
    /// Simulates every held-out run with `simulator`, for every test example, from the run's first
    /// recorded loss through its own curriculum (`run.simulatedBatches`, `run.initialLosses`).
    ///
    /// The runs' batch indices must index `simulator.trainIDs` (the simulator was fitted on the
    /// same log's vocabulary) and their loss columns must be `simulator.testIDs`. Only the batches
    /// the simulation applies are checked for unseen examples: a run recorded from step 1 never
    /// applies its step-1 batch.
    ///
    /// - Returns: one matrix per run, with the shape of `run.losses`; row 0 is the run's starting
    ///   loss. Values are whatever the recurrence produces (possibly non-finite if it diverges).
    /// - Throws: ``SimfluenceError/unseenExample(id:step:source:)`` (source: the run's name, step:
    ///   the step number in the run) for an example with `seen[i] == false` under
    ///   ``UnseenPolicy/error``; under ``UnseenPolicy/zero`` such examples are dropped from their
    ///   batches, under ``UnseenPolicy/mean`` they act as the typical example
    ///   (``FittedSimulator/addingTypicalExample()``). ``SimfluenceError/invalidArgument(_:)`` if a run's test count differs from the
    ///   simulator's or a batch index is outside `simulator.trainIDs`.
    public static func predict(_ simulator: FittedSimulator, heldOut: [TrainingRun], unseen: UnseenPolicy) throws -> [Matrix] {
        try simulate(simulator, heldOut: heldOut, unseen: unseen).map(\.losses)
    }

    /// ``predict(_:heldOut:unseen:)`` with each run's count of clamped simulated losses.
    public static func simulate(_ simulator: FittedSimulator, heldOut: [TrainingRun], unseen: UnseenPolicy) throws -> [Rollout] {
        // Under `.mean`, unseen examples become the typical example appended at index n.
        let anyUnseen = unseen == .mean && heldOut.contains { run in
            run.simulatedBatches.contains { $0.contains { i in i >= 0 && i < simulator.seen.count && !simulator.seen[i] } }
        }
        let typicalSimulator = anyUnseen ? simulator.addingTypicalExample() : simulator
        let n = simulator.trainIDs.count
        return try heldOut.map { run in
            guard run.losses.columns == simulator.testIDs.count else {
                throw SimfluenceError.invalidArgument(
                    "run \(run.name) records \(run.losses.columns) test examples but the simulator has \(simulator.testIDs.count)")
            }
            var batches: [[Int]] = []
            batches.reserveCapacity(run.simulatedBatches.count)
            for (index, batch) in zip(run.simulatedBatches.indices, run.simulatedBatches) {
                let step = index + 1  // batches[t - 1] is step t
                var kept: [Int] = []
                kept.reserveCapacity(batch.count)
                for i in batch {
                    guard i >= 0 && i < n else {
                        throw SimfluenceError.invalidArgument(
                            "run \(run.name): step \(step): training example index \(i) is outside the simulator's \(n) training examples")
                    }
                    if simulator.seen[i] {
                        kept.append(i)
                    } else {
                        switch unseen {
                        case .error: throw SimfluenceError.unseenExample(id: simulator.trainIDs[i], step: step, source: run.name)
                        case .mean: kept.append(n)
                        case .zero: break
                        }
                    }
                }
                batches.append(kept)
            }
            return typicalSimulator.simulation(batches, initial: run.initialLosses, firstStep: run.firstLossStep + 1)
        }
    }
}
