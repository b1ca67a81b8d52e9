import Foundation
import Simfluence
import Testing

/// `fit --method M --solver S`: fitted with S (as the model records it) or refused while parsing
/// the flags, for every pair; `--shard` refused at parse time for methods that cannot shard.
@Suite struct FitSolverCommandTests {
    static let log = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/tiny-gptdynamics").path

    @Test(arguments: MethodRegistry.builtIn.methods.map(\.name), SolverKind.allCases)
    func everyMethodSolverPair(_ name: String, _ solver: SolverKind) throws {
        let method = try #require(MethodName(name))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fit-solver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.simfluence").path
        let r = try CLIRunner.run(["fit", Self.log, "--method", name, "--solver", solver.rawValue, "--lambda", "0.1", "-o", out])
        if method.descriptor.solvers.contains(solver) {
            if method.needsGradients {
                // The example log has no gradient features: refused after parsing, for that reason.
                #expect(r.status != 0 && r.stderr.contains("gradient features"))
                return
            }
            #expect(r.status == 0, "\(name) --solver \(solver.rawValue): \(r.stderr)")
            let model = try ModelFile.read(out)
            let recorded = model.provenance.solver ?? ""
            if solver == .cg { #expect(recorded.contains("conjugate gradients")) }
            if solver == .dense { #expect(recorded.contains("dense Cholesky")) }
        } else {
            // Argument-parser validation errors exit with 64 before reading the log.
            #expect(r.status == 64, "\(name) --solver \(solver.rawValue) exited \(r.status)")
            #expect(r.stderr.contains("does not take --solver \(solver.rawValue)"))
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func shardIsRefusedAtParseTimeWhereItDoesNotApply() throws {
        for method in MethodRegistry.builtIn.methods {
            guard case .unsupported = method.descriptor.sharding else { continue }
            let r = try CLIRunner.run(["fit", Self.log, "--method", method.name, "--shard", "1/2", "-o", "/nonexistent/m"])
            #expect(r.status == 64 && r.stderr.contains("cannot be fitted with --shard"))
        }
        let bad = try CLIRunner.run(["fit", Self.log, "--shard", "3/2", "-o", "/nonexistent/m"])
        #expect(bad.status == 64 && bad.stderr.contains("1 <= K <= N"))
    }
}
