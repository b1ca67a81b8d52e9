import ArgumentParser
import Foundation
import Simfluence

/// `simfluence export`: a model's parameters as NumPy arrays or CSV, for pandas and NumPy.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's fitted parameters as .npy arrays (or CSV) with their ids, for NumPy and pandas.",
        discussion: """
            Writes into DIR: A and B as training x test matrices (A[i, z] is training example i's \
            multiplicative factor for test example z; B[i, z] its additive effect in loss units, \
            negative = helps), for extended simulators the step terms u and v (steps x test) and \
            the loss bounds (2 x test: lower, upper), and model.json with the ids (row and column \
            order), which training examples were seen, the method, lambda, carry-over, the lag \
            kernel of the lag-kernel methods (its bins' first lags, weights, loss scale and saturation exponent), starting \
            losses and the fit's provenance. Read back: numpy.load("DIR/B.npy"), or with pandas \
            pd.read_csv("DIR/B.csv", index_col=0) after --format csv. \
            Example: simfluence export --model model.simfluence -o params
            """)

    @Option(help: "A model file written by 'simfluence fit'.")
    var model: String

    @Option(name: [.short, .customLong("output")], help: "The folder to write into (created if missing; files written atomically).")
    var output: String

    @Option(help: "npy (float64 .npy arrays) or csv (one header row of test ids, one row per training id).")
    var format: ExportFormat = .npy

    func run() throws {
        let sim = try ModelFile.read(model)
        let written = try export(sim, into: output)
        print("wrote \(written.joined(separator: ", ")) to \(output)")
    }

    /// Writes `sim`'s arrays and model.json into `folder` (created if missing), and a stack's
    /// components each into a subfolder `component<k>-<method>`; returns the files written.
    func export(_ sim: FittedSimulator, into folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        var written: [String] = []
        func write(_ name: String, _ m: Matrix, rowIDs: [String], columnIDs: [String]) throws {
            switch format {
            case .npy:
                try NPY.write(m, to: path(name + ".npy"))
                written.append(name + ".npy")
            case .csv:
                var text = "id," + columnIDs.map(CSV.field).joined(separator: ",") + "\n"
                for r in 0..<m.rows {
                    text += CSV.field(rowIDs[r]) + "," + (0..<m.columns).map { String(m[r, $0]) }.joined(separator: ",") + "\n"
                }
                try AtomicFile.write(Data(text.utf8), to: path(name + ".csv"))
                written.append(name + ".csv")
            }
        }
        var stack: [(String, JSON)] = []
        if sim.components.isEmpty {
            try write("A", sim.a.transposed(), rowIDs: sim.trainIDs, columnIDs: sim.testIDs)
            try write("B", sim.b.transposed(), rowIDs: sim.trainIDs, columnIDs: sim.testIDs)
        } else {
            // A stack's parameters are its components'.
            var folders: [JSON] = []
            for (k, part) in sim.components.enumerated() {
                let name = "component\(k + 1)-\(part.simulator.method.name)"
                written += try export(part.simulator, into: path(name)).map { name + "/" + $0 }
                folders.append(.object([("folder", .string(name)), ("method", .string(part.simulator.method.name)),
                                        ("weight", .number(part.weight))]))
            }
            stack = [("stack", .array(folders))]
        }
        // The lag kernel, so that the exported arrays are the whole simulator (Docs/Methods.md).
        let kernel: [(String, JSON)] = sim.lagKernel.map { k in
            [("lag_kernel", .object([("starts", .array(k.starts.map { .number(Double($0)) })),
                                     ("weights", .array(k.weights.map { .number($0) })),
                                     ("loss_scale", .number(k.lossScale)), ("saturation", .number(k.saturation))]))]
        } ?? []
        if let u = sim.stepAlpha, let v = sim.stepBeta {
            let steps = (1...max(1, u.columns)).map { "step\($0)" }
            try write("u", u.transposed(), rowIDs: steps, columnIDs: sim.testIDs)
            try write("v", v.transposed(), rowIDs: steps, columnIDs: sim.testIDs)
        }
        if let lo = sim.lossLower, let hi = sim.lossUpper {
            try write("bounds", Matrix(rowArrays: [lo, hi]), rowIDs: ["lower", "upper"], columnIDs: sim.testIDs)
        }
        let info = JSON.object([
            ("method", .string(sim.method.name)), ("form", .string(sim.form.rawValue)), ("lambda", .number(sim.lambda)),
            ("carry", .number(sim.carry)),
            ("train_ids", .array(sim.trainIDs.map { .string($0) })), ("test_ids", .array(sim.testIDs.map { .string($0) })),
            ("seen", .array(sim.seen.map { .bool($0) })), ("fitted_on", .array(sim.fittedOn.map { .string($0) })),
            ("starting_step", .number(Double(sim.startingStep))),
            ("starting_losses", .array(sim.startingLosses.map { .number($0) })),
            ("files", .array(written.map { .string($0) })),
            ("layout", .string("A and B: training x test (rows in train_ids order, columns in test_ids order); u, v: steps x test; bounds: 2 x test; a stack: its components' folders, its trajectory the weighted sum of theirs")),
            ("provenance", .object(sim.metadata.keys.sorted().map { ($0, .string(sim.metadata[$0] ?? "")) })),
        ] + kernel + stack)
        try AtomicFile.write(Data((info.rendered() + "\n").utf8), to: path("model.json"))
        return written + ["model.json"]
    }
}

/// Array formats of `export`.
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case npy, csv
}
