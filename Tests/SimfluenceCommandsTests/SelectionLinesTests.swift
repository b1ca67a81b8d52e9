import Simfluence
import Testing
@testable import SimfluenceCommands

/// What `fit --verbose` prints for a lambda search.
@Suite struct SelectionLinesTests {
    @Test func screenedPointsAreShownAsNotScored() {
        let s = LambdaSelection(grid: [0.01, 0.1, 1, 10], scores: [.nan, 0.5, 0.25, 0.75], chosen: 1, folds: 5, screened: 1)
        let lines = selectionLines(s)
        #expect(lines.count == 6)
        #expect(lines[0] == "lambda grid (5-fold cross-validated all-steps MSE):")
        #expect(lines[1].hasSuffix("not scored (below the screen)") && lines[1].contains("0.01"))
        #expect(lines[2].hasSuffix(" 0.5") && lines[3].hasSuffix("0.25  <- chosen") && lines[4].hasSuffix("0.75"))
        #expect(lines[5].contains("sample of test examples"))
    }

    @Test func aWholeSearchShowsEveryScore() {
        let s = LambdaSelection(grid: [0.1, 1], scores: [0.5, .infinity], chosen: 0.1, folds: 3)
        let lines = selectionLines(s)
        #expect(lines.count == 3 && lines[1].hasSuffix("0.5  <- chosen") && lines[2].hasSuffix("inf"))
        #expect(!lines.joined().contains("not scored"))
    }
}
