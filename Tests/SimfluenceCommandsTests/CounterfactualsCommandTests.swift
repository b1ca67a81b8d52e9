import Foundation
import Simfluence
import Testing

/// `simfluence counterfactuals` on a shrunken digits workload: every family trained, every
/// method scored, the edits retrained, the files written.
@Suite struct CounterfactualsCommandTests {
    @Test func smallStudyEndToEnd() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let r = try CLIRunner.run([
            "counterfactuals", "--runs", "6", "--random-runs", "4", "--order-subsets", "2", "--orders-per-subset", "3",
            "--edit-references", "1", "--edit-tests", "2", "--edit-sizes", "2,3", "--method", "linear", "--method", "tracin-cp",
            "--pool", "40", "--sample", "24", "--test", "10", "--warmup-size", "40", "--lambda", "0.1", "--out", dir, "--json",
        ], timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("retraining") && r.stderr.contains("edited curricula"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["method"] as? String } == ["linear", "tracin-cp", "persistence", "mean-run"])
        // TracIn-CP ignores order: its order-LDS is 0 by construction; edits: 2 methods x 1 reference x 2 tests x 5 kinds x 2 sizes.
        #expect(results[1]["order_lds"] as? Double == 0)
        // Every method and baseline is also scored on its own fit runs (mean-run ranks none of them).
        #expect(results.allSatisfy { $0["fit_run_lds"] is Double && $0["fit_run_mse"] is Double })
        #expect(results[3]["fit_run_lds"] as? Double == 0)
        #expect((object["edits"] as? [Any])?.count == 40)
        #expect(results[0]["edits"] as? Double == 20 && results[2]["edits"] is NSNull)
        let share = try #require(object["order_share"] as? Double)
        #expect(share >= 0 && share <= 1.5)
        for name in ["fit-log", "random-log", "order-log", "edits-log", "counterfactuals.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name), "\(name)")
        }
        let orderLog = try LogReader.read(dir + "/order-log")
        #expect(orderLog.runs.count == 6)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("Predicted against real change") && html.contains("data-legend-key=\"tracin-cp\""))
    }
}
