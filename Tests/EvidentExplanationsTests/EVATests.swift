import Evident
import EvidentTestSupport
import Foundation
import Testing

/// EVA maps: closed forms on affine networks, sampled containment, certificates.
@Suite("EVA")
struct EVATests {
    static func network(_ graph: Graph) -> Network {
        Network(graph: graph, source: "test", format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// An affine network `y = W x + b` on a 2×4×4 image (32 inputs), 4 classes.
    static func affine(seed: UInt64) throws -> (Graph, [Double], [Double]) {
        var rng = SeededGenerator(seed: seed)
        var b = GraphBuilder(inputName: "x", inputShape: [1, 2, 4, 4])
        let flat = try b.add(.reshape([1, 32]), inputs: [b.inputValue], name: "flat")
        let w = rng.tensor([4, 32]), bias = rng.tensor([4])
        let y = try b.add(.linear(Linear(weight: w, bias: bias)), inputs: [flat], name: "fc")
        return (try b.build(output: y), w.scalars, bias.scalars)
    }

    static func box(_ x: [Double], _ epsilon: Double) -> (lower: [Double], upper: [Double]) {
        (x.map { $0 - epsilon }, x.map { $0 + epsilon })
    }

    /// On an affine network the margins are affine, CROWN is exact, and
    /// `ĀO(x, B_u) = max_j (w_j − w_c)·x + b_j − b_c + ε Σ_{i∉u} |w_ji − w_ci|`; when one class
    /// c* attains the maximum on every box, the score is `ε Σ_{i∈u} |w_c*i − w_ci|`.
    @Test("affine networks: scores equal the closed form", arguments: [EVAMode.full, .independent, .reuse], [BoundMethod.ibp, .crown, .alphaCrown])
    func affineClosedForm(mode: EVAMode, method: BoundMethod) throws {
        if mode == .reuse && method == .ibp { return }
        for seed: UInt64 in [1, 2, 3] {
            let (graph, w, bias) = try Self.affine(seed: seed)
            var rng = SeededGenerator(seed: seed + 100)
            let x = rng.uniforms(32, 0...1), epsilon = 0.05
            let (lower, upper) = Self.box(x, epsilon)
            let features = try FeatureMap(.grid(2), shape: ImageShape(channels: 2, height: 4, width: 4), image: x)
            let problem = EVAProblem(center: x, lower: lower, upper: upper, features: features.inputIndices)
            let result = try EVA.explain(network: Self.network(graph), problem: problem,
                                         settings: EVASettings(method: method, mode: mode, iterations: 3))
            #expect(result.certified, "\(result.checkReason ?? "")")
            var y = bias
            for j in 0..<4 { for i in 0..<32 { y[j] += w[j * 32 + i] * x[i] } }
            let c = y.indices.max { y[$0] < y[$1] }!
            #expect(result.predicted == c)
            func ao(fixed: Set<Int>) -> (value: Double, worst: Int) {
                var best = (-Double.infinity, -1)
                for j in 0..<4 where j != c {
                    var v = y[j] - y[c]
                    for i in 0..<32 where !fixed.contains(i) {
                        let d: Double = w[j * 32 + i] - w[c * 32 + i]
                        v += epsilon * abs(d)
                    }
                    if v > best.0 { best = (v, j) }
                }
                return best
            }
            let full = ao(fixed: [])
            #expect(abs(result.aoFull - full.value) <= 1e-9, "seed \(seed): \(result.aoFull) vs \(full.value)")
            for (u, indices) in features.inputIndices.enumerated() {
                let masked = ao(fixed: Set(indices))
                #expect(abs(result.aoMasked[u] - masked.value) <= 1e-9, "seed \(seed), feature \(u)")
                #expect(abs(result.scores[u] - (full.value - masked.value)) <= 1e-9)
                if masked.worst == full.worst {
                    var closed = 0.0
                    for i in indices { closed += epsilon * abs(w[full.worst * 32 + i] - w[c * 32 + i]) }
                    #expect(abs(result.scores[u] - closed) <= 1e-9, "seed \(seed), feature \(u): \(result.scores[u]) vs \(closed)")
                }
            }
        }
    }

    /// Sampled points of every `B_u` never exceed its certified bound, on a residual ReLU network,
    /// for every method and mode.
    @Test("sampled margins stay below every box's bound", arguments: [EVAMode.full, .independent, .reuse], [BoundMethod.ibp, .crown, .alphaCrown])
    func sampledContainment(mode: EVAMode, method: BoundMethod) throws {
        if mode == .reuse && method == .ibp { return }
        let graph = try RandomNetworks.residual(seed: 5, channels: 2, size: 6, outputs: 3)
        let network = Self.network(graph)
        var rng = SeededGenerator(seed: 11)
        let x = rng.uniforms(72, 0...1), epsilon = 0.08
        let (lower, upper) = Self.box(x, epsilon)
        let features = try FeatureMap(.grid(3), shape: ImageShape(channels: 2, height: 6, width: 6), image: x)
        let result = try EVA.explain(network: network, problem: EVAProblem(center: x, lower: lower, upper: upper,
                                                                            features: features.inputIndices),
                                     settings: EVASettings(method: method, mode: mode, iterations: 5))
        #expect(result.certified, "\(result.checkReason ?? "")")
        let evaluator = Evaluator(graph: graph)
        let c = result.predicted
        for box in 0...features.count {
            let fixed = box == 0 ? Set<Int>() : Set(features.inputIndices[box - 1])
            let samples = 400
            var points = [Double]()
            for _ in 0..<samples {
                for i in 0..<72 { points.append(fixed.contains(i) ? x[i] : (Bool.random(using: &rng) && box % 2 == 0
                    ? (Bool.random(using: &rng) ? lower[i] : upper[i]) : rng.uniform(lower[i]...upper[i]))) }
            }
            let y = try evaluator.evaluate(points, batch: samples)
            let bound = box == 0 ? result.aoFull : result.aoMasked[box - 1]
            for s in 0..<samples {
                let worst = (0..<3).filter { $0 != c }.map { y[s * 3 + $0] - y[s * 3 + c] }.max()!
                #expect(worst <= bound + 1e-12, "box \(box), sample \(s): \(worst) > \(bound)")
            }
        }
    }

    /// The certificate of a map is accepted by the checker, and rejected after one bound is
    /// lowered or the box is widened.
    @Test("certificates: accepted, and rejected after tampering")
    func certificateTampering() throws {
        let graph = try RandomNetworks.residual(seed: 9, channels: 2, size: 6, outputs: 3)
        let network = Self.network(graph)
        var rng = SeededGenerator(seed: 3)
        let x = rng.uniforms(72, 0...1)
        let (lower, upper) = Self.box(x, 0.05)
        let features = try FeatureMap(.pixels, shape: ImageShape(channels: 2, height: 6, width: 6), image: x)
        for mode in EVAMode.allCases {
            let result = try EVA.explain(network: network, problem: EVAProblem(center: x, lower: lower, upper: upper,
                                                                                features: features.inputIndices),
                                         settings: EVASettings(mode: mode))
            #expect(result.certified)
            let digest = [UInt8](repeating: 7, count: 32)
            func check(_ claims: BoundClaims) -> CheckReport {
                let certificate = Certificate(model: FileBinding(path: "m.onnx", sha256: digest), property: nil, producer: "test",
                                              claim: .bounds(claims))
                // Through the binary format, as `evident check` reads it.
                let decoded = try! Certificate(decoding: certificate.encoded(), source: "test")
                return Checker.check(decoded, network: network, modelDigest: digest, property: nil, propertyDigest: nil, progress: nil)
            }
            #expect(check(result.claims).valid, "\(mode)")
            var lowered = result.claims
            let k = lowered.claims.count / 2
            lowered.claims[k].value -= 1e-6
            let report = check(lowered)
            #expect(!report.valid && report.reason?.contains("claim \(k)") == true, "\(mode): \(report.reason ?? "valid")")
            var widened = result.claims
            widened.boxes[0].lower = widened.boxes[0].lower.map { $0 - 0.05 }
            widened.boxes[0].upper = widened.boxes[0].upper.map { $0 + 0.05 }
            #expect(!check(widened).valid, "\(mode)")
        }
    }

    /// The reuse mode's bounds are never tighter than the full mode's on the full box, and
    /// the full box B gets exactly the bound of a one-box CROWN call in every mode.
    @Test("the full box gets the one-box CROWN bound")
    func fullBoxMatchesOneBoxCrown() throws {
        let graph = try RandomNetworks.residual(seed: 4, channels: 2, size: 6, outputs: 3)
        var rng = SeededGenerator(seed: 8)
        let x = rng.uniforms(72, 0...1)
        let (lower, upper) = Self.box(x, 0.05)
        let features = try FeatureMap(.grid(2), shape: ImageShape(channels: 2, height: 6, width: 6), image: x)
        var aos = [Double]()
        for mode in EVAMode.allCases {
            let r = try EVA.explain(network: Self.network(graph), problem: EVAProblem(center: x, lower: lower, upper: upper,
                                                                                       features: features.inputIndices),
                                    settings: EVASettings(mode: mode))
            aos.append(r.aoFull)
            let c = r.predicted
            var coefficients = [Double]()
            for j in r.classes { var row = [0.0, 0, 0]; row[c] = 1; row[j] = -1; coefficients += row }
            let single = BoundPropagator(graph: graph).bounds(of: LinearSpecification(rows: r.classes.count, coefficients: coefficients),
                                                              lower: lower, upper: upper, batch: 1)
            let expected = single.lower.map { -$0 }.max()!
            #expect(abs(r.aoFull - expected) <= 1e-9 * max(1, abs(expected)), "\(mode): \(r.aoFull) vs \(expected)")
        }
    }

    @Test("errors: centre outside the box, bad target, empty feature")
    func errors() throws {
        let (graph, _, _) = try Self.affine(seed: 1)
        let network = Self.network(graph)
        let x = [Double](repeating: 0.5, count: 32)
        #expect(throws: EVAError.self) {
            try EVA.explain(network: network, problem: EVAProblem(center: x, lower: x.map { $0 + 0.1 }, upper: x.map { $0 + 0.2 },
                                                                  features: [[0]]))
        }
        #expect(throws: EVAError.self) {
            try EVA.explain(network: network, problem: EVAProblem(center: x, lower: x, upper: x, features: [[0]], target: 9))
        }
        #expect(throws: EVAError.self) {
            try EVA.explain(network: network, problem: EVAProblem(center: x, lower: x, upper: x, features: [[]]))
        }
    }
}

/// EVA on the shared CIFAR ResNet (skipped without ../shared/benchmarks).
@Suite("EVA on resnet_2b")
struct SharedEVATests {
    /// For the full box of a shared property, `aoFull` is at most minus auto_LiRPA's smallest
    /// CROWN margin (within 1e-4), in every mode; every box's bound is certified.
    @Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func aoFullAgainstLirpa() throws {
        let rows = SharedBenchmarks.csvRows("reference/lirpa_bounds.csv")
        let crown = rows.filter { $0[0].hasSuffix("resnet_2b.onnx") && $0[2] == "CROWN" }.prefix(1)
        try #require(!crown.isEmpty)
        for row in crown {
            let network = try loadNetwork(path: SharedBenchmarks.path(row[0]))
            let property = try loadProperty(path: SharedBenchmarks.path(row[1]), for: network)
            let region = property.regions[0]
            let shape = ImageShape(inputShape: network.graph.values[network.graph.input].shape)
            let input = EVAInput.box(lower: region.lower, upper: region.upper, shape: shape)
            let features = try FeatureMap(.grid(4), shape: shape, image: input.display)
            let minMargin = try #require(Double(row[4]))
            for mode in [EVAMode.full, .reuse] {
                let r = try EVA.explain(network: network, problem: EVAProblem(center: input.center, lower: input.lower, upper: input.upper,
                                                                               features: features.inputIndices),
                                        settings: EVASettings(mode: mode))
                #expect(r.certified)
                #expect(r.aoFull <= -minMargin + 1e-4, "\(row[1]) \(mode): aoFull \(r.aoFull), auto_LiRPA CROWN margin \(minMargin)")
                #expect(r.aoMasked.allSatisfy { $0 <= r.aoFull + 1e-9 }, "\(mode): fixing a patch loosened a bound")
            }
        }
    }
}

/// The hybrid mode: sampled bounds up to a cut, the engine after it, no guarantee.
@Suite("EVA hybrid mode")
struct HybridTests {
    @Test("carries no guarantee, writes no claims, and bounds at least the centre's margins")
    func hybrid() throws {
        let graph = try RandomNetworks.dense(seed: 3, inputs: 16, hidden: [12, 10], outputs: 4)
        let network = EVATests.network(graph)
        var rng = SeededGenerator(seed: 1)
        let x = rng.uniforms(16, 0...1)
        let (lower, upper) = EVATests.box(x, 0.1)
        let features = try FeatureMap(.pixels, shape: ImageShape(inputShape: [1, 16]), image: x)
        let layer = graph.values[graph.nodes[1].output].name  // relu0: the first hidden layer's output
        var settings = EVASettings(method: .crown)
        settings.hybrid = HybridSettings(layer: layer, samples: 200)
        let problem = EVAProblem(center: x, lower: lower, upper: upper, features: features.inputIndices)
        let r = try EVA.explain(network: network, problem: problem, settings: settings)
        #expect(!r.certified && r.claims.claims.isEmpty && r.checkReason?.contains("no bound is guaranteed") == true)
        #expect(r.scores.count == 16)
        let y = try Evaluator(graph: graph).evaluate(x)
        let centre = r.classes.map { y[$0] - y[r.predicted] }.max()!
        #expect(r.aoFull >= centre && r.aoMasked.allSatisfy { $0 >= centre - 1e-12 })
    }

    @Test("a layer that does not cut the graph is refused, naming the cut points")
    func badLayer() throws {
        let graph = try RandomNetworks.residual(seed: 2, channels: 2, size: 6, outputs: 3)
        let x = [Double](repeating: 0.5, count: 72)
        let features = try FeatureMap(.grid(2), shape: ImageShape(channels: 2, height: 6, width: 6), image: x)
        // A value inside a residual block: some later node reads a value computed before it.
        let inside = try #require(graph.nodes.indices.dropLast().first { p in
            let later = Set(graph.nodes[(p + 1)...].map(\.output)), v = graph.nodes[p].output
            return graph.nodes[(p + 1)...].contains { $0.inputs.contains { $0 != v && !later.contains($0) } }
        })
        for name in [graph.values[graph.nodes[inside].output].name, "no such value"] {
            var settings = EVASettings()
            settings.hybrid = HybridSettings(layer: name)
            #expect {
                try EVA.explain(network: EVATests.network(graph), problem: EVAProblem(center: x, lower: x, upper: x,
                                                                                       features: features.inputIndices),
                                settings: settings)
            } throws: { error in
                (error as? EVAError)?.message.contains("cut points") == true
            }
        }
    }
}
