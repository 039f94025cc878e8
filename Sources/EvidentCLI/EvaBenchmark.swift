import ArgumentParser
import Evident
import Foundation

struct EvaBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eva-benchmark",
        abstract: "EVA against baseline explainers on faithfulness metrics, over several inputs.",
        discussion: """
        For every input (a .png with --epsilon, a .txt of input numbers with --epsilon, or a \
        .vnnlib property: its box's centre, and its box as EVA's B unless --epsilon is given) \
        and every explainer, computes the map for the predicted class and four metrics: \
        Deletion AUC (lower is better) and Insertion AUC (higher is better) of the class \
        probability, features removed or inserted in decreasing score order (Petsiuk et al. \
        2018); muFidelity (higher is better: correlation of score sums and output drops over \
        random subsets, Bhatt et al. 2020); Robustness-Sr (lower is better: the smallest \
        L-infinity radius at which PGD finds an adversarial example when only the top 20% of \
        the features may move, Hsieh et al. 2021). Removed features take the input's channel \
        means.
        Writes DIR/table.md and DIR/table.csv (metric x explainer, mean and standard error) \
        and DIR/pictures/NAME.png (every explainer's map of one input, one above the other).
        """)

    @Argument(help: "The network (.onnx or .nnet).")
    var model: String

    @Argument(help: "Inputs: .png, .txt (input numbers) or .vnnlib (property centres).")
    var inputs: [String]

    @Option(help: "Comma-separated explainers (default: all): eva, saliency, gradxinput, integrated-gradients, smoothgrad, occlusion, rise, sobol.")
    var explainers: String?

    @Option(help: "Radius of EVA's box B (pixel units for .png); required for .png and .txt inputs.")
    var epsilon: Double?

    @Option(help: "With .png inputs: MEAN,STD of the network's input normalisation, once or once per channel.")
    var normalize: [String] = []

    @Option(help: "MIN,MAX: the valid input range (pixel units for .png, network units otherwise).")
    var clip: String?

    @Option(help: "Feature division: grid:G, pixels or superpixels:N.")
    var features: FeatureKind = .grid(8)

    @Option(help: "EVA's bound method: ibp, crown or alpha-crown.")
    var method: BoundMethod = .crown

    @Option(help: "EVA's mode: full, independent or reuse.")
    var mode: EVAMode = .full

    @Option(help: "Robustness-Sr: the largest radius tried (network units).")
    var maxRadius = 0.5

    @Flag(help: "Print progress on standard error.")
    var progress = false

    @Option(help: "Output folder.")
    var out: String

    func run() throws {
        try reportingErrors {
            let kinds: [ExplainerKind] = try explainers.map { list in
                try list.split(separator: ",").map { name in
                    guard let kind = ExplainerKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw UsageError("--explainers: '\(name)' is not one of "
                                         + ExplainerKind.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    return kind
                }
            } ?? ExplainerKind.allCases
            guard !inputs.isEmpty else { throw UsageError("give at least one input") }
            let network = try loadNetwork(path: model)
            var prepared = [(name: String, input: EVAInput)]()
            for path in inputs {
                let lower = path.lowercased()
                let item = try evaInput(network: network, image: lower.hasSuffix(".png") ? path : nil,
                                        input: lower.hasSuffix(".png") || lower.contains(".vnnlib") ? nil : path,
                                        center: lower.contains(".vnnlib") ? path : nil, region: 0,
                                        epsilon: epsilon, normalize: lower.hasSuffix(".png") ? normalize : [], clip: clip)
                var name = (path as NSString).lastPathComponent
                for suffix in [".gz", ".png", ".txt", ".vnnlib"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
                while prepared.contains(where: { $0.name == name }) { name += "'" }
                prepared.append((name, item))
            }
            let reporter = progressReporter(always: progress)
            let settings = ComparisonSettings(explainers: kinds, features: features,
                                              eva: EVASettings(method: method, mode: mode), maxRadius: maxRadius,
                                              validRange: nil, progress: reporter)
            let (rows, maps) = try ExplainerComparison.run(network: network, inputs: prepared, settings: settings)
            try FileManager.default.createDirectory(atPath: out + "/pictures", withIntermediateDirectories: true)
            let table = ExplainerComparison.markdown(rows, explainers: kinds)
            try table.write(toFile: out + "/table.md", atomically: true, encoding: .utf8)
            try ExplainerComparison.csv(rows, explainers: kinds).write(toFile: out + "/table.csv", atomically: true, encoding: .utf8)
            for (k, item) in prepared.enumerated() {
                let pictures = rows.filter { $0.input == item.name }.map { row -> Heatmap in
                    row.explainer == .eva
                        ? EVAReport.evaHeatmap(scores: row.scores, predicted: row.target, certified: row.certified, hybrid: false,
                                               input: item.input, features: maps[k])
                        : EVAReport.baselineHeatmap(row.explainer, scores: row.scores, target: row.target, input: item.input,
                                                    features: maps[k])
                }
                let bytes = try Heatmap.stackedPNG(pictures)
                try Data(bytes).write(to: URL(fileURLWithPath: out + "/pictures/\(item.name).png"))
            }
            print(table, terminator: "")
            print("files: \(out)/table.md, \(out)/table.csv, \(out)/pictures/ (\(prepared.count) pictures)")
        }
    }
}
