import Testing
import SimfluenceCore

@Suite struct TrainingHelpersTests {
    @Test func adamWFirstStepDecaysThenMovesByLearningRate() {
        var p: [Float] = [1, -2, 0.5]
        let g: [Float] = [0.5, -0.25, 0]
        var adam = AdamState<Float>(parameterCount: 3)
        p.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { gb in
            adam.step(parameters: pb.baseAddress!, gradient: gb.baseAddress!, learningRate: 0.01, weightDecay: 0.1)
        } }
        // Decay by 1 - 0.001, then the first bias-corrected step is lr * sign(g) (0 for g = 0).
        #expect(abs(p[0] - (1 * 0.999 - 0.01)) < 1e-6 && abs(p[1] - (-2 * 0.999 + 0.01)) < 1e-6)
        #expect(p[2] == 0.5 * Float(1 - 0.001))
        #expect(adam.steps == 1 && adam.parameterCount == 3)
    }

    @Test func drawsAreSeededAndWellFormed() {
        var a = SeededDraws.generator(seed: 5, stream: 2, offset: 1)
        var b = SeededDraws.generator(seed: 5, stream: 2, offset: 1)
        var c = SeededDraws.generator(seed: 5, stream: 3, offset: 1)
        let x = SeededDraws.sample(10, of: 50, using: &a)
        #expect(x == SeededDraws.sample(10, of: 50, using: &b))
        #expect(x != SeededDraws.sample(10, of: 50, using: &c))
        #expect(Set(x).count == 10 && x.allSatisfy { (0..<50).contains($0) })
        var y = Array(0..<20)
        SeededDraws.shuffle(&y, using: &a)
        #expect(y.sorted() == Array(0..<20) && y != Array(0..<20))
    }
}
