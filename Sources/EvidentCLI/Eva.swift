import ArgumentParser
import Evident
import Foundation

extension EVAMode: ExpressibleByArgument {}
extension FeatureKind: ExpressibleByArgument {}

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
        Modes: full bounds every box by itself; reuse keeps B's intermediate bounds for \
        every B_u (valid there, since B_u lies inside B): much faster, looser, still certified.
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

    @Option(help: "Radius of the box B (L-infinity). With --image in pixel units [0, 1]. Required unless --center.")
    var epsilon: Double?

    @Option(help: "With --image: MEAN,STD of the network's input normalisation; once for all channels or once per channel, in channel order.")
    var normalize: [String] = []

    @Option(help: "Feature division: grid:G, pixels or superpixels:N.")
    var features: FeatureKind = .grid(8)

    @Option(help: "Bound method: ibp, crown or alpha-crown.")
    var method: BoundMethod = .crown

    @Option(help: "full (every box bounded by itself) or reuse (B's intermediate bounds for every box; faster, looser).")
    var mode: EVAMode = .full

    @Option(help: "alpha-CROWN: bound evaluations per box.")
    var iterations = 20

    @Option(help: "Targeted variant: bound f_t - f_c for this class only.")
    var target: Int?

    @Option(help: "MIN,MAX: the valid input range B is clipped to (pixel units with --image, default 0,1; network units otherwise).")
    var clip: String?

    @Flag(help: "Print progress on standard error.")
    var progress = false

    @Option(help: "Output folder.")
    var out: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors {
            let sources = [image, input, center].compactMap { $0 }
            guard sources.count == 1 else { throw UsageError("give exactly one of --image, --input and --center") }
            guard iterations >= 1 else { throw UsageError("--iterations must be at least 1") }
            let network = try loadNetwork(path: model)
            let shape = ImageShape(inputShape: network.graph.values[network.graph.input].shape)
            let clipRange = try clip.map(parsePair)
            if !normalize.isEmpty && image == nil { throw UsageError("--normalize applies to --image only") }
            let prepared: EVAInput
            if let image {
                guard let epsilon else { throw UsageError("--image needs --epsilon") }
                let pairs = try normalize.map(parsePair)
                let normalisation = pairs.isEmpty ? nil : PixelNormalisation(mean: pairs.map(\.0), std: pairs.map(\.1))
                prepared = try EVAInput.image(try PNGImage.read(path: image), path: image, networkShape: shape,
                                              epsilon: epsilon, normalise: normalisation, clip: clipRange)
            } else if let input {
                guard let epsilon else { throw UsageError("--input needs --epsilon") }
                let x = try readInputVector(path: input, expectedCount: shape.count)
                prepared = try EVAInput.vector(x, shape: shape, epsilon: epsilon, clip: clipRange)
            } else {
                let property = try loadProperty(path: center!, for: network)
                guard region >= 0, region < property.regions.count else {
                    throw UsageError("\(center!): --region \(region) does not exist (the property has \(property.regions.count))")
                }
                let box = property.regions[region]
                let whole = EVAInput.box(lower: box.lower, upper: box.upper, shape: shape)
                prepared = try epsilon.map { try EVAInput.vector(whole.center, shape: shape, epsilon: $0, clip: clipRange) } ?? whole
            }
            let featureMap = try FeatureMap(features, shape: shape, image: prepared.display)
            let settings = EVASettings(method: method, mode: mode, iterations: iterations, progress: progressReporter(always: progress))
            let problem = EVAProblem(center: prepared.center, lower: prepared.lower, upper: prepared.upper,
                                     features: featureMap.inputIndices, target: target)
            let result = try EVA.explain(network: network, problem: problem, settings: settings)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - processStart) / 1e9
            let binding = FileBinding(path: relativePath(of: model, from: out), sha256: try InputFile.contentDigest(path: model))
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
                print("warning: no guarantee: the checker could not recompute the bounds (\(result.checkReason ?? "unknown reason")); "
                      + "no certificate written")
            }
            print("time: \(String(format: "%.3f", seconds)) s (bounds \(String(format: "%.3f", result.boundSeconds)) s); "
                  + "files in \(out)")
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
}
