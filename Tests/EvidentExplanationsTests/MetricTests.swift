import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Faithfulness metrics: orderings that must win, curve endpoints, closed forms on affine networks.
@Suite("Faithfulness metrics")
struct MetricTests {
    static func network(_ graph: Graph) -> Network {
        Network(graph: graph, source: "test", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// The affine network `y = W x + b` on a flat input of `inputs` numbers (`W` row-major, one row per class).
    static func affine(weight: [Double], bias: [Double], inputs: Int) throws -> Network {
        var b = GraphBuilder(inputName: "x", inputShape: [1, inputs])
        let y = try b.add(.linear(Linear(weight: Tensor(shape: [bias.count, inputs], scalars: weight),
                                         bias: Tensor(shape: [bias.count], scalars: bias))),
                          inputs: [b.inputValue], name: "fc")
        return network(try b.build(output: y))
    }

    static func outputs(_ network: Network, _ x: [Double]) throws -> [Double] {
        try Evaluator(graph: network.graph).evaluate(x)
    }

    static func softmax(_ y: [Double], _ t: Int) -> Double {
        let top = y.max()!
        return exp(y[t] - top) / y.reduce(0) { $0 + exp($1 - top) }
    }

    static func argmax(_ y: [Double]) -> Int { y.indices.max { y[$0] < y[$1] }! }

    /// On a two-class affine network the target's probability is `σ(margin)` and removing the
    /// feature set `S` lowers the margin by `Σ_{u∈S} c_u`, with `c_u = Σ_{i∈u} (w_ti − w_oi)(x_i − b)`.
    /// Ranking by `c` removes the largest drops first, so its deletion curve lies below that of
    /// every other ordering at every step, and its insertion curve above.
    @Test("two-class affine: exact contributions beat every other ordering, pointwise", arguments: [1, 2, 3] as [UInt64])
    func exactContributionsWin(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let n = 32, shape = ImageShape(channels: 2, height: 4, width: 4)
        let w = rng.uniforms(2 * n), bias = rng.uniforms(2)
        let network = try Self.affine(weight: w, bias: bias, inputs: n)
        let x = rng.uniforms(n, 0...1), b = 0.25
        let t = Self.argmax(try Self.outputs(network, x)), o = 1 - t
        let features = try FeatureMap(.pixels, shape: shape, image: x).inputIndices
        let exact = features.map { u in u.reduce(0.0) { $0 + (w[t * n + $1] - w[o * n + $1]) * (x[$1] - b) } }
        var others = [exact.map { -$0 }]
        for _ in 0..<6 { others.append(rng.uniforms(features.count)) }
        for steps in [nil, 5, 16] as [Int?] {
            func run(_ scores: [Double]) throws -> (deletion: (auc: Double, curve: [Double]), insertion: (auc: Double, curve: [Double])) {
                (try FaithfulnessMetrics.deletion(network: network, input: x, target: t, scores: scores, features: features,
                                                  baseline: .constant(b), steps: steps),
                 try FaithfulnessMetrics.insertion(network: network, input: x, target: t, scores: scores, features: features,
                                                   baseline: .constant(b), steps: steps))
            }
            let best = try run(exact)
            for (k, scores) in others.enumerated() {
                let other = try run(scores)
                #expect(best.deletion.auc <= other.deletion.auc + 1e-12, "seed \(seed), steps \(String(describing: steps)), ordering \(k)")
                #expect(best.insertion.auc >= other.insertion.auc - 1e-12, "seed \(seed), steps \(String(describing: steps)), ordering \(k)")
                for (p, q) in zip(best.deletion.curve, other.deletion.curve) { #expect(p <= q + 1e-12) }
                for (p, q) in zip(best.insertion.curve, other.insertion.curve) { #expect(p >= q - 1e-12) }
                if k == 0 {
                    #expect(best.deletion.auc < other.deletion.auc - 1e-6, "reversed ordering, seed \(seed)")
                    #expect(best.insertion.auc > other.insertion.auc + 1e-6, "reversed ordering, seed \(seed)")
                }
            }
        }
    }

    /// Three classes, one feature carrying almost all of the target's logit: ranking it first
    /// beats the reversed ranking in both deletion and insertion.
    @Test("a dominant feature ranked first: lower deletion, higher insertion than reversed")
    func dominantFeature() throws {
        var rng = SeededGenerator(seed: 21)
        let n = 12, t = 1
        var w = rng.uniforms(3 * n, -0.2...0.2)
        w[t * n + 0] = 6
        let network = try Self.affine(weight: w, bias: [0, 0, 0], inputs: n)
        let x = rng.uniforms(n, 0.5...1)
        #expect(Self.argmax(try Self.outputs(network, x)) == t)
        let features = (0..<n).map { [$0] }
        var ranked = rng.uniforms(n, 0...0.5)
        ranked[0] = 1
        let reversed = ranked.map { -$0 }
        let d1 = try FaithfulnessMetrics.deletion(network: network, input: x, target: t, scores: ranked, features: features)
        let d2 = try FaithfulnessMetrics.deletion(network: network, input: x, target: t, scores: reversed, features: features)
        let i1 = try FaithfulnessMetrics.insertion(network: network, input: x, target: t, scores: ranked, features: features)
        let i2 = try FaithfulnessMetrics.insertion(network: network, input: x, target: t, scores: reversed, features: features)
        #expect(d1.auc < d2.auc - 0.1, "\(d1.auc) vs \(d2.auc)")
        #expect(i1.auc > i2.auc + 0.1, "\(i1.auc) vs \(i2.auc)")
    }

    /// Deletion runs from the input to the baseline, insertion from the baseline to the input,
    /// in `min(d, 32) + 1` points by default, for constant and per-input baselines.
    @Test("curves start and end at the input and the baseline", arguments: [16, 64])
    func curveEndpoints(side: Int) throws {
        let shape = side == 16 ? ImageShape(channels: 1, height: 4, width: 4) : ImageShape(channels: 1, height: 8, width: 8)
        let n = shape.count
        let network = Self.network(try RandomNetworks.dense(seed: 7, inputs: n, hidden: [16], outputs: 3))
        var rng = SeededGenerator(seed: 9)
        let x = rng.uniforms(n, 0...1)
        let features = try FeatureMap(.pixels, shape: shape, image: x).inputIndices
        let scores = rng.uniforms(features.count)
        let t = Self.argmax(try Self.outputs(network, x))
        for baseline in [FaithfulnessMetrics.Baseline.constant(0), .constant(0.5), .input(rng.uniforms(n, 0...1))] {
            let b: [Double]
            switch baseline {
            case .constant(let v): b = [Double](repeating: v, count: n)
            case .input(let values): b = values
            }
            let yx = try Self.outputs(network, x), yb = try Self.outputs(network, b)
            for output in FaithfulnessMetrics.OutputQuantity.allCases {
                let atX = output == .probability ? Self.softmax(yx, t) : yx[t]
                let atB = output == .probability ? Self.softmax(yb, t) : yb[t]
                let deletion = try FaithfulnessMetrics.deletion(network: network, input: x, target: t, scores: scores,
                                                                features: features, baseline: baseline, output: output)
                let insertion = try FaithfulnessMetrics.insertion(network: network, input: x, target: t, scores: scores,
                                                                  features: features, baseline: baseline, output: output)
                #expect(deletion.curve.count == min(features.count, 32) + 1)
                #expect(insertion.curve.count == deletion.curve.count)
                #expect(abs(deletion.curve.first! - atX) <= 1e-12)
                #expect(abs(deletion.curve.last! - atB) <= 1e-12)
                #expect(abs(insertion.curve.first! - atB) <= 1e-12)
                #expect(abs(insertion.curve.last! - atX) <= 1e-12)
            }
        }
        // Removing one feature at a time: point 1 is the input with the top feature at the baseline.
        let top = scores.indices.max { scores[$0] < scores[$1] }!
        var once = x
        for i in features[top] { once[i] = 0 }
        let all = try FaithfulnessMetrics.deletion(network: network, input: x, target: t, scores: scores, features: features,
                                                   steps: features.count)
        #expect(abs(all.curve[1] - Self.softmax(try Self.outputs(network, once), t)) <= 1e-12)
    }

    /// A network with zero weights has a constant curve; its AUC is the constant, also when the
    /// chunks are unequal. With equal chunks the AUC is the trapezoid rule at spacing `1/steps`.
    @Test("the AUC of a constant curve is the constant; equal chunks follow the trapezoid rule")
    func areaUnderCurve() throws {
        let n = 10
        let constant = try Self.affine(weight: [Double](repeating: 0, count: 3 * n), bias: [0.3, -0.2, 1.0], inputs: n)
        let p = Self.softmax([0.3, -0.2, 1.0], 0)
        var rng = SeededGenerator(seed: 4)
        let x = rng.uniforms(n, 0...1), features = (0..<n).map { [$0] }, scores = rng.uniforms(n)
        for steps in [1, 3, 4, 7, 10] {
            let deletion = try FaithfulnessMetrics.deletion(network: constant, input: x, target: 0, scores: scores,
                                                            features: features, steps: steps)
            let insertion = try FaithfulnessMetrics.insertion(network: constant, input: x, target: 0, scores: scores,
                                                              features: features, steps: steps)
            #expect(abs(deletion.auc - p) <= 1e-14, "steps \(steps): \(deletion.auc) vs \(p)")
            #expect(abs(insertion.auc - p) <= 1e-14, "steps \(steps)")
        }
        let network = Self.network(try RandomNetworks.dense(seed: 3, inputs: 16, hidden: [8], outputs: 3))
        let y = rng.uniforms(16, 0...1)
        let features16 = (0..<16).map { [$0] }, scores16 = rng.uniforms(16)
        for steps in [2, 8, 16] {
            let deletion = try FaithfulnessMetrics.deletion(network: network, input: y, target: 2, scores: scores16,
                                                            features: features16, steps: steps)
            let c = deletion.curve
            var sum = 0.0
            for k in 0..<steps { sum += (c[k] + c[k + 1]) / 2 }
            let trapezoid = sum / Double(steps)
            #expect(abs(deletion.auc - trapezoid) <= 1e-14)
        }
    }

    /// On an affine network the logit drop when `S` is set to the baseline is exactly
    /// `Σ_{u∈S} Σ_{i∈u} w_ti (x_i − b_i)`: those scores have μ-fidelity 1 on the logit, their
    /// negation −1, and unrelated scores less than 1.
    @Test("μ-fidelity: the additive scores of an affine logit correlate perfectly", arguments: [1, 2, 3] as [UInt64])
    func muFidelityAffine(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let n = 32, classes = 4, shape = ImageShape(channels: 2, height: 4, width: 4)
        let w = rng.uniforms(classes * n)
        let network = try Self.affine(weight: w, bias: rng.uniforms(classes), inputs: n)
        let x = rng.uniforms(n, 0...1)
        let t = Int(seed) % classes
        let features = try FeatureMap(.pixels, shape: shape, image: x).inputIndices
        for b in [[Double](repeating: 0.3, count: n), rng.uniforms(n, 0...1)] {
            let baseline = FaithfulnessMetrics.Baseline.input(b)
            let exact = features.map { u in u.reduce(0.0) { $0 + w[t * n + $1] * (x[$1] - b[$1]) } }
            func mu(_ scores: [Double], seed: UInt64 = 1, output: FaithfulnessMetrics.OutputQuantity = .logit) throws -> Double {
                try FaithfulnessMetrics.muFidelity(network: network, input: x, target: t, scores: scores, features: features,
                                                   samples: 64, baseline: baseline, seed: seed, output: output)
            }
            #expect(abs(try mu(exact) - 1) <= 1e-9)
            #expect(abs(try mu(exact.map { 3 * $0 + 2 }) - 1) <= 1e-9, "invariant under increasing affine maps")
            #expect(abs(try mu(exact.map { -$0 }) + 1) <= 1e-9)
            #expect(try mu(rng.uniforms(features.count)) < 0.99)
            #expect(try mu(exact, seed: 5) == (try mu(exact, seed: 5)), "deterministic given the seed")
            let probability = try mu(exact, output: .probability)
            #expect(probability >= -1 && probability <= 1)
        }
        let same = try FaithfulnessMetrics.muFidelity(network: network, input: x, target: t, scores: rng.uniforms(features.count),
                                                      features: features, subsetSize: features.count, samples: 4)
        #expect(same.isNaN, "every subset is the whole set: the correlation is undefined")
    }

    /// Two classes, `y_o − y_t = Δ·x + β` with `Δ = w_o − w_t`: when only the inputs of `A` move
    /// by at most `ε`, the largest margin gain is `ε Σ_{i∈A} |Δ_i|`, so the minimal adversarial
    /// radius is `(y_t − y_o) / Σ_{i∈A} |Δ_i|` (clipped inputs: the ε where
    /// `Σ_{i∈A} |Δ_i| min(ε, room_i)` reaches the margin).
    @Test("Robustness-S_r: the closed form of a linear two-class network", arguments: [1, 2, 3, 4] as [UInt64])
    func robustnessClosedForm(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let n = 10
        let w = rng.uniforms(2 * n), bias = rng.uniforms(2, -0.2...0.2)
        let network = try Self.affine(weight: w, bias: bias, inputs: n)
        let x = rng.uniforms(n, 0.2...0.8)
        let y = try Self.outputs(network, x)
        let t = Self.argmax(y), o = 1 - t
        let margin = y[t] - y[o]
        let delta = (0..<n).map { w[o * n + $0] - w[t * n + $0] }
        let features = (0..<n).map { [$0] }
        let high = delta.map { abs($0) }, low = high.map { -$0 }
        let tolerance = 1e-4
        func exact(_ allowed: [Int]) -> Double { margin / allowed.reduce(0.0) { $0 + abs(delta[$1]) } }
        let byWeight = (0..<n).sorted { high[$0] > high[$1] }
        let rHigh = exact(Array(byWeight.prefix(3))), rLow = exact(Array(byWeight.suffix(3)))
        let rRest = exact(Array(byWeight.dropFirst(3)))
        let maxRadius = 2 * rLow + 1
        func sr(_ scores: [Double], set: FaithfulnessMetrics.FeatureSet = .relevant, maxRadius: Double = maxRadius,
                range: ClosedRange<Double>? = nil) throws -> Double {
            try FaithfulnessMetrics.robustnessSr(network: network, input: x, target: t, scores: scores, features: features,
                                                 fraction: 0.3, maxRadius: maxRadius, tolerance: tolerance,
                                                 settings: AttackSettings(restarts: 4, steps: 40), validRange: range, set: set)
        }
        let found = try sr(high), foundLow = try sr(low), foundRest = try sr(high, set: .irrelevant)
        for (value, closed) in [(found, rHigh), (foundLow, rLow), (foundRest, rRest)] {
            #expect(value >= closed - 1e-12 && value <= closed + tolerance + 1e-12, "seed \(seed): \(value) vs \(closed)")
        }
        #expect(found < foundLow, "the high-weight features are the fragile ones")
        #expect(try sr(high) == found, "deterministic")
        // Beyond the largest radius: the largest radius is returned.
        #expect(try sr(low, maxRadius: rLow / 2) == rLow / 2)
        // Misclassified input: radius 0.
        #expect(try FaithfulnessMetrics.robustnessSr(network: network, input: x, target: o, scores: high, features: features,
                                                     maxRadius: 1) == 0)
        // Inputs clipped to [0, 1]: each allowed input can move only as far as its bound in the
        // direction that helps class o.
        let allowed = Array(byWeight.prefix(3))
        func gain(_ epsilon: Double) -> Double {
            allowed.reduce(0.0) { sum, i in sum + abs(delta[i]) * min(epsilon, delta[i] > 0 ? 1 - x[i] : x[i]) }
        }
        let clipped = try sr(high, maxRadius: 1, range: 0...1)
        if gain(1) < margin {
            #expect(clipped == 1, "no adversarial example inside [0, 1]")
        } else {
            var (lo, hi) = (0.0, 1.0)
            for _ in 0..<80 { let mid = (lo + hi) / 2; if gain(mid) >= margin { hi = mid } else { lo = mid } }
            #expect(clipped >= lo - 1e-12 && clipped <= hi + tolerance + 1e-12, "seed \(seed): \(clipped) vs \(hi)")
        }
        #expect(clipped >= found - tolerance - 1e-12, "clipping can only make the attack harder (up to the tolerance)")
    }

    /// On a ReLU network the search is deterministic and ends in `(0, maxRadius]`.
    @Test("Robustness-S_r on a ReLU network: deterministic, within range")
    func robustnessRelu() throws {
        let network = Self.network(try RandomNetworks.dense(seed: 12, inputs: 16, hidden: [12, 12], outputs: 3))
        var rng = SeededGenerator(seed: 13)
        let x = rng.uniforms(16, 0...1), features = (0..<16).map { [$0] }, scores = rng.uniforms(16)
        let t = Self.argmax(try Self.outputs(network, x))
        let run = { try FaithfulnessMetrics.robustnessSr(network: network, input: x, target: t, scores: scores, features: features,
                                                         fraction: 0.5, maxRadius: 2, tolerance: 1e-3,
                                                         settings: AttackSettings(restarts: 8, steps: 30, seed: 77)) }
        let r = try run()
        #expect(r > 0 && r <= 2)
        #expect(try run() == r)
    }

    @Test("the summary: mean and standard error")
    func summary() {
        let s = MetricSummary([1, 2, 3, 4])
        #expect(s.count == 4)
        #expect(abs(s.mean - 2.5) <= 1e-15)
        #expect(abs(s.standardError - (5.0 / 3).squareRoot() / 2) <= 1e-15)
        #expect(MetricSummary([7]).mean == 7 && MetricSummary([7]).standardError.isNaN)
        #expect(MetricSummary([Double]()).mean.isNaN)
        #expect(MetricSummary([2, 2, 2]).standardError == 0)
    }

    @Test("inconsistent arguments are refused with a message")
    func refusals() throws {
        let network = try Self.affine(weight: [Double](repeating: 1, count: 8), bias: [0, 0], inputs: 4)
        let x = [0.1, 0.2, 0.3, 0.4], features = [[0, 1], [2, 3]]
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.deletion(network: network, input: x, target: 0, scores: [1], features: features)
        }
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.deletion(network: network, input: x, target: 0, scores: [1, 2], features: features, steps: 3)
        }
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.insertion(network: network, input: x, target: 2, scores: [1, 2], features: features)
        }
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.muFidelity(network: network, input: x, target: 0, scores: [1, 2], features: [[0, 4], [1]])
        }
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.robustnessSr(network: network, input: x, target: 0, scores: [1, .nan], features: features,
                                                 maxRadius: 1)
        }
        #expect(throws: MetricError.self) {
            try FaithfulnessMetrics.robustnessSr(network: network, input: x, target: 0, scores: [1, 2], features: features,
                                                 maxRadius: 1, validRange: 0.2...1)
        }
    }
}
