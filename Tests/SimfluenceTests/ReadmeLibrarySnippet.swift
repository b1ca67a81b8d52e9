import Simfluence

import Foundation
import Testing

/// The README's library example (its ```swift block under "## Library"), compiled by the test
/// target and run on the shipped log by ``ReadmeLibrarySnippetTests``. The code between the
/// markers must equal the README block (without its `import` lines, indentation aside):
/// `.ci/readme-snippet.sh` checks that. When the library's API changes, edit the README block and
/// paste it here (or the other way round).
func readmeLibrarySnippet() throws {
    // BEGIN README snippet
    let log = try LogReader.read("Examples/tiny-gptdynamics")               // either layout
    let split = try HoldoutSplit.last(5, of: log)
    let fit = try MethodFitting.fit(.linear, log: log, runs: split.training, lambda: .automatic)
    let predicted = try HeldOutSimulation.predict(fit.simulator, heldOut: split.heldOut, unseen: .error)
    let scores = Scoring.score(method: "linear", lambda: fit.simulator.lambda, predictions: predicted, heldOut: split.heldOut)
    let trajectory = fit.simulator.simulate([[0, 3], [7, 1]], initial: [2.3], tests: [0])  // rows: steps 0...2
    // END README snippet

    // What the README's comments promise, on the shipped log (12 runs, 10 test examples).
    #expect(split.heldOut.count == 5 && split.training.count == log.runs.count - 5)
    #expect(predicted.count == 5)
    #expect(scores.method == "linear" && scores.allStepsMSE.mean.isFinite)
    #expect(trajectory.rows == 3 && trajectory.columns == 1)
    #expect(trajectory[0, 0] == 2.3)
}

@Suite struct ReadmeLibrarySnippetTests {
    /// The snippet reads "Examples/tiny-gptdynamics" relative to the working directory, as a
    /// user's program would. `swift test` runs from the package root; from anywhere else (an IDE)
    /// the test moves to the root first, found from this file's path.
    @Test func readmeLibrarySnippetRunsOnTheShippedLog() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: "Examples/tiny-gptdynamics/runs") {
            #expect(FileManager.default.changeCurrentDirectoryPath(root), "cannot change to the package root \(root)")
        }
        try readmeLibrarySnippet()
    }
}
