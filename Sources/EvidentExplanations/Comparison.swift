import Foundation
import EvidentIR
import EvidentIO
import EvidentEval
import EvidentVerification

/// EVA against the baseline explainers on faithfulness metrics (`evident eva-benchmark`).
public struct ComparisonSettings: Sendable {
    public var explainers: [ExplainerKind]
    public var features: FeatureKind
    /// EVA's settings (method, mode); its box is each input's.
    public var eva: EVASettings
    public var baselines: BaselineSettings
    /// Robustness-S_r: the fraction of top features that may move, the largest radius tried
    /// (network units) and the binary search's tolerance.
    public var robustnessFraction: Double
    public var maxRadius: Double
    public var tolerance: Double
    /// The valid input range for the attacks (network units), if any.
    public var validRange: ClosedRange<Double>?
    public var progress: (@Sendable (String) -> Void)?

    public init(explainers: [ExplainerKind] = ExplainerKind.allCases, features: FeatureKind = .grid(8),
                eva: EVASettings = EVASettings(), baselines: BaselineSettings = BaselineSettings(),
                robustnessFraction: Double = 0.2, maxRadius: Double = 0.5, tolerance: Double = 1e-3,
                validRange: ClosedRange<Double>? = nil, progress: (@Sendable (String) -> Void)? = nil) {
        self.explainers = explainers
        self.features = features
        self.eva = eva
        self.baselines = baselines
        self.robustnessFraction = robustnessFraction
        self.maxRadius = maxRadius
        self.tolerance = tolerance
        self.validRange = validRange
        self.progress = progress
    }
}

/// The metrics of one explainer on one input.
public struct ComparisonRow: Sendable {
    public var input: String
    public var explainer: ExplainerKind
    /// The class explained: the one the network predicts at the input.
    public var target: Int
    public var deletion: Double
    public var insertion: Double
    public var muFidelity: Double
    public var robustnessSr: Double
    public var seconds: Double
    public var scores: [Double]
    /// Whether the scores rest on certified bounds (EVA whose every bound the checker recomputed).
    public var certified: Bool
}

public enum ExplainerComparison {
    /// The metrics as (name, whether higher is better, value of a row).
    public static let metrics: [(name: String, higherIsBetter: Bool, value: (ComparisonRow) -> Double)] = [
        ("Deletion AUC", false, { $0.deletion }), ("Insertion AUC", true, { $0.insertion }),
        ("μFidelity", true, { $0.muFidelity }), ("Robustness-Sr", false, { $0.robustnessSr }),
        ("seconds", false, { $0.seconds }),
    ]

    /// Every explainer's scores and metrics on every input, for the class predicted at it.
    /// Metrics use the input's channel means as the removal baseline (as occlusion does).
    public static func run(network: Network, inputs: [(name: String, input: EVAInput)], settings: ComparisonSettings) throws
        -> (rows: [ComparisonRow], features: [FeatureMap]) {
        var rows = [ComparisonRow](), maps = [FeatureMap]()
        let evaluator = Evaluator(graph: network.graph)
        for (k, item) in inputs.enumerated() {
            let x = item.input.center
            let features = try FeatureMap(settings.features, shape: item.input.shape, image: item.input.display)
            maps.append(features)
            let y = try evaluator.evaluate(x)
            let c = y.indices.max { y[$0] < y[$1] } ?? 0
            let reference = FaithfulnessMetrics.Baseline.input(Baselines.referenceInput(x, shape: item.input.shape, baseline: nil))
            for kind in settings.explainers {
                let start = Date()
                let scores: [Double]
                var certified = false
                if kind == .eva {
                    let problem = EVAProblem(center: x, lower: item.input.lower, upper: item.input.upper,
                                             features: features.inputIndices)
                    let result = try EVA.explain(network: network, problem: problem, settings: settings.eva)
                    scores = result.scores
                    certified = result.certified
                } else {
                    scores = try Baselines.explain(kind, network: network, input: x, target: c, features: features,
                                                   settings: settings.baselines)
                }
                let seconds = Date().timeIntervalSince(start)
                let indices = features.inputIndices
                let deletion = try FaithfulnessMetrics.deletion(network: network, input: x, target: c, scores: scores,
                                                                features: indices, baseline: reference).auc
                let insertion = try FaithfulnessMetrics.insertion(network: network, input: x, target: c, scores: scores,
                                                                  features: indices, baseline: reference).auc
                let fidelity = try FaithfulnessMetrics.muFidelity(network: network, input: x, target: c, scores: scores,
                                                                  features: indices, baseline: reference)
                let robustness = try FaithfulnessMetrics.robustnessSr(
                    network: network, input: x, target: c, scores: scores, features: indices,
                    fraction: settings.robustnessFraction, maxRadius: settings.maxRadius, tolerance: settings.tolerance,
                    settings: AttackSettings(restarts: 4, steps: 30), validRange: settings.validRange)
                rows.append(ComparisonRow(input: item.name, explainer: kind, target: c, deletion: deletion, insertion: insertion,
                                          muFidelity: fidelity, robustnessSr: robustness, seconds: seconds, scores: scores,
                                          certified: certified))
                settings.progress?("\(item.name) (\(k + 1) of \(inputs.count)): \(kind.rawValue) done in \(String(format: "%.2f", seconds)) s")
            }
        }
        return (rows, maps)
    }

    /// `table.md`: metric × explainer, mean ± standard error, the best of each metric in bold.
    public static func markdown(_ rows: [ComparisonRow], explainers: [ExplainerKind]) -> String {
        let inputs = Set(rows.map(\.input)).count
        var out = "| metric | " + explainers.map(\.rawValue).joined(separator: " | ") + " |\n"
        out += "|---|" + explainers.map { _ in "---|" }.joined() + "\n"
        for metric in metrics {
            let summaries = explainers.map { kind in
                MetricSummary(rows.filter { $0.explainer == kind }.map(metric.value).filter(\.isFinite))
            }
            let means = summaries.map(\.mean)
            let best = metric.name == "seconds" ? nil : (metric.higherIsBetter ? means.max() : means.min())
            let cells = summaries.map { s -> String in
                let text = metric.name == "seconds" ? String(format: "%.3f", s.mean) : String(format: "%.4f ± %.4f", s.mean, s.standardError)
                return s.mean == best ? "**\(text)**" : text
            }
            out += "| \(metric.name) \(metric.name == "seconds" ? "" : metric.higherIsBetter ? "(↑)" : "(↓)") | "
                + cells.joined(separator: " | ") + " |\n"
        }
        out += "\n\(inputs) inputs; mean ± standard error over inputs; ↑ higher is better, ↓ lower is better; best in bold.\n"
        return out
    }

    /// `table.csv`: one row per metric and explainer (mean, standard error, count), then the raw rows.
    public static func csv(_ rows: [ComparisonRow], explainers: [ExplainerKind]) -> String {
        var out = "metric,explainer,mean,standard_error,count\n"
        for metric in metrics {
            for kind in explainers {
                let s = MetricSummary(rows.filter { $0.explainer == kind }.map(metric.value).filter(\.isFinite))
                out += "\(metric.name),\(kind.rawValue),\(s.mean),\(s.standardError),\(s.count)\n"
            }
        }
        out += "\ninput,explainer,deletion,insertion,mu_fidelity,robustness_sr,seconds\n"
        for r in rows {
            out += "\(r.input),\(r.explainer.rawValue),\(r.deletion),\(r.insertion),\(r.muFidelity),\(r.robustnessSr),\(r.seconds)\n"
        }
        return out
    }
}
