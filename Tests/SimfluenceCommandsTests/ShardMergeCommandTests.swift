import Foundation
import Simfluence
import Testing

@Suite struct ShardMergeCommandTests {
    @Test func shardedFitMergedEqualsUnshardedFit() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let log = dir + "/log"
        #expect(try CLIRunner.run(["synth", "-o", log, "--runs", "6", "--pool", "12", "--sample", "8", "--batch", "2",
                                   "--epochs", "2", "--test", "7"]).status == 0)
        for (method, lambda) in [("linear", "0.1"), ("linear", "auto"), ("linear-time", "1"), ("linear-carry", "auto")] {
            let whole = dir + "/whole-\(method)-\(lambda).simfluence"
            let fit = try CLIRunner.run(["fit", log, "--method", method, "--lambda", lambda, "--folds", "3", "-o", whole])
            #expect(fit.status == 0, "\(fit.stderr)")
            var parts: [String] = []
            for k in [3, 1, 2] {
                let part = dir + "/part\(k)-\(method)-\(lambda).simfluence"
                let r = try CLIRunner.run(["fit", log, "--method", method, "--lambda", lambda, "--folds", "3",
                                           "--shard", "\(k)/3", "-o", part])
                #expect(r.status == 0, "\(r.stderr)")
                parts.append(part)
            }
            let merged = dir + "/merged-\(method)-\(lambda).simfluence"
            let m = try CLIRunner.run(["merge"] + parts + ["-o", merged])
            #expect(m.status == 0, "\(m.stderr)")
            let x = try ModelFile.read(whole), y = try ModelFile.read(merged)
            #expect(x.a.storage.map(\.bitPattern) == y.a.storage.map(\.bitPattern))
            #expect(x.b.storage.map(\.bitPattern) == y.b.storage.map(\.bitPattern))
            #expect(x.testIDs == y.testIDs && x.lambda == y.lambda && x.startingLosses == y.startingLosses)
            #expect(x.stepAlpha == y.stepAlpha && x.stepBeta == y.stepBeta)
            #expect(x.lossLower == y.lossLower && x.lossUpper == y.lossUpper && x.carry == y.carry)
            #expect(method == "linear" || x.stepAlpha != nil, "linear-time should carry step terms")
        }
        // Refusals: a missing slice, and a part with another lambda.
        let missing = try CLIRunner.run(["merge", dir + "/part1-linear-0.1.simfluence", dir + "/part2-linear-0.1.simfluence", "-o", dir + "/bad.simfluence"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("missing shard"))
        let mixed = try CLIRunner.run(["merge", dir + "/part1-linear-0.1.simfluence", dir + "/part2-linear-0.1.simfluence",
                                       dir + "/part3-linear-auto.simfluence", "-o", dir + "/bad.simfluence"])
        #expect(mixed.status != 0)
        let methods = try CLIRunner.run(["merge", dir + "/part1-linear-0.1.simfluence", dir + "/part2-linear-0.1.simfluence",
                                         dir + "/part3-linear-time-1.simfluence", "-o", dir + "/bad.simfluence"])
        #expect(methods.status != 0)
        #expect(methods.stderr.contains("method"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad.simfluence"))
    }
}
