import Foundation
import Testing
import DigitsWorkload
import SimfluenceCore

/// Prints the default protocol's learning curve, the spread between runs and the wall time of
/// `trainAll`. Off unless SIMFLUENCE_TUNING is set (run it in release:
/// `SIMFLUENCE_TUNING=1 swift test -c release --filter TuningReport`).
@Suite struct TuningReport {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SIMFLUENCE_TUNING"] != nil))
    func defaultProtocolReport() throws {
        let env = ProcessInfo.processInfo.environment
        var settings = WorkloadProtocol()
        if let v = env["LR"].flatMap(Double.init) { settings.learningRate = v }
        if let v = env["MOM"].flatMap(Double.init) { settings.momentum = v }
        if let v = env["WSIZE"].flatMap(Int.init) { settings.warmupSize = v }
        if let v = env["WEPOCHS"].flatMap(Int.init) { settings.warmupEpochs = v }
        if let v = env["WLR"].flatMap(Double.init) { settings.warmupLearningRate = v }
        if let v = env["SEED"].flatMap(UInt64.init) { settings.seed = v }
        if env["ADAM"] != nil { settings.optimizer = .adam }
        if let v = env["FLIP"].flatMap(Double.init) { settings.flipLabels = v }
        var clock = ContinuousClock.now
        let workload = try DigitsFineTuning(protocol: settings)
        let setup = ContinuousClock.now - clock
        clock = ContinuousClock.now
        let log = try workload.trainAll(threads: env["THREADS"].flatMap(Int.init) ?? Parallel.defaultThreads)
        let elapsed = ContinuousClock.now - clock
        let T = settings.stepsPerRun
        func mean(_ a: [Double]) -> Double { a.reduce(0, +) / Double(a.count) }
        func accuracy(_ losses: [Double]) -> Double { Double(losses.filter { $0 < Double.log(2) }.count) / Double(losses.count) }
        let start = log.runs[0].losses.row(0)
        print("setup \(setup), trainAll \(elapsed)")
        print("mean test loss step 0: \(mean(start))  (frac loss<ln2 \(accuracy(start)))")
        for t in [12, 24, 48, 72, T] {
            let m = log.runs.map { mean($0.losses.row(t)) }
            print("step \(t): mean over runs \(mean(m)), min run \(m.min()!), max run \(m.max()!)")
        }
        let finals = log.runs.map(\.finalLosses)
        let nTest = log.testIDs.count
        var sdAcross = 0.0, change = 0.0, stepChange = 0.0
        for j in 0..<nTest {
            let xs = finals.map { $0[j] }
            let mu = mean(xs)
            sdAcross += (xs.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
            change += abs(mu - start[j])
            for r in log.runs { for t in 1...T { stepChange += abs(r.losses[t, j] - r.losses[t - 1, j]) } }
        }
        print("mean over test examples: |final - start| \(change / Double(nTest)), sd across runs of final loss \(sdAcross / Double(nTest)), mean |step change| \(stepChange / Double(nTest * T * log.runs.count))")
        print("final accuracy proxy \(mean(log.runs.map { accuracy($0.finalLosses) }))")
    }
}
