import Evident
import EvidentTestSupport
import Foundation

/// Load, IBP and CROWN (IBP intermediate bounds) on a ResNet-18-shaped network for
/// 3x224x224 inputs, with peak memory after each step. Targets: under 60 s, under 8 GiB.
///
/// Each step is announced before it starts, so a crash or a hang shows which step it was.
func benchmarkScale(_ settings: BenchmarkSettings) {
    section("scale: ResNet-18-shaped network, 3x224x224")
    let path = settings.scaleModel
    guard FileManager.default.fileExists(atPath: path) else {
        print("scale: \(path) not found; make it with:\n  python3 scripts/make_resnet18.py --classes 10 \(path)")
        summary("scale", "skipped (no \(path))")
        return
    }
    func announce(_ step: String) {
        print("  \(step) ...")
        flushOutput()
    }
    func report(_ step: String, _ seconds: Double) {
        print("  \(step): \(formatSeconds(seconds)); \(memoryLine())")
        flushOutput()
    }
    var steps = [String]()
    print("  start: \(memoryLine())")

    announce("load \(path)")
    let network: Network
    let loadSeconds: Double
    do {
        let (seconds, value) = try timed { try loadNetwork(path: path) }
        network = value
        loadSeconds = seconds
        report("load", seconds)
        steps.append("load \(formatSeconds(seconds))")
    } catch {
        print("scale: cannot load \(path): \(error.localizedDescription)")
        summary("scale", "load failed")
        return
    }
    let graph = network.graph
    let inputCount = graph.values[graph.input].count
    let outputs = graph.outputShape.elementCount
    print("  network: input \(graph.inputShape), output \(graph.outputShape), \(graph.nodes.count) nodes, "
          + "\(network.parameterCount) parameters, \(graph.reluNeuronCount) ReLU neurons")

    announce("BoundPropagator(graph:)")
    let (setupSeconds, propagator) = timed { BoundPropagator(graph: graph) }
    report("propagator setup", setupSeconds)

    var generator = SeededGenerator(seed: 224)
    let image = generator.uniforms(inputCount, 0...1)
    let radius = 1.0 / 255
    // The box is clipped to the image domain [0, 1].
    let lower = image.map { max(0, $0 - radius) }, upper = image.map { min(1, $0 + radius) }
    let identity = LinearSpecification.identity(outputs: outputs)
    // [I; -I]: lower bounds of y and of -y (minus the upper bounds of y).
    let both = LinearSpecification(rows: 2 * outputs, coefficients: identity.coefficients + identity.negated.coefficients)
    func widths(_ result: BoundResult) -> (lower: [Double], upper: [Double]) {
        (Array(result.lower[0..<outputs]), result.lower[outputs..<(2 * outputs)].map { -$0 })
    }
    func describe(_ b: (lower: [Double], upper: [Double])) -> String {
        let w = zip(b.lower, b.upper).map { $1 - $0 }
        return "output bound width: median \(formatNumber(median(w), "%.4g")), max \(formatNumber(w.max() ?? .nan, "%.4g"))"
    }

    announce("IBP on an L-inf box of radius 1/255 around a seeded random image")
    let (ibpSeconds, ibp) = timed {
        propagator.bounds(of: both, lower: lower, upper: upper, batch: 1, options: BoundOptions(method: .ibp))
    }
    report("IBP", ibpSeconds)
    print("  IBP \(describe(widths(ibp)))")
    steps.append("IBP \(formatSeconds(ibpSeconds))")

    announce("CROWN output bounds ([I; -I], 20 rows) with IBP intermediate bounds")
    let (crownSeconds, crown) = timed {
        propagator.bounds(of: both, lower: lower, upper: upper, batch: 1,
                          options: BoundOptions(method: .crown, intermediateMethod: .ibp))
    }
    report("CROWN", crownSeconds)
    let crownBounds = widths(crown), ibpBounds = widths(ibp)
    print("  CROWN \(describe(crownBounds))")
    // CROWN's bounds usually lie inside IBP's (not guaranteed: both are sound, neither dominates).
    func looser(_ index: Int) -> Bool {
        let tolerance = 1e-6 * max(1, abs(ibpBounds.lower[index]), abs(ibpBounds.upper[index]))
        let lowerLooser: Bool = crownBounds.lower[index] < ibpBounds.lower[index] - tolerance
        let upperLooser: Bool = crownBounds.upper[index] > ibpBounds.upper[index] + tolerance
        return lowerLooser || upperLooser
    }
    let outside = (0..<outputs).filter(looser)
    if !outside.isEmpty { print("  note: CROWN is looser than IBP on outputs \(outside)") }
    steps.append("CROWN \(formatSeconds(crownSeconds))")

    let total = loadSeconds + setupSeconds + ibpSeconds + crownSeconds
    let peak = memoryUsage()?.peak
    summary("scale", steps.joined(separator: ", ") + "; total with setup \(formatSeconds(total)) (target < 60 s), "
            + "peak memory \(peak.map(formatBytes) ?? "n/a") (target < 8 GiB)")
}

/// Environment variable marking the child process of ``runScaleInChildProcess(_:)``.
let childRunVariable = "EVIDENT_BENCH_CHILD"

/// Runs `evident-bench scale` in a child process (same executable), reporting how it ended.
func runScaleInChildProcess(_ settings: BenchmarkSettings) {
    print("(running scale in a child process, for its own peak-memory figures)")
    flushOutput()
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    child.environment = ProcessInfo.processInfo.environment.merging([childRunVariable: "1"]) { $1 }
    child.arguments = ["scale", "--model", settings.scaleModel] + (settings.repeats.map { ["--repeat", "\($0)"] } ?? [])
    do {
        try child.run()
        child.waitUntilExit()
    } catch {
        print("scale: cannot start a child process: \(error.localizedDescription); running it here")
        benchmarkScale(settings)
        return
    }
    if child.terminationReason != .exit || child.terminationStatus != 0 {
        let how = child.terminationReason == .exit ? "exit status" : "signal"
        summary("scale", "child process failed (\(how) \(child.terminationStatus)); see the last step announced above")
    }
}
