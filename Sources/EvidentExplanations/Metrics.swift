import Foundation
import EvidentIR
import EvidentEval
import EvidentVNNLib
import EvidentVerification

// Faithfulness metrics of attribution maps: does a map rank first the features the network
// actually relies on? Every metric here treats an attribution as one score per feature
// (higher = more important) and a feature as a set of input indices (for example
// `FeatureMap.inputIndices`: every channel of a patch, pixel or superpixel). None of these
// numbers is certified: they are floating-point evaluations (and, for the robustness metric,
// the outcome of a gradient attack), meant for comparing maps in tables.

/// Why a faithfulness metric could not be computed.
public struct MetricError: Error, LocalizedError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var errorDescription: String? { message }
}

/// Faithfulness metrics for attribution maps: deletion and insertion (Petsiuk et al.),
/// μ-fidelity (Bhatt et al.) and Robustness-S_r (Hsieh et al.).
///
/// Common conventions:
/// - `input` is one flattened network input, `features[u]` the input indices of feature `u`
///   and `scores[u]` its attribution; `scores.count == features.count`. Features are meant
///   to be disjoint; an index in several features is set whenever any of them is.
/// - "Decreasing score order" breaks ties by the lower feature index first, so every metric
///   is a deterministic function of its arguments.
/// - A removed feature takes the ``Baseline`` value of its inputs (0 by default).
/// - Network outputs are evaluated in Float64 through ``Evaluator``, batched (at most
///   ``batchLimit`` inputs per call).
public enum FaithfulnessMetrics {
    /// What replaces a removed (or not yet inserted) feature's inputs.
    public enum Baseline: Sendable, Equatable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
        /// Every input takes the same value (0: a black image when pixels are in [0, 1]).
        case constant(Double)
        /// Input `i` takes `values[i]` (a blurred copy of the image, the data set's mean, ...).
        case input([Double])

        public init(floatLiteral value: Double) { self = .constant(value) }
        public init(integerLiteral value: Int) { self = .constant(Double(value)) }

        func value(at i: Int) -> Double {
            switch self {
            case .constant(let v): v
            case .input(let values): values[i]
            }
        }
    }

    /// Which function of the network's outputs a metric follows for the target class `t`.
    public enum OutputQuantity: String, Sendable, CaseIterable {
        /// The softmax probability `exp(y_t) / Σ_j exp(y_j)` (computed with the maximum
        /// subtracted first): what Petsiuk et al. plot for deletion and insertion.
        case probability
        /// The raw output (logit) `y_t`.
        case logit
    }

    /// The largest number of inputs evaluated in one call of the evaluator.
    public static let batchLimit = 64

    // MARK: Deletion and insertion

    /// The deletion metric (Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for
    /// Explanation of Black-box Models", BMVC 2018, §4.1), with features as the unit removed.
    ///
    /// Features are removed from `input` in decreasing score order (each removed feature's
    /// inputs take the baseline value) in `steps` chunks: after step `k` (`0 ≤ k ≤ steps`) the
    /// first `n_k = ⌊k·d/steps⌋` of the `d` features are removed, so chunks differ in size by
    /// at most one feature. `curve[k]` is the target's ``OutputQuantity`` (the softmax
    /// probability by default) with `n_k` features removed: `curve[0]` is its value at
    /// `input`, `curve[steps]` at the baseline. The AUC is the trapezoid rule over the points
    /// `(n_k / d, curve[k])` on [0, 1] (equally spaced when `steps` divides `d`), so a constant
    /// curve has the constant as its AUC.
    ///
    /// Lower is better: a faithful map removes first what the prediction rests on.
    /// - Parameters:
    ///   - steps: the number of chunks, `1 ≤ steps ≤ d`; `nil` means `min(d, 32)`.
    /// - Returns: the AUC and the `steps + 1` points of the curve.
    /// - Throws: ``MetricError`` for inconsistent arguments, ``EvaluationError`` from the evaluator.
    public static func deletion(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                                baseline: Baseline = .constant(0), steps: Int? = nil,
                                output: OutputQuantity = .probability) throws -> (auc: Double, curve: [Double]) {
        try sweep(network: network, input: input, target: target, scores: scores, features: features,
                  baseline: baseline, steps: steps, output: output, inserting: false)
    }

    /// The insertion metric (Petsiuk et al., BMVC 2018, §4.1): the mirror of
    /// ``deletion(network:input:target:scores:features:baseline:steps:output:)``. Starting
    /// from the baseline, the features take their values of `input` in decreasing score order,
    /// in the same `steps` chunks; `curve[k]` is the target's quantity with the first `n_k`
    /// features inserted (`curve[0]` at the baseline, `curve[steps]` at `input`), and the AUC
    /// is the same trapezoid rule on [0, 1].
    ///
    /// Higher is better: a faithful map restores first what the prediction rests on.
    public static func insertion(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                                 baseline: Baseline = .constant(0), steps: Int? = nil,
                                 output: OutputQuantity = .probability) throws -> (auc: Double, curve: [Double]) {
        try sweep(network: network, input: input, target: target, scores: scores, features: features,
                  baseline: baseline, steps: steps, output: output, inserting: true)
    }

    private static func sweep(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                              baseline: Baseline, steps: Int?, output: OutputQuantity,
                              inserting: Bool) throws -> (auc: Double, curve: [Double]) {
        let evaluator = try validate(network: network, input: input, target: target, scores: scores,
                                     features: features, baseline: baseline)
        let d = features.count
        let steps = steps ?? min(d, 32)
        guard steps >= 1, steps <= d else {
            throw MetricError("steps must lie in 1...\(d) (the number of features); got \(steps)")
        }
        let order = ranking(scores)
        let counts = (0...steps).map { k in k * d / steps }
        // Point k: the first counts[k] features of the order replaced (deletion) or kept (insertion).
        let start = inserting ? baselineInput(baseline, count: input.count) : input
        var point = start
        var points = [[Double]]()
        points.reserveCapacity(steps + 1)
        points.append(point)
        for k in 1...steps {
            for u in order[counts[k - 1]..<counts[k]] {
                for i in features[u] { point[i] = inserting ? input[i] : baseline.value(at: i) }
            }
            points.append(point)
        }
        let curve = try quantities(evaluator, points, target: target, output: output)
        let positions = counts.map { Double($0) / Double(d) }
        return (trapezoid(curve, at: positions), curve)
    }

    // MARK: μ-fidelity

    /// μ-fidelity (Bhatt, Weller and Moura, "Evaluating and Aggregating Feature-based Model
    /// Explanations", IJCAI 2020, Definition 3): the Pearson correlation, over `samples`
    /// subsets `S` of `subsetSize` features drawn uniformly without replacement, between
    /// `Σ_{u∈S} scores[u]` and `f_t(x) − f_t(x_{S←baseline})`, the drop of the target's
    /// ``OutputQuantity`` when the features of `S` take the baseline value.
    ///
    /// Higher is better (at most 1). It is 1 exactly when the drops are an increasing affine
    /// function of the score sums, as for the additive scores `Σ_{i∈u} w_ti (x_i − b_i)` of an
    /// affine network measured on its logit. The subsets come from a SplitMix64 generator
    /// seeded with `seed` (a partial Fisher–Yates shuffle per subset), so the result is a
    /// deterministic function of the arguments. NaN when either series is constant (for
    /// example `subsetSize == d`: every subset is the same), since the correlation is then
    /// undefined.
    /// - Parameters:
    ///   - subsetSize: `1 ≤ subsetSize ≤ d`; `nil` means 20% of the features, rounded, at least 1.
    ///   - samples: at least 2.
    ///   - output: the probability (default, as for deletion and insertion) or the logit.
    public static func muFidelity(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                                  subsetSize: Int? = nil, samples: Int = 128, baseline: Baseline = .constant(0),
                                  seed: UInt64 = 0x5EED, output: OutputQuantity = .probability) throws -> Double {
        let evaluator = try validate(network: network, input: input, target: target, scores: scores,
                                     features: features, baseline: baseline)
        let d = features.count
        let size = subsetSize ?? max(1, Int((0.2 * Double(d)).rounded()))
        guard size >= 1, size <= d else {
            throw MetricError("the subset size must lie in 1...\(d) (the number of features); got \(size)")
        }
        guard samples >= 2 else { throw MetricError("μ-fidelity needs at least 2 samples; got \(samples)") }
        var random = SplitMix64(seed: seed)
        var points = [input]
        var sums = [Double]()
        points.reserveCapacity(samples + 1)
        sums.reserveCapacity(samples)
        var pool = Array(0..<d)
        for _ in 0..<samples {
            // Partial Fisher–Yates: the first `size` entries of `pool` become a uniform subset.
            for k in 0..<size {
                let j = k + Int(random.next() % UInt64(d - k))
                pool.swapAt(k, j)
            }
            var point = input, sum = 0.0
            for u in pool[0..<size] {
                sum += scores[u]
                for i in features[u] { point[i] = baseline.value(at: i) }
            }
            points.append(point)
            sums.append(sum)
        }
        let values = try quantities(evaluator, points, target: target, output: output)
        let drops = values.dropFirst().map { values[0] - $0 }
        return pearson(sums, drops)
    }

    // MARK: Robustness-S_r

    /// Which features a robustness analysis lets move.
    public enum FeatureSet: String, Sendable, CaseIterable {
        /// The top-ranked `fraction` of the features, S_r ("Robustness-S_r": lower is better).
        case relevant
        /// All but the top-ranked `fraction`, the complement S̄_r ("Robustness-S̄_r": higher is better).
        case irrelevant
    }

    /// Robustness-S_r (Hsieh, Yeh, Liu, Ravikumar, Kim, Kumar and Hsieh, "Evaluations and
    /// Methods for Explanation through Robustness Analysis", ICLR 2021, §3): the smallest L∞
    /// radius `ε` at which an adversarial example exists when only the top-ranked
    /// `k = max(1, round(fraction·d))` features may move (the others stay at `input`), for one
    /// `fraction` (the paper also sweeps `fraction` and reports the area under the radii).
    ///
    /// Adversarial means that some class `j ≠ target` reaches `f_j ≥ f_target` (a tie counts,
    /// as in a VNN-LIB robustness property's closure). The radius is found by binary search on
    /// `[0, maxRadius]`: at each `ε` the verifier's projected-gradient ``Attack`` runs with
    /// `settings` on a ``Property`` built in memory, whose one region is the box
    /// `[x_i − ε, x_i + ε]` (intersected with `validRange` when given) on the movable inputs
    /// and `[x_i, x_i]` elsewhere, with one clause `f_target − f_j ≤ 0` per `j ≠ target`.
    /// A success at `ε` lowers the upper end to the witness's distance `‖x' − x‖∞ ≤ ε`, a
    /// failure raises the lower end to `ε`; the search stops when the ends are within
    /// `tolerance` and returns the upper end. The attack is seeded by `settings.seed`, so the
    /// result is deterministic.
    ///
    /// Guarantee: the result is the distance of an actual adversarial example (Float64
    /// evaluation), so it is never below the true minimal radius; it exceeds it by at most
    /// `tolerance` when the attack finds an adversarial example whenever one exists at the
    /// radius tried (exact for affine networks; in general PGD may miss some, and the result
    /// is an upper bound only). Returns 0 when `input` itself is adversarial (its argmax is
    /// not `target`, or ties with it), and `maxRadius` when the attack fails at `maxRadius`.
    ///
    /// Lower is better for ``FeatureSet/relevant``: the top features should be the ones the
    /// prediction is fragile in. Higher is better for ``FeatureSet/irrelevant``.
    /// - Parameters:
    ///   - fraction: in (0, 1]; 20% by default.
    ///   - maxRadius: positive and finite.
    ///   - tolerance: positive.
    ///   - validRange: the range every input must stay in (for example `0...1` for images);
    ///     `input` must lie in it.
    public static func robustnessSr(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                                    fraction: Double = 0.2, maxRadius: Double, tolerance: Double = 1e-3,
                                    settings: AttackSettings = AttackSettings(), validRange: ClosedRange<Double>? = nil,
                                    set: FeatureSet = .relevant) throws -> Double {
        let evaluator = try validate(network: network, input: input, target: target, scores: scores,
                                     features: features, baseline: .constant(0))
        let d = features.count, n = input.count, m = evaluator.outputCount
        guard m >= 2 else { throw MetricError("the network has one output: there is no other class to change to") }
        guard fraction > 0, fraction <= 1 else { throw MetricError("the fraction must lie in (0, 1]; got \(fraction)") }
        guard maxRadius > 0, maxRadius.isFinite else { throw MetricError("the largest radius must be positive and finite; got \(maxRadius)") }
        guard tolerance > 0 else { throw MetricError("the tolerance must be positive; got \(tolerance)") }
        if let range = validRange {
            guard range.lowerBound.isFinite, range.upperBound.isFinite else { throw MetricError("the valid range must be finite") }
            if let i = input.indices.first(where: { !range.contains(input[$0]) }) {
                throw MetricError("input \(i) = \(input[i]) lies outside the valid range \(range)")
            }
        }
        let y = try evaluator.evaluate(input)
        if (0..<m).contains(where: { $0 != target && y[$0] >= y[target] }) { return 0 }

        let k = max(1, min(d, Int((fraction * Double(d)).rounded())))
        let order = ranking(scores)
        let chosen = set == .relevant ? order[0..<k] : order[k...]
        guard !chosen.isEmpty else {
            throw MetricError("the top \(k) of \(d) features are all of them: their complement has nothing to move")
        }
        var movable = [Bool](repeating: false, count: n)
        for u in chosen { for i in features[u] { movable[i] = true } }

        var clauses = [OutputClause]()
        for j in 0..<m where j != target {
            let terms = [LinearConstraint.Term(output: target, coefficient: 1), LinearConstraint.Term(output: j, coefficient: -1)]
                .sorted { $0.output < $1.output }
            clauses.append(OutputClause(constraints: [LinearConstraint(terms: terms, bound: 0)]))
        }
        /// The distance of the attack's witness at radius `epsilon`, or `nil` when it finds none.
        func attack(_ epsilon: Double) -> Double? {
            var lower = input, upper = input
            for i in 0..<n where movable[i] {
                lower[i] = input[i] - epsilon
                upper[i] = input[i] + epsilon
                if let range = validRange {
                    lower[i] = max(lower[i], range.lowerBound)
                    upper[i] = min(upper[i], range.upperBound)
                }
            }
            let property = Property(inputCount: n, outputCount: m,
                                    regions: [InputRegion(lower: lower, upper: upper, clauses: clauses)],
                                    source: "Robustness-S_r at ε = \(epsilon)")
            guard let witness = Attack(graph: network.graph, property: property).run(settings: settings) else { return nil }
            return zip(witness.input, input).map { abs($0 - $1) }.max() ?? 0
        }
        guard var high = attack(maxRadius) else { return maxRadius }
        var low = 0.0
        while high - low > tolerance {
            let mid = low + (high - low) / 2
            if let distance = attack(mid) { high = min(mid, distance) } else { low = mid }
        }
        return high
    }

    // MARK: Shared pieces

    /// Feature indices in decreasing score order, ties by the lower index first.
    static func ranking(_ scores: [Double]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }

    /// The trapezoid rule `Σ_k (p_{k+1} − p_k)(v_k + v_{k+1}) / 2`.
    static func trapezoid(_ values: [Double], at positions: [Double]) -> Double {
        var area = 0.0
        for k in values.indices.dropLast() {
            area += (positions[k + 1] - positions[k]) * (values[k] + values[k + 1]) / 2
        }
        return area
    }

    /// The Pearson correlation of two series of equal length; NaN when either is constant.
    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (u, v) in zip(a, b) {
            sab += (u - ma) * (v - mb)
            saa += (u - ma) * (u - ma)
            sbb += (v - mb) * (v - mb)
        }
        guard saa > 0, sbb > 0 else { return .nan }
        return sab / (saa.squareRoot() * sbb.squareRoot())
    }

    private static func baselineInput(_ baseline: Baseline, count: Int) -> [Double] {
        switch baseline {
        case .constant(let v): [Double](repeating: v, count: count)
        case .input(let values): values
        }
    }

    /// The target's quantity at every point, evaluated in batches of at most ``batchLimit``.
    private static func quantities(_ evaluator: Evaluator, _ points: [[Double]], target: Int,
                                   output: OutputQuantity) throws -> [Double] {
        let m = evaluator.outputCount
        var result = [Double]()
        result.reserveCapacity(points.count)
        var start = 0
        while start < points.count {
            let end = min(points.count, start + batchLimit)
            let y = try evaluator.evaluate(Array(points[start..<end].joined()), batch: end - start)
            for b in 0..<(end - start) {
                let row = y[(b * m)..<((b + 1) * m)]
                switch output {
                case .logit:
                    result.append(row[row.startIndex + target])
                case .probability:
                    let top = row.max() ?? 0
                    let total = row.reduce(0) { $0 + exp($1 - top) }
                    result.append(exp(row[row.startIndex + target] - top) / total)
                }
            }
            start = end
        }
        return result
    }

    /// Checks the arguments shared by every metric and returns the evaluator.
    private static func validate(network: Network, input: [Double], target: Int, scores: [Double], features: [[Int]],
                                 baseline: Baseline) throws -> Evaluator {
        let evaluator = Evaluator(graph: network.graph)
        let n = evaluator.inputCount, m = evaluator.outputCount
        guard input.count == n else { throw MetricError("the input has \(input.count) numbers; the network takes \(n)") }
        guard input.allSatisfy(\.isFinite) else { throw MetricError("the input has a number that is not finite") }
        guard target >= 0, target < m else { throw MetricError("target class \(target) is not one of 0..<\(m)") }
        guard !features.isEmpty else { throw MetricError("there are no features") }
        guard scores.count == features.count else {
            throw MetricError("there are \(scores.count) scores for \(features.count) features")
        }
        if let u = scores.indices.first(where: { !scores[$0].isFinite }) {
            throw MetricError("the score of feature \(u) is not finite")
        }
        for (u, feature) in features.enumerated() {
            guard !feature.isEmpty, feature.allSatisfy({ $0 >= 0 && $0 < n }) else {
                throw MetricError("feature \(u) is empty or names an input the network lacks")
            }
        }
        switch baseline {
        case .constant(let v):
            guard v.isFinite else { throw MetricError("the baseline value is not finite") }
        case .input(let values):
            guard values.count == n, values.allSatisfy(\.isFinite) else {
                throw MetricError("the baseline must be \(n) finite numbers; got \(values.count)")
            }
        }
        return evaluator
    }
}

/// The mean and standard error of a list of metric values, for tables.
///
/// `standardError` is the sample standard deviation (with `n − 1`) divided by `√n`. With no
/// values the mean is NaN; with fewer than two the standard error is NaN (a spread cannot be
/// estimated from one value). NaN values are not skipped: they make both numbers NaN.
public struct MetricSummary: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var mean: Double
    public var standardError: Double

    public init<Values: Collection>(_ values: Values) where Values.Element == Double {
        count = values.count
        let n = Double(count)
        mean = count == 0 ? .nan : values.reduce(0, +) / n
        if count < 2 {
            standardError = .nan
        } else {
            let m = mean
            let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
            standardError = (variance / n).squareRoot()
        }
    }

    /// `mean ± standardError` with four decimals.
    public var description: String { String(format: "%.4f ± %.4f", mean, standardError) }
}
