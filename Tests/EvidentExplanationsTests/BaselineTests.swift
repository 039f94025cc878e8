import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Baseline explainers: closed forms on affine networks, completeness of integrated
/// gradients, finite differences, seeded determinism, RISE and Sobol on known functions,
/// the Sobol' sequence's stratification, and argument errors.
@Suite("Baseline explainers")
struct BaselineTests {
    static func network(_ graph: Graph) -> Network {
        Network(graph: graph, source: "test", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// `y = W x + b` on an image of `shape` (`W` row-major, classes × inputs).
    static func affine(shape: ImageShape, weights: [Double], bias: [Double]) throws -> Graph {
        let n = shape.count, m = bias.count
        var b = GraphBuilder(inputName: "x", inputShape: [1, shape.channels, shape.height, shape.width])
        let flat = try b.add(.reshape([1, n]), inputs: [b.inputValue], name: "flat")
        let y = try b.add(.linear(Linear(weight: Tensor(shape: [m, n], scalars: weights), bias: Tensor(shape: [m], scalars: bias))),
                          inputs: [flat], name: "fc")
        return try b.build(output: y)
    }

    static func shape(of graph: Graph) -> ImageShape { ImageShape(inputShape: graph.values[graph.input].shape) }

    static func logit(_ graph: Graph, _ x: [Double], _ target: Int) throws -> Double {
        try Evaluator(graph: graph).evaluate(x)[target]
    }

    /// The per-channel mean of `x`, the default baseline, computed independently.
    static func channelMean(_ x: [Double], _ shape: ImageShape) -> [Double] {
        (0..<x.count).map { i in
            let c = i / shape.plane
            return x[(c * shape.plane)..<((c + 1) * shape.plane)].reduce(0, +) / Double(shape.plane)
        }
    }

    static let gradientKinds: [ExplainerKind] = [.saliency, .gradxinput, .integratedGradients, .smoothgrad, .occlusion]

    /// On `y = W x + b` the gradient is the row `w_t` everywhere, so: saliency `Σ_{i∈u} |w_ti|`
    /// (SmoothGrad too, whatever the noise), gradient × input `Σ x_i w_ti`, integrated
    /// gradients and occlusion `Σ w_ti (x_i − x0_i)`; and IG is complete exactly.
    @Test("affine networks: closed forms", arguments: [nil, 0.3] as [Double?], [FeatureKind.grid(2), .pixels])
    func affineClosedForms(baseline: Double?, kind: FeatureKind) throws {
        let shape = ImageShape(channels: 2, height: 4, width: 4)
        for seed: UInt64 in [1, 2, 3] {
            var rng = SeededGenerator(seed: seed)
            let w = rng.uniforms(4 * 32), bias = rng.uniforms(4)
            let graph = try Self.affine(shape: shape, weights: w, bias: bias)
            let x = rng.uniforms(32, 0...1)
            let x0 = baseline.map { [Double](repeating: $0, count: 32) } ?? Self.channelMean(x, shape)
            #expect(Baselines.referenceInput(x, shape: shape, baseline: baseline) == x0)
            let features = try FeatureMap(kind, shape: shape, image: x)
            let settings = BaselineSettings(steps: 5, samples: 9, noise: 0.3, baseline: baseline, seed: seed)
            for target in [0, 3] {
                let wt = Array(w[(target * 32)..<((target + 1) * 32)])
                var scores = [ExplainerKind: [Double]]()
                for k in Self.gradientKinds {
                    scores[k] = try Baselines.explain(k, network: Self.network(graph), input: x, target: target,
                                                      features: features, settings: settings)
                    #expect(scores[k]!.count == features.count)
                }
                for (u, indices) in features.inputIndices.enumerated() {
                    let closed: [ExplainerKind: Double] = [
                        .saliency: indices.reduce(0) { $0 + abs(wt[$1]) },
                        .smoothgrad: indices.reduce(0) { $0 + abs(wt[$1]) },
                        .gradxinput: indices.reduce(0) { $0 + x[$1] * wt[$1] },
                        .integratedGradients: indices.reduce(0) { $0 + wt[$1] * (x[$1] - x0[$1]) },
                        .occlusion: indices.reduce(0) { $0 + wt[$1] * (x[$1] - x0[$1]) },
                    ]
                    for (k, value) in closed {
                        #expect(abs(scores[k]![u] - value) <= 1e-9, "seed \(seed), \(k), feature \(u): \(scores[k]![u]) vs \(value)")
                    }
                }
                let gap = try Self.logit(graph, x, target) - Self.logit(graph, x0, target)
                let total = scores[.integratedGradients]!.reduce(0, +)
                #expect(abs(total - gap) <= 1e-9, "seed \(seed): Σ IG = \(total), f(x) − f(x0) = \(gap)")
            }
        }
    }

    /// On a piecewise-linear network `g(α) = ∇f_t(x0 + α(x − x0)) · (x − x0)` is piecewise
    /// constant, and the midpoint rule with `S` points misses `∫g = f_t(x) − f_t(x0)` by at most
    /// `TV(g)/S`. TV is estimated from 4096 points of the path (it can only be underestimated,
    /// hence the margin of 1.5).
    @Test("integrated gradients: completeness within TV/steps on ReLU networks", arguments: [0, 1])
    func integratedGradientsCompleteness(network: Int) throws {
        let graph = network == 0 ? try RandomNetworks.residual(seed: 5, channels: 2, size: 6, outputs: 3)
                                 : try RandomNetworks.dense(seed: 3, inputs: 12, hidden: [16, 16], outputs: 3)
        let shape = Self.shape(of: graph)
        var rng = SeededGenerator(seed: 21)
        let x = rng.uniforms(shape.count, 0...1)
        let features = try FeatureMap(shape.height > 1 ? .grid(3) : .pixels, shape: shape, image: x)
        let x0 = Self.channelMean(x, shape)
        let evaluator = Evaluator(graph: graph)
        for target in 0..<3 {
            let gap = try Self.logit(graph, x, target) - Self.logit(graph, x0, target)
            var c = [0.0, 0, 0]
            c[target] = 1
            let m = 4096
            var path = [Double]()
            for j in 0..<m {
                let alpha = (Double(j) + 0.5) / Double(m)
                path += (0..<x.count).map { x0[$0] + alpha * (x[$0] - x0[$0]) }
            }
            let g = try evaluator.gradient(of: c, at: path, batch: m).gradients
            let along = (0..<m).map { j in (0..<x.count).reduce(0.0) { $0 + g[j * x.count + $1] * (x[$1] - x0[$1]) } }
            let tv = zip(along.dropFirst(), along).reduce(0.0) { $0 + abs($1.0 - $1.1) }
            #expect(tv > 0, "target \(target): the path crosses no ReLU kink, the test would be trivial")
            for steps in [4, 16, 64, 256] {
                let scores = try Baselines.explain(.integratedGradients, network: Self.network(graph), input: x, target: target,
                                                   features: features, settings: BaselineSettings(steps: steps))
                let error = abs(scores.reduce(0, +) - gap)
                #expect(error <= 1.5 * tv / Double(steps) + 1e-9,
                        "target \(target), \(steps) steps: error \(error), TV/steps \(tv / Double(steps))")
            }
        }
    }

    /// Saliency and gradient × input against central differences of the network itself
    /// (all `2n` perturbed inputs in one call); elements whose one-sided differences disagree
    /// sit on a ReLU kink and are left out (at most two may).
    @Test("saliency and gradient × input match finite differences on ReLU networks", arguments: [0, 1])
    func finiteDifferences(network: Int) throws {
        let graph = network == 0 ? try RandomNetworks.residual(seed: 9, channels: 2, size: 6, outputs: 3)
                                 : try RandomNetworks.dense(seed: 4, inputs: 10, hidden: [12, 12], outputs: 3)
        let shape = Self.shape(of: graph), n = shape.count
        var rng = SeededGenerator(seed: 13)
        let x = rng.uniforms(n, 0...1)
        let features = try FeatureMap(.pixels, shape: shape, image: x)
        let h = 1e-5
        var points = x
        for i in 0..<n {
            for sign in [1.0, -1.0] {
                var p = x
                p[i] += sign * h
                points += p
            }
        }
        let y = try Evaluator(graph: graph).evaluate(points, batch: 2 * n + 1)
        for target in 0..<3 {
            let f = y[target]
            var derivative = [Double](repeating: 0, count: n), kinks = Set<Int>()
            for i in 0..<n {
                let (up, down) = (y[(1 + 2 * i) * 3 + target], y[(2 + 2 * i) * 3 + target])
                if abs((up - f) / h - (f - down) / h) > 1e-5 { kinks.insert(i) }
                derivative[i] = (up - down) / (2 * h)
            }
            #expect(kinks.count <= 2)
            let saliency = try Baselines.explain(.saliency, network: Self.network(graph), input: x, target: target, features: features)
            let gradx = try Baselines.explain(.gradxinput, network: Self.network(graph), input: x, target: target, features: features)
            for (u, indices) in features.inputIndices.enumerated() where kinks.isDisjoint(with: indices) {
                let s = indices.reduce(0) { $0 + abs(derivative[$1]) }, gx = indices.reduce(0) { $0 + x[$1] * derivative[$1] }
                #expect(abs(saliency[u] - s) <= 1e-6, "target \(target), feature \(u): \(saliency[u]) vs \(s)")
                #expect(abs(gradx[u] - gx) <= 1e-6, "target \(target), feature \(u): \(gradx[u]) vs \(gx)")
            }
            #expect(saliency.contains { $0 > 1e-3 }, "the gradient vanishes: the test would be trivial")
        }
    }

    /// The sampling methods are functions of their seed: the same seed gives the same scores
    /// (whatever the batch size, up to BLAS rounding), another seed other scores; SmoothGrad
    /// without noise is saliency.
    @Test("seeded methods are deterministic", arguments: [ExplainerKind.smoothgrad, .rise, .sobol])
    func determinism(kind: ExplainerKind) throws {
        let graph = try RandomNetworks.residual(seed: 7, channels: 2, size: 6, outputs: 3)
        let network = Self.network(graph)
        var rng = SeededGenerator(seed: 17)
        let x = rng.uniforms(72, 0...1)
        let features = try FeatureMap(.grid(3), shape: Self.shape(of: graph), image: x)
        func scores(seed: UInt64, batch: Int = 64) throws -> [Double] {
            try Baselines.explain(kind, network: network, input: x, target: 1, features: features,
                                  settings: BaselineSettings(samples: 40, seed: seed, batchSize: batch))
        }
        let first = try scores(seed: 5)
        let again = try scores(seed: 5)
        #expect(first == again)
        let rebatched = try scores(seed: 5, batch: 7)
        #expect(zip(first, rebatched).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($0)) }, "\(first) vs \(rebatched)")
        let other = try scores(seed: 6)
        #expect(zip(first, other).contains { abs($0 - $1) > 1e-6 }, "seeds 5 and 6 give the same scores")
        #expect(first.allSatisfy { $0.isFinite })
        if kind == .smoothgrad {
            let quiet = try Baselines.explain(.smoothgrad, network: network, input: x, target: 1, features: features,
                                              settings: BaselineSettings(samples: 3, noise: 0))
            let saliency = try Baselines.explain(.saliency, network: network, input: x, target: 1, features: features)
            #expect(zip(quiet, saliency).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
        }
    }

    /// An affine network whose target row is concentrated on one feature (weights
    /// `sign(x_i − x0_i)` there, at most 0.02 elsewhere): every perturbation method must rank
    /// that feature first.
    @Test("RISE, Sobol and occlusion rank the dominant feature first")
    func dominantFeature() throws {
        let shape = ImageShape(channels: 2, height: 8, width: 8), n = shape.count
        for seed: UInt64 in [1, 2, 3] {
            var rng = SeededGenerator(seed: seed)
            let x = rng.uniforms(n, 0...1), x0 = Self.channelMean(x, shape)
            let features = try FeatureMap(.grid(4), shape: shape, image: x)
            let dominant = Int(seed * 5) % features.count, target = 1
            var w = rng.uniforms(3 * n, -0.02...0.02)
            for i in features.inputIndices[dominant] { w[target * n + i] = x[i] > x0[i] ? 1 : -1 }
            let graph = try Self.affine(shape: shape, weights: w, bias: [0.1, -0.2, 0.05])
            for kind in [ExplainerKind.rise, .sobol, .occlusion] {
                let scores = try Baselines.explain(kind, network: Self.network(graph), input: x, target: target, features: features,
                                                   settings: BaselineSettings(seed: seed))
                let best = scores.indices.max { scores[$0] < scores[$1] }!
                #expect(best == dominant, "seed \(seed), \(kind): feature \(best) first, not \(dominant): \(scores)")
            }
        }
    }

    /// On an affine network the masked logit is additive, `f = c0 + Σ_u c_u m_u` with
    /// `c_u = Σ_{i∈u} w_ti (x_i − x0_i)`, and the exact total index is `c_u² / Σ_v c_v²`. The
    /// weights are made so that `c_u` takes chosen values; with the default 32 designs the
    /// ranking follows `|c_u|`, with 1024 every index is within 10 % of the exact one.
    @Test("Sobol total indices of an additive function", arguments: [FeatureKind.grid(2), .grid(3)])
    func sobolAdditive(kind: FeatureKind) throws {
        let shape = ImageShape(channels: 2, height: 6, width: 6), n = shape.count
        var rng = SeededGenerator(seed: 31)
        let x = rng.uniforms(n, 0...1), x0 = Self.channelMean(x, shape)
        let features = try FeatureMap(kind, shape: shape, image: x)
        let d = features.count
        // Chosen contributions: distinct magnitudes (ratio ≥ 1.3 between neighbours), mixed signs.
        let order = (0..<d).shuffled(using: &rng)
        let contributions = (0..<d).map { u in (u % 2 == 0 ? 1.0 : -1.0) * Foundation.pow(1.3, Double(order[u])) / 4 }
        var w = rng.uniforms(2 * n)
        for (u, indices) in features.inputIndices.enumerated() {
            let spread = indices.reduce(0) { $0 + abs(x[$1] - x0[$1]) }
            for i in indices { w[n + i] = (x[i] > x0[i] ? 1 : -1) * contributions[u] / spread }
        }
        let graph = try Self.affine(shape: shape, weights: w, bias: [0.3, 0.7])
        let total = contributions.reduce(0) { $0 + $1 * $1 }
        let exact = contributions.map { $0 * $0 / total }

        let coarse = try Baselines.explain(.sobol, network: Self.network(graph), input: x, target: 1, features: features,
                                           settings: BaselineSettings(seed: 3))
        #expect(coarse.count == d)
        let ranked = coarse.indices.sorted { coarse[$0] > coarse[$1] }, truth = exact.indices.sorted { exact[$0] > exact[$1] }
        #expect(ranked == truth, "\(coarse) vs \(exact)")

        let fine = try Baselines.explain(.sobol, network: Self.network(graph), input: x, target: 1, features: features,
                                         settings: BaselineSettings(samples: 1024, seed: 3))
        for u in 0..<d {
            #expect(abs(fine[u] - exact[u]) <= 0.1 * exact[u], "feature \(u): \(fine[u]) vs \(exact[u])")
        }
        #expect(abs(fine.reduce(0, +) - 1) <= 0.1, "the total indices of an additive function sum to 1: \(fine.reduce(0, +))")
    }

    /// Every baseline method gives one finite score per feature, whatever the features.
    @Test("one score per feature", arguments: [FeatureKind.grid(3), .pixels, .superpixels(6)])
    func scoreCount(kind: FeatureKind) throws {
        let graph = try RandomNetworks.residual(seed: 2, channels: 2, size: 6, outputs: 3)
        var rng = SeededGenerator(seed: 5)
        let x = rng.uniforms(72, 0...1)
        let features = try FeatureMap(kind, shape: Self.shape(of: graph), image: x)
        for explainer in ExplainerKind.allCases where explainer != .eva {
            let scores = try Baselines.explain(explainer, network: Self.network(graph), input: x, target: 2, features: features,
                                               settings: BaselineSettings(steps: 8, samples: 16))
            #expect(scores.count == features.count, "\(explainer)")
            #expect(scores.allSatisfy { $0.isFinite }, "\(explainer)")
        }
    }

    /// Bad arguments are errors that say what is wrong, never crashes.
    @Test("bad arguments throw BaselineError")
    func errors() throws {
        let graph = try RandomNetworks.residual(seed: 2, channels: 2, size: 6, outputs: 3)
        let network = Self.network(graph)
        let x = [Double](repeating: 0.5, count: 72)
        let features = try FeatureMap(.grid(3), shape: Self.shape(of: graph), image: x)
        #expect(throws: BaselineError.targetOutOfRange(target: 3, outputs: 3)) {
            try Baselines.explain(.saliency, network: network, input: x, target: 3, features: features)
        }
        #expect(throws: BaselineError.targetOutOfRange(target: -1, outputs: 3)) {
            try Baselines.explain(.occlusion, network: network, input: x, target: -1, features: features)
        }
        #expect(throws: BaselineError.inputSize(expected: 72, got: 71)) {
            try Baselines.explain(.rise, network: network, input: Array(x.dropLast()), target: 0, features: features)
        }
        let small = try FeatureMap(.grid(2), shape: ImageShape(channels: 2, height: 4, width: 4), image: Array(x.prefix(32)))
        #expect(throws: BaselineError.featureShape(featureInputs: 32, networkInputs: 72)) {
            try Baselines.explain(.sobol, network: network, input: x, target: 0, features: small)
        }
        var bad = x
        bad[10] = .nan
        #expect(throws: BaselineError.nonFiniteInput(index: 10)) {
            try Baselines.explain(.gradxinput, network: network, input: bad, target: 0, features: features)
        }
        #expect(throws: BaselineError.notABaseline(.eva)) {
            try Baselines.explain(.eva, network: network, input: x, target: 0, features: features)
        }
        for settings in [BaselineSettings(steps: 0), BaselineSettings(samples: 0), BaselineSettings(noise: -1),
                         BaselineSettings(baseline: .infinity), BaselineSettings(riseKeepProbability: 0),
                         BaselineSettings(batchSize: 0)] {
            #expect(throws: BaselineError.self) {
                try Baselines.explain(.integratedGradients, network: network, input: x, target: 0, features: features, settings: settings)
            }
        }
        #expect(BaselineError.targetOutOfRange(target: 3, outputs: 3).errorDescription?.contains("0..<3") == true)
        #expect(ExplainerKind(rawValue: "integrated-gradients") == .integratedGradients)
        #expect(ExplainerKind.allCases.map(\.rawValue)
                == ["saliency", "gradxinput", "integrated-gradients", "smoothgrad", "occlusion", "rise", "sobol", "eva"])
    }

    /// Known values of the unscrambled sequence (dimension 0 is van der Corput, dimension 1
    /// uses `x + 1`), one point per interval `[k/2^m, (k+1)/2^m)` in every one-dimensional
    /// projection of 2200 scrambled dimensions, and dimensions 0 and 1 forming a
    /// `(0, 6, 2)`-net (one point in every elementary interval of area 2⁻⁶).
    @Test("Sobol' sequence: known values and stratification")
    func sobolSequence() {
        let plain = SobolSequence(dimensions: 2, scrambleSeed: nil).points(8)
        #expect(stride(from: 0, to: 16, by: 2).map { plain[$0] } == [0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125])
        #expect(stride(from: 1, to: 16, by: 2).map { plain[$0] } == [0, 0.5, 0.25, 0.75, 0.375, 0.875, 0.125, 0.625])

        let s = 2200, count = 1024
        let points = SobolSequence(dimensions: s, scrambleSeed: 42).points(count)
        #expect(points.allSatisfy { $0 >= 0 && $0 < 1 })
        var unstratified = [Int]()
        for j in 0..<s {
            let cells = Set((0..<count).map { Int(points[$0 * s + j] * Double(count)) })
            if cells.count != count { unstratified.append(j) }
        }
        #expect(unstratified.isEmpty, "dimensions without one point per interval: \(unstratified.prefix(10))")

        for seed: UInt64? in [nil, 7] {
            let net = SobolSequence(dimensions: 2, scrambleSeed: seed).points(64)
            for k in 0...6 {
                let (rows, columns) = (Double(1 << k), Double(1 << (6 - k)))
                let cells = Set((0..<64).map { (i: Int) -> Int in
                    let (a, b) = (Int(net[2 * i] * rows), Int(net[2 * i + 1] * columns))
                    return a * 64 + b
                })
                #expect(cells.count == 64, "seed \(String(describing: seed)), boxes 2^-\(k) × 2^-\(6 - k)")
            }
        }
        #expect(SobolSequence(dimensions: 3, scrambleSeed: 1).points(4) != SobolSequence(dimensions: 3, scrambleSeed: 2).points(4))
    }
}
