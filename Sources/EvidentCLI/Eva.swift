import ArgumentParser
import Evident
import Foundation

extension EVAMode: ExpressibleByArgument {}
extension FeatureKind: ExpressibleByArgument {}
extension ExplainerKind: ExpressibleByArgument {}

struct Eva: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eva",
        abstract: "EVA attribution map with certified bounds: which features the decision provably depends on.",
        discussion: """
        For the class c the network predicts at the input x and the box B around x, EVA \
        bounds the adversarial overlap AO(x, B) = max over j != c of max over B of f_j - f_c \
        from above, then the same with each feature u held at x (the box B_u), and scores u \
        by AO(x, B) - AO(x, B_u): how much the worst case shrinks when u may no longer move. \
        Every one of the d + 1 bounds is recomputed by the independent checker with sound \
        arithmetic; the map is then certified (guarantee: true) and DIR/eva.proof holds the \
        claims, which `evident check DIR/eva.proof` re-validates.
        The input: --image (a PNG, grey or RGB, 8 or 16 bit; --epsilon and --clip in pixel \
        units [0, 1], mapped through --normalize), --input (numbers in network units), or \
        --center (the centre of a property's input box, and that box as B unless --epsilon \
        is given).
        Features: grid:G (G x G patches), pixels (one per pixel position, all channels), \
        superpixels:N (about N regions of similar colour, deterministic SLIC-style; see \
        Docs/eva.md).
        Modes: full gives every B_u its own intermediate bounds, re-concretising B's CROWN \
        rows over B_u (a feature covering more than an eighth of the input is bounded like \
        independent); independent bounds every box by itself, like a one-box call (tightest, \
        12-15 times slower on resnet_2b); reuse keeps B's intermediate bounds for every B_u (valid \
        there, since B_u lies inside B): fastest, loosest. All three are certified.
        Hybrid mode (--hybrid-layer, for networks too large to bound from the input): the \
        values of one layer are bounded by --samples sampled inputs per box, the rest of the \
        network by the engine. Sampling can miss extremes: the map then has guarantee: false, \
        a warning, and no certificate.
        Writes DIR/scores.json (method, epsilon, features, class, aoFull, aoMasked, scores, \
        labels, seconds, guarantee, ...), DIR/heatmap.png and DIR/heatmap.svg (the image, \
        the scores over it, a colour bar), and DIR/eva.proof. Prints a summary; --json \
        prints scores.json instead.
        """)

    @Argument(help: "The network (.onnx or .nnet).")
    var model: String

    @Option(help: "A PNG image (grey or RGB, 8 or 16 bit).")
    var image: String?

    @Option(help: "A file of input numbers in network units (white space or commas).")
    var input: String?

    @Option(help: "A property (.vnnlib): the centre of its input box is the input.")
    var center: String?

    @Option(help: "With --center: which input region of the property (0-based).")
    var region = 0

    @Option(help: "Radius of the box B (L-infinity). With --image in pixel units [0, 1]. Required for EVA unless --center.")
    var epsilon: Double?

    @Option(help: "With --image: MEAN,STD of the network's input normalisation; once for all channels or once per channel, in channel order.")
    var normalize: [String] = []

    @Option(help: "Feature division: grid:G, pixels or superpixels:N.")
    var features: FeatureKind = .grid(8)

    @Option(help: "Bound method: ibp, crown or alpha-crown.")
    var method: BoundMethod = .crown

    @Option(help: "eva (certified), or a baseline without guarantee: saliency, gradxinput, integrated-gradients, smoothgrad, occlusion, rise, sobol.")
    var explainer: ExplainerKind = .eva

    @Option(help: "full (B's CROWN rows re-concretised for every box), independent (every box bounded alone: tightest, slowest) or reuse (B's intermediate bounds for every box: fastest, loosest).")
    var mode: EVAMode = .full

    @Option(help: "alpha-CROWN: bound evaluations per box.")
    var iterations = 20

    @Option(help: "Targeted variant: bound f_t - f_c for this class only.")
    var target: Int?

    @Option(help: "MIN,MAX: the valid input range B is clipped to (pixel units with --image, default 0,1; network units otherwise).")
    var clip: String?

    @Option(help: "Hybrid mode (no guarantee): bound the values of this layer (a value name that cuts the graph) by sampling, then bound the rest of the network from them.")
    var hybridLayer: String?

    @Option(help: "Hybrid mode: sampled inputs per box (plus the centre).")
    var samples = 64

    @Option(help: ArgumentHelp("Wall-clock limit in seconds, loading included: past it the run stops with exit status 30 and writes nothing.", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Working-memory budget of the bound computations (bytes, or with K, M, G): their rows are chunked to fit it.", valueName: "size"))
    var maxMemory: MemorySize?

    @Flag(help: "Print progress on standard error.")
    var progress = false

    @Option(help: "Output folder.")
    var out: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors {
            guard iterations >= 1 else { throw UsageError("--iterations must be at least 1") }
            let deadline = try timeout.map { try Deadline(seconds: $0, command: "eva", consequence: "nothing written to \(out)") }
            let network = try loadNetwork(path: model)
            let shape = ImageShape(inputShape: network.graph.values[network.graph.input].shape)
            // A baseline explainer has no box: the radius only matters to EVA.
            let prepared = try evaInput(network: network, image: image, input: input, center: center, region: region,
                                        epsilon: epsilon ?? (explainer == .eva ? nil : 0), normalize: normalize, clip: clip)
            let featureMap = try FeatureMap(features, shape: shape, image: prepared.display)
            if explainer != .eva {
                return try runBaseline(network: network, prepared: prepared, features: featureMap, deadline: deadline)
            }
            var settings = EVASettings(method: method, mode: mode, iterations: iterations, progress: progressReporter(always: progress))
            settings.memoryBudget = maxMemory?.bytes
            settings.hybrid = hybridLayer.map { HybridSettings(layer: $0, samples: samples) }
            if settings.hybrid != nil {
                FileHandle.standardError.write(Data("warning: hybrid mode: the bounds up to '\(hybridLayer!)' come from samples; the map carries no guarantee and no certificate is written\n".utf8))
            }
            let problem = EVAProblem(center: prepared.center, lower: prepared.lower, upper: prepared.upper,
                                     features: featureMap.inputIndices, target: target)
            let result = try EVA.explain(network: network, problem: problem, settings: settings)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - processStart) / 1e9
            let binding = FileBinding(path: relativePath(of: model, from: out), sha256: try InputFile.contentDigest(path: model))
            deadline?.disarm()
            try EVAReport.write(result, input: prepared, features: featureMap, settings: settings, model: binding,
                                seconds: seconds, producer: Evident.producer, to: out)
            if output.json {
                print(try String(contentsOfFile: (out as NSString).appendingPathComponent("scores.json"), encoding: .utf8),
                      terminator: "")
                return
            }
            print("class \(result.predicted)\(target.map { ", target class \($0)" } ?? ""): \(featureMap.count) features "
                  + "(\(features)), \(method.rawValue), \(mode.rawValue) mode")
            print("AO upper bound over B: \(result.aoFull)")
            let order = result.scores.indices.sorted { result.scores[$0] > result.scores[$1] }
            print("top features: " + order.prefix(5).map { "\($0) (\(String(format: "%.4g", result.scores[$0])))" }.joined(separator: ", "))
            if result.certified {
                print("guarantee: every bound recomputed by the checker (\(String(format: "%.3f", result.checkSeconds)) s); "
                      + "certificate \((out as NSString).appendingPathComponent("eva.proof"))")
            } else {
                print("warning: no guarantee: \(result.checkReason ?? "the bounds were not certified"); no certificate written")
            }
            print("time: \(String(format: "%.3f", seconds)) s (bounds \(String(format: "%.3f", result.boundSeconds)) s); "
                  + "files in \(out)")
        }
    }

    /// A baseline explainer's map: scores and pictures, no bounds, no guarantee.
    func runBaseline(network: Network, prepared: EVAInput, features: FeatureMap, deadline: Deadline?) throws {
        let y = try Evaluator(graph: network.graph).evaluate(prepared.center)
        let c = target ?? (y.indices.max { y[$0] < y[$1] } ?? 0)
        let scores = try Baselines.explain(explainer, network: network, input: prepared.center, target: c, features: features)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - processStart) / 1e9
        deadline?.disarm()
        try EVAReport.writeBaseline(explainer, scores: scores, target: c, input: prepared, features: features, seconds: seconds,
                                    to: out)
        if output.json {
            print(try String(contentsOfFile: (out as NSString).appendingPathComponent("scores.json"), encoding: .utf8),
                  terminator: "")
            return
        }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        print("class \(c): \(features.count) features (\(self.features)), \(explainer.rawValue) (no guarantee: not a bound)")
        print("top features: " + order.prefix(5).map { "\($0) (\(String(format: "%.4g", scores[$0])))" }.joined(separator: ", "))
        print("time: \(String(format: "%.3f", seconds)) s; files in \(out)")
    }
}

/// `A,B` as two numbers.
func parsePair(_ text: String) throws -> (Double, Double) {
    let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let a = parts[0], let b = parts[1], a.isFinite, b.isFinite else {
        throw UsageError("'\(text)' is not two numbers A,B")
    }
    return (a, b)
}

/// The centre and box of an EVA map from exactly one of an image, an input file and a property.
func evaInput(network: Network, image: String?, input: String?, center: String?, region: Int, epsilon: Double?,
              normalize: [String], clip: String?) throws -> EVAInput {
    let sources = [image, input, center].compactMap { $0 }
    guard sources.count == 1 else { throw UsageError("give exactly one of --image, --input and --center") }
    let shape = ImageShape(inputShape: network.graph.values[network.graph.input].shape)
    let clipRange = try clip.map(parsePair)
    if !normalize.isEmpty && image == nil { throw UsageError("--normalize applies to --image only") }
    if let image {
        guard let epsilon else { throw UsageError("--image needs --epsilon") }
        let pairs = try normalize.map(parsePair)
        let normalisation = pairs.isEmpty ? nil : PixelNormalisation(mean: pairs.map(\.0), std: pairs.map(\.1))
        return try EVAInput.image(try PNGImage.read(path: image), path: image, networkShape: shape,
                                  epsilon: epsilon, normalise: normalisation, clip: clipRange)
    }
    if let input {
        guard let epsilon else { throw UsageError("--input needs --epsilon") }
        let x = try readInputVector(path: input, expectedCount: shape.count)
        return try EVAInput.vector(x, shape: shape, epsilon: epsilon, clip: clipRange)
    }
    let property = try loadProperty(path: center!, for: network)
    guard region >= 0, region < property.regions.count else {
        throw UsageError("\(center!): --region \(region) does not exist (the property has \(property.regions.count))")
    }
    let box = property.regions[region]
    let whole = EVAInput.box(lower: box.lower, upper: box.upper, shape: shape)
    return try epsilon.map { try EVAInput.vector(whole.center, shape: shape, epsilon: $0, clip: clipRange) } ?? whole
}
