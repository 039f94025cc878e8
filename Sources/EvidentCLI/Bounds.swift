import ArgumentParser
import Evident
import Foundation

extension BoundMethod: ExpressibleByArgument {}
extension BoundPrecision: ExpressibleByArgument {}
extension AlphaScope: ExpressibleByArgument {}

struct Bounds: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Certified margins of a property's unsafe clauses (IBP, CROWN, alpha-CROWN).",
        discussion: """
        For each input region and each output clause of the property, prints a margin: a \
        lower bound of the distance of the network's outputs from that unsafe clause (for a \
        clause Y_a >= Y_b, a lower bound of Y_b - Y_a; for a conjunction, the largest of its \
        constraints' margins). A clause is refuted when its margin is > 0.
        Bounds are computed in Float64 with round-to-nearest: they are sound for the real-valued \
        network up to floating-point rounding of the computation (see Docs/Soundness.md). \
        --precision float32 runs the CROWN and alpha-CROWN passes in Float32 (1.4 times as fast on resnet_2b), \
        with margins that typically move by 1e-6 relative.
        With --intermediate, also prints the bounds of every pre-activation (ReLU input) value.
        Progress (each layer given CROWN bounds, each alpha-CROWN iteration) goes to standard \
        error with --progress, and by itself once a run has taken 2 s when standard error is a \
        terminal.
        JSON keys: method, seconds (bound computation only), margins (file order), minMargin, \
        evaluations (per region: bound evaluations, fewer than --iterations after an early stop), \
        and with --intermediate, intermediate (per region, a list of {name, shape, lower, upper}).
        """)

    @Argument(help: "The network (.onnx or .nnet).")
    var model: String

    @Argument(help: "The property (.vnnlib).")
    var property: String

    @Option(help: "Bound method: ibp, crown or alpha-crown.")
    var method: BoundMethod = .crown

    @Option(help: "alpha-CROWN: number of optimisation steps.")
    var iterations: Int = 20

    @Option(name: .customLong("lr"), help: "alpha-CROWN: Adam step size of the first step.")
    var learningRate: Double = BoundOptions().learningRate

    @Option(name: .customLong("lr-decay"), help: "alpha-CROWN: factor applied to the step size after every step.")
    var learningRateDecay: Double = BoundOptions().learningRateDecay

    @Option(help: "alpha-CROWN: stop after this many steps that improved no margin (0: never; auto_LiRPA uses 10).")
    var patience: Int = 0

    @Flag(help: "alpha-CROWN: stop as soon as every clause of a region is refuted.")
    var stopWhenRefuted = false

    @Option(help: "alpha-CROWN: optimise the slopes of all bound targets (all: intermediate bounds tighten too) or of the final rows only (final: intermediate bounds fixed at CROWN's; much cheaper per step, looser).")
    var alphaScope: AlphaScope = .all

    @Option(help: "How CROWN and alpha-CROWN bound pre-activations: crown (tighter) or ibp (much cheaper, for large networks).")
    var intermediateMethod: IntermediateMethod = .crown

    @Option(help: "Format of the backward passes' coefficients: float64 or float32 (faster, less precise).")
    var precision: BoundPrecision = .float64

    @Option(help: ArgumentHelp("Working-memory budget (bytes, or with K, M, G): rows are chunked to fit it, and alpha-CROWN optimises the final rows only when every target's slopes would not fit.", valueName: "size"))
    var maxMemory: MemorySize?

    @Flag(help: "Also print the bounds of every pre-activation (ReLU input) value.")
    var intermediate = false

    @Flag(help: "Report progress on standard error.")
    var progress = false

    enum IntermediateMethod: String, ExpressibleByArgument, CaseIterable {
        case crown, ibp
    }

    @OptionGroup var output: OutputOptions

    struct LayerBounds: Encodable {
        var name: String
        var shape: [Int]
        var lower: [Double]
        var upper: [Double]
    }

    struct Result: Encodable {
        var method: String
        var seconds: Double
        var margins: [Double]
        var minMargin: Double
        var evaluations: [Int]
        var intermediate: [[LayerBounds]]?
    }

    func run() throws {
        try reportingErrors {
            guard iterations >= 0 else { throw UsageError("--iterations must be >= 0") }
            guard patience >= 0 else { throw UsageError("--patience must be >= 0") }
            guard learningRate > 0 else { throw UsageError("--lr must be > 0") }
            guard learningRateDecay > 0 && learningRateDecay <= 1 else { throw UsageError("--lr-decay must be in (0, 1]") }
            let network = try loadNetwork(path: model)
            let spec = try loadProperty(path: property, for: network, maxMemory: maxMemory?.bytes)
            let options = BoundOptions(method: method, iterations: iterations, learningRate: learningRate,
                                       learningRateDecay: learningRateDecay,
                                       intermediateMethod: intermediateMethod == .ibp ? .ibp : .crown,
                                       precision: precision, earlyStop: EarlyStop(patience: patience), alphaScope: alphaScope,
                                       progress: progressReporter(always: progress))
            let propagator = BoundPropagator(graph: network.graph)
            propagator.memoryBudget = maxMemory?.bytes
            let report = propertyMargins(network: network, property: spec, options: options, propagator: propagator,
                                         stopWhenRefuted: stopWhenRefuted, keepIntermediate: intermediate)
            let graph = network.graph
            let layers: [[LayerBounds]]? = intermediate ? report.intermediate.map { bounds in
                graph.nodes.compactMap { node -> LayerBounds? in
                    guard !node.operation.isAffine, let b = bounds[node.inputs[0]] else { return nil }
                    let value = graph.values[node.inputs[0]]
                    return LayerBounds(name: value.name, shape: value.shape, lower: b.lower, upper: b.upper)
                }
            } : nil
            if output.json {
                return try printJSON(Result(method: method.rawValue, seconds: report.seconds, margins: report.margins,
                                            minMargin: report.minMargin, evaluations: report.evaluations, intermediate: layers))
            }
            let steps = method == .alphaCrown ? ", \(report.evaluations.map(String.init).joined(separator: "/")) evaluations" : ""
            print("method \(method.rawValue), \(String(format: "%.4f", report.seconds)) s\(steps)")
            for (k, margin) in report.margins.enumerated() {
                print("clause \(k): margin \(margin)\(margin > 0 ? " (refuted)" : "")")
            }
            print("min margin: \(report.minMargin)\(report.minMargin > 0 ? " — every clause refuted" : "")")
            for (region, list) in (layers ?? []).enumerated() {
                for layer in list {
                    let lo = layer.lower.min() ?? 0, hi = layer.upper.max() ?? 0
                    let unstable = zip(layer.lower, layer.upper).filter { $0 < 0 && $1 > 0 }.count
                    print("region \(region) \(layer.name) \(layer.shape): lower >= \(lo), upper <= \(hi), unstable \(unstable)/\(layer.lower.count)")
                }
            }
        }
    }
}

/// Progress lines on standard error, with the time since the computation started: always
/// when `always`, else only when standard error is a terminal and 2 s have passed.
func progressReporter(always: Bool) -> (@Sendable (String) -> Void)? {
    guard always || isatty(STDERR_FILENO) != 0 else { return nil }
    let start = DispatchTime.now().uptimeNanoseconds
    return { message in
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard always || elapsed >= 2 else { return }
        FileHandle.standardError.write(Data("[\(String(format: "%.1f", elapsed)) s] \(message)\n".utf8))
    }
}
