import Evident
import EvidentTestSupport
import Foundation

// `evident-bench verify`: runs `evident verify` (a child process per instance, so times are
// whole-process wall times as VNN-COMP measures them) over the ground-truth instances of
// ../shared/benchmarks or over an instances csv, and prints per-family counts (solved,
// wrong, unknown, timeout), median and total times, the worst timeout overrun, and the
// certificate figures (in-process check time against find time, standalone `evident check`
// time, bytes).

/// One instance to run.
struct VerifyInstance {
    var family: String
    var model: String
    var property: String
    var timeout: Double
    /// `sat`, `unsat` or `unknown` (no trusted answer); `nil` when the csv has none.
    var truth: String?
}

/// What one run produced.
struct VerifyRun {
    var instance: VerifyInstance
    var verdict: String
    var method: String
    var seconds: Double
    var findSeconds: Double
    var checkSeconds: Double
    var standaloneCheckSeconds: Double?
    var certificateBytes: Int?
    var witnessConfirmed: Bool?
    var exitStatus: Int32

    /// A wrong answer: `unsat` where the truth is `sat` or the reverse.
    var wrong: Bool {
        guard let truth = instance.truth else { return false }
        return (verdict == "unsat" && truth == "sat") || (verdict == "sat" && truth == "unsat")
    }
}

/// The instances of a csv `evident campaign` reads (VNN-COMP's `instances.csv`, or a header
/// form with answers such as `ground_truth.csv`), keeping those whose benchmark or property
/// contains `filter`. An unreadable csv is reported and gives none.
func csvInstances(path: String, filter: String? = nil) -> [VerifyInstance] {
    do {
        return try InstanceList.read(path: path).compactMap { instance in
            guard filter.map({ instance.benchmark.contains($0) || instance.vnnlib.contains($0) }) ?? true else { return nil }
            return VerifyInstance(family: instance.benchmark, model: instance.modelPath, property: instance.propertyPath,
                                  timeout: instance.timeout, truth: instance.truth?.rawValue)
        }
    } catch {
        print("  \(error.localizedDescription)")
        return []
    }
}

/// The `evident` executable beside this one.
func evidentExecutable() -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("evident").path
}

func runProcess(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String, seconds: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    let start = now()
    do { try process.run() } catch { return (-1, "", 0) }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), now() - start)
}

func benchmarkVerify(_ settings: BenchmarkSettings) {
    section("verify: evident verify on \(settings.verifyInstances.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ").isEmpty ? "the ground-truth instances" : settings.verifyInstances.joined(separator: ", "))")
    var instances = [VerifyInstance]()
    if settings.verifyInstances.isEmpty {
        guard let root = sharedRoot(for: "verify") else { return }
        instances = csvInstances(path: URL(fileURLWithPath: root).appendingPathComponent("ground_truth.csv").path, filter: settings.verifyFilter)
    } else {
        for path in settings.verifyInstances { instances += csvInstances(path: path) }
    }
    let executable = evidentExecutable()
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        print("  \(executable) not found: build it with `swift build -c release --product evident`")
        return
    }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("evident-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    var runs = [VerifyRun]()
    for (k, instance) in instances.enumerated() {
        let timeout = instance.timeout * settings.timeoutScale
        let certificate = scratch.appendingPathComponent("\(k).proof").path
        let (status, output, seconds) = runProcess(executable, ["verify", instance.model, instance.property, "--timeout",
                                                                String(timeout), "--certificate", certificate, "--json"])
        let json = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:]
        var run = VerifyRun(instance: instance, verdict: json["verdict"] as? String ?? "error(\(status))",
                            method: json["method"] as? String ?? "", seconds: seconds,
                            findSeconds: (json["seconds"] as? Double ?? seconds) - (json["checkSeconds"] as? Double ?? 0),
                            checkSeconds: json["checkSeconds"] as? Double ?? 0, standaloneCheckSeconds: nil,
                            certificateBytes: json["certificateBytes"] as? Int, witnessConfirmed: nil, exitStatus: status)
        if FileManager.default.fileExists(atPath: certificate) {
            let check = runProcess(executable, ["check", certificate])
            run.standaloneCheckSeconds = check.seconds
            if run.verdict == "sat" { run.witnessConfirmed = check.status == 0 }
            if check.status != 0 { run.verdict += "(check failed)" }
        }
        runs.append(run)
        let name = (instance.model as NSString).lastPathComponent + " " + (instance.property as NSString).lastPathComponent
        print(String(format: "  [%d/%d] %@: %@ in %@ (truth %@)%@", k + 1, instances.count, name, run.verdict,
                     formatSeconds(seconds), instance.truth ?? "-", run.wrong ? "  WRONG" : ""))
        flushOutput()
    }
    let wrong = runs.filter(\.wrong)
    if !wrong.isEmpty {
        print("\n  WRONG ANSWERS (\(wrong.count)):")
        for run in wrong { print("    \(run.instance.model) \(run.instance.property): \(run.verdict), truth \(run.instance.truth!)") }
    }
    var table = Table("family", "instances", "unsat", "sat", "wrong", "unknown", "timeout", "median s", "total s", "worst overrun s")
    for family in Array(Set(runs.map(\.instance.family))).sorted() + ["all"] {
        let group = family == "all" ? runs : runs.filter { $0.instance.family == family }
        let overrun = group.filter { $0.verdict == "timeout" }.map { $0.seconds - $0.instance.timeout * settings.timeoutScale }.max()
        table.add(family, "\(group.count)", "\(group.filter { $0.verdict == "unsat" }.count)",
                  "\(group.filter { $0.verdict == "sat" }.count)", "\(group.filter(\.wrong).count)",
                  "\(group.filter { $0.verdict == "unknown" }.count)", "\(group.filter { $0.verdict == "timeout" }.count)",
                  formatNumber(median(group.map(\.seconds)), "%.2f"), formatNumber(group.map(\.seconds).reduce(0, +), "%.1f"),
                  overrun.map { formatNumber($0, "%.2f") } ?? "-")
    }
    print()
    table.print()
    // Certificates: check against find time, by how the proof was found.
    let proofs = runs.filter { $0.verdict == "unsat" }
    if !proofs.isEmpty {
        var certificates = Table("method", "proofs", "median check/find (in-process)", "median standalone check s", "median bytes", "max bytes")
        for method in Array(Set(proofs.map(\.method))).sorted() {
            let group = proofs.filter { $0.method == method }
            certificates.add(method, "\(group.count)",
                             formatNumber(median(group.map { $0.checkSeconds / max($0.findSeconds, 1e-9) }), "%.3f"),
                             formatNumber(median(group.compactMap(\.standaloneCheckSeconds)), "%.3f"),
                             formatNumber(median(group.compactMap { $0.certificateBytes.map(Double.init) }), "%.0f"),
                             "\(group.compactMap(\.certificateBytes).max() ?? 0)")
        }
        let searched = proofs.filter { $0.method != "CROWN" }
        print("\n  certificates of unsat answers (check/find excludes process start; find = verify time minus the check):")
        certificates.print()
        if !searched.isEmpty {
            print("  proofs that needed alpha-CROWN, branch and bound or LP: median check/find "
                  + formatNumber(median(searched.map { $0.checkSeconds / max($0.findSeconds, 1e-9) }), "%.3f"))
        }
    }
    let witnesses = runs.filter { $0.verdict == "sat" }
    if !witnesses.isEmpty {
        print("  sat answers: \(witnesses.count), witness certificates accepted by `evident check`: "
              + "\(witnesses.filter { $0.witnessConfirmed == true }.count)")
    }
    summary("verify", "\(runs.count) instances, \(wrong.count) wrong, \(runs.filter { $0.verdict == "unsat" || $0.verdict == "sat" }.count) solved")
}
