import Evident
import EvidentTestSupport
import Foundation

/// Networks loaded once per process (loading is not part of any bound timing).
nonisolated(unsafe) var loadedNetworks = [String: (network: Network, propagator: BoundPropagator)]()

/// The network at `relative` (under the shared benchmarks) and its propagator, loaded once.
func sharedNetwork(_ relative: String) throws -> (network: Network, propagator: BoundPropagator) {
    if let cached = loadedNetworks[relative] { return cached }
    let network = try loadNetwork(path: SharedBenchmarks.path(relative))
    let entry = (network, BoundPropagator(graph: network.graph))
    loadedNetworks[relative] = entry
    return entry
}

/// Figures of one method on one suite, for the summary.
struct SuiteResult {
    var ours: [Double] = []
    var reference: [Double] = []
    var marginDifferences: [Double] = []
    var worstClauseDifferences: [Double] = []
    var verified = 0
    var referenceVerified = 0
    var instances = 0
}

/// Runs `method` on every instance of `folder` and prints one row per instance: our
/// bound-computation time (median over `runs`, `MarginReport.seconds`: the propagator is
/// built once per network outside the timing, network and property loading excluded), the
/// reference auto_LiRPA time, our and the reference min margin, and the worst clause
/// difference (min over clauses of ours minus reference).
func runSuite(title: String, folder: String, limit: Int? = nil, options: BoundOptions, referenceMethod: String,
              runs: Int, note: String? = nil) -> SuiteResult? {
    print("\n\(title): \(runs) run(s) per instance, time = MarginReport.seconds (bound computation only; "
          + "BoundPropagator built once per network, untimed)")
    flushOutput()
    var instances = Instance.list(folder: folder)
    if instances.isEmpty {
        print("  \(folder)/instances.csv not found or empty; skipped")
        return nil
    }
    if let limit { instances = Array(instances.prefix(limit)) }
    var table = Table("instance", "ours median", "ours min", "ref", "ratio", "ours min margin", "ref min margin",
                      "ours-ref", "worst clause ours-ref")
    var result = SuiteResult()
    for instance in instances {
        let loaded: (network: Network, propagator: BoundPropagator)
        let property: Property
        do {
            loaded = try sharedNetwork(instance.onnx)
            property = try loadProperty(path: SharedBenchmarks.path(instance.vnnlib), for: loaded.network)
        } catch {
            table.add(instance.name, "error: \(error.localizedDescription)")
            continue
        }
        var times = [Double]()
        var report: MarginReport?
        for _ in 0..<max(1, runs) {
            let r = propertyMargins(network: loaded.network, property: property, options: options,
                                    propagator: loaded.propagator)
            times.append(r.seconds)
            report = r
        }
        guard let report else { continue }
        let sample = Sample(times)
        let reference = Reference.lookup(onnx: instance.onnx, vnnlib: instance.vnnlib, method: referenceMethod)
        result.instances += 1
        result.ours.append(sample.median)
        if report.minMargin > 0 { result.verified += 1 }
        var cells = [instance.name, formatSeconds(sample.median), formatSeconds(sample.min)]
        if let reference {
            result.reference.append(reference.seconds)
            if reference.minMargin > 0 { result.referenceVerified += 1 }
            let difference = report.minMargin - reference.minMargin
            result.marginDifferences.append(difference)
            var worst = "n/a (clause count differs)"
            if reference.margins.count == report.margins.count {
                let w = zip(report.margins, reference.margins).map { $0 - $1 }.min() ?? .nan
                result.worstClauseDifferences.append(w)
                worst = formatNumber(w, "%+.5f")
            }
            cells += [formatSeconds(reference.seconds), String(format: "%.2fx", sample.median / reference.seconds),
                      formatNumber(report.minMargin, "%.5f"), formatNumber(reference.minMargin, "%.5f"),
                      formatNumber(difference, "%+.5f"), worst]
        } else {
            cells += ["n/a", "n/a", formatNumber(report.minMargin, "%.5f"), "n/a", "n/a", "n/a"]
        }
        table.add(cells)
        // Progress for long suites: the table is printed at the end.
        FileHandle.standardError.write(Data("  \(instance.name): \(formatSeconds(sample.median))\n".utf8))
    }
    table.print()
    let oursMedian = median(result.ours), referenceMedian = median(result.reference)
    print("  median over \(result.instances) instances: ours \(formatSeconds(oursMedian)), reference "
          + "\(formatSeconds(referenceMedian)), ratio \(String(format: "%.2fx", oursMedian / referenceMedian)); "
          + "verified (min margin > 0): ours \(result.verified), reference \(result.referenceVerified)")
    if !result.worstClauseDifferences.isEmpty {
        print("  margins ours-ref: min-margin difference median \(formatNumber(median(result.marginDifferences), "%+.5f")), "
              + "worst clause over all instances \(formatNumber(result.worstClauseDifferences.min() ?? .nan, "%+.5f")) "
              + "(negative = ours looser)")
    }
    if let note { print("  note: " + note) }
    flushOutput()
    return result
}

func suiteSummary(_ label: String, _ result: SuiteResult?) -> String {
    guard let result, result.instances > 0 else { return "\(label) skipped" }
    let ours = median(result.ours), reference = median(result.reference)
    var text = "\(label) median \(formatSeconds(ours)) vs ref \(formatSeconds(reference)) "
        + "(\(String(format: "%.2fx", ours / reference))), verified \(result.verified)/\(result.instances)"
    if let worst = result.worstClauseDifferences.min() { text += ", worst clause ours-ref \(String(format: "%+.4f", worst))" }
    return text
}

/// CROWN and IBP on resnet_2b's 16 instances and CROWN on oval21's 10, against auto_LiRPA.
/// Says where the reference times come from: the ratios below compare this machine with the
/// one that measured them, which may be faster or slower.
func printReferenceHost() {
    print("reference times: auto_LiRPA as stored in reference/lirpa_bounds.csv, measured once on another machine of this "
          + "kind; this machine's one-thread dgemm peak is \(String(format: "%.1f", dgemmPeak())) GFLOP/s, so a ratio "
          + "below mixes the two machines' speeds (run auto_LiRPA here for a same-machine ratio)")
}

func benchmarkCrown(_ settings: BenchmarkSettings) {
    section("crown: CROWN / IBP margins vs auto_LiRPA (reference/lirpa_bounds.csv)")
    guard sharedRoot(for: "crown") != nil else { return }
    printReferenceHost()
    let crown = BoundOptions(method: .crown)
    let resnet = runSuite(title: "CROWN, cifar10_resnet (resnet_2b)", folder: "cifar10_resnet", options: crown,
                          referenceMethod: "CROWN", runs: settings.runs(default: 3))
    let ibp = runSuite(title: "IBP, cifar10_resnet (resnet_2b)", folder: "cifar10_resnet",
                       options: BoundOptions(method: .ibp), referenceMethod: "IBP", runs: settings.runs(default: 10),
                       note: "both fold the specification into the last Gemm; ours equals an independent float64 "
                           + "computation (Tests/EvidentBoundsTests/Fixtures/ibp_margins.csv) to 1e-9 relative, the "
                           + "reference is float32, whose rounding at margins of 10^3 reaches 4e-4")
    let oval = runSuite(title: "CROWN, oval21 (cifar_base_kw)", folder: "oval21", options: crown,
                        referenceMethod: "CROWN", runs: settings.runs(default: 3))
    let float32 = runSuite(title: "CROWN --precision float32, cifar10_resnet (resnet_2b)", folder: "cifar10_resnet",
                           options: BoundOptions(method: .crown, precision: .float32), referenceMethod: "CROWN",
                           runs: settings.runs(default: 3))
    summary("crown", [suiteSummary("resnet_2b CROWN", resnet), suiteSummary("resnet_2b IBP", ibp),
                      suiteSummary("oval21 CROWN", oval), suiteSummary("resnet_2b CROWN float32", float32)]
        .joined(separator: "; "))
}

/// α-CROWN (20 iterations, default step sizes) on resnet_2b's 16 instances (Float64 and
/// Float32) and oval21's 10.
func benchmarkAlphaCrown(_ settings: BenchmarkSettings) {
    section("alpha: alpha-CROWN (20 iterations, default step sizes) vs auto_LiRPA")
    guard sharedRoot(for: "alpha") != nil else { return }
    printReferenceHost()
    let options = BoundOptions(method: .alphaCrown, iterations: 20)
    let resnet = runSuite(title: "alpha-CROWN, cifar10_resnet (resnet_2b)", folder: "cifar10_resnet",
                          options: options, referenceMethod: "alpha-CROWN", runs: settings.runs(default: 1))
    let float32 = runSuite(title: "alpha-CROWN --precision float32, cifar10_resnet (resnet_2b)", folder: "cifar10_resnet",
                           options: BoundOptions(method: .alphaCrown, iterations: 20, precision: .float32),
                           referenceMethod: "alpha-CROWN", runs: settings.runs(default: 1))
    let oval = runSuite(title: "alpha-CROWN, oval21 (cifar_base_kw)", folder: "oval21", options: options,
                        referenceMethod: "alpha-CROWN", runs: settings.runs(default: 1))
    summary("alpha", [suiteSummary("resnet_2b alpha-CROWN", resnet), suiteSummary("resnet_2b alpha-CROWN float32", float32),
                      suiteSummary("oval21 alpha-CROWN", oval)].joined(separator: "; "))
}
