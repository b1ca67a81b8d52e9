import Foundation
import Testing
@testable import Simfluence

@Suite struct GradientFeaturesFileTests {
    func sample() -> GradientFeatures {
        var rng = SeededGenerator(seed: 5)
        func m(_ r: Int, _ c: Int) -> Matrix { Matrix(rows: r, columns: c, storage: (0..<(r * c)).map { _ in rng.nextGaussian() }) }
        return GradientFeatures(trainIDs: ["0", "7", "x y"], testIDs: ["3", "é"], batchSize: 2,
                                checkpoints: [GradientCheckpoint(step: 0, learningRate: 0.1, stepsCovered: 5, train: m(3, 4), test: m(2, 4)),
                                              GradientCheckpoint(step: 5, learningRate: 0.05, stepsCovered: 0, train: m(3, 4), test: m(2, 4))],
                                metadata: ["reference_run": "run1"])
    }

    @Test func roundTripIsExact() throws {
        let dir = TempDir()
        let features = sample()
        try GradientFeaturesFile.write(features, to: dir.at("gradients"))
        #expect(GradientFeaturesFile.isPresent(dir.at("gradients")))
        var back = try GradientFeaturesFile.read(dir.at("gradients"))
        #expect(back.metadata["projection"] == "{\"kind\":\"none\"}")
        back.metadata["projection"] = nil
        #expect(back == features)
        // The index file itself is accepted as the path too.
        #expect(try GradientFeaturesFile.read(dir.at("gradients/index.json")).checkpoints.count == 2)
    }

    @Test func wrongShapeNamesTheMatrixFile() throws {
        let dir = TempDir()
        try GradientFeaturesFile.write(sample(), to: dir.at("g"))
        try NPY.write(Matrix(rows: 2, columns: 4), to: dir.at("g/ckpt1_train.npy"))
        expectInputError(file: "ckpt1_train.npy", line: nil, ["3 rows", "(2, 4)"]) { try GradientFeaturesFile.read(dir.at("g")) }
    }

    @Test func badIndexFields() throws {
        let dir = TempDir()
        dir.write("{\"format\": \"simfluence-gradients\", \"version\": 1, \"batch_size\": 0, \"train_ids\": [], \"test_ids\": [], \"checkpoints\": []}", to: "g/index.json")
        expectInputError(file: "g/index.json", line: 1, ["batch_size"]) { try GradientFeaturesFile.read(dir.at("g")) }
        dir.write("", to: "h/index.json")
        expectInputError(file: "h/index.json", line: nil, ["empty"]) { try GradientFeaturesFile.read(dir.at("h")) }
    }
}
