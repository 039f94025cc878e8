import Testing
import EvidentIR
import EvidentEval
@testable import EvidentBounds
import EvidentTestSupport

/// Branch-and-bound subdomains: bounds computed with ReLU split constraints (clipped
/// intermediate bounds, β multipliers, optimised slopes) must hold at every sampled point of
/// the box that satisfies the subdomain's sign constraints.
@Suite struct SubdomainSoundnessTests {
    static let graphs: [(String, () throws -> Graph)] = [
        ("dense", { try RandomNetworks.dense(seed: 11, inputs: 4, hidden: [10, 10, 8], outputs: 3) }),
        ("residual", { try RandomNetworks.residual(seed: 12) }),
    ]

    @Test(arguments: [0, 1])
    func splitSubdomainBoundsHoldOnSamples(graphIndex: Int) throws {
        let graph = try Self.graphs[graphIndex].1()
        var rng = SeededGenerator(seed: 99 + UInt64(graphIndex))
        let evaluator = Evaluator(graph: graph)
        let propagator = BoundPropagator(graph: graph)
        let n = evaluator.inputCount, m = evaluator.outputCount
        let centre = rng.uniforms(n)
        let lower = centre.map { $0 - 0.4 }, upper = centre.map { $0 + 0.4 }
        let root = propagator.intermediateBounds(lower: lower, upper: upper, batch: 1)
        // Unstable neurons of the ReLUs at the root.
        var unstable = [(relu: ValueID, pre: ValueID, neuron: Int)]()
        for node in graph.nodes where node.operation == .relu {
            let b = root[node.inputs[0]]!
            for j in 0..<b.lower.count where b.lower[j] < 0 && b.upper[j] > 0 { unstable.append((node.output, node.inputs[0], j)) }
        }
        try #require(unstable.count >= 3, "the random network should have unstable neurons")
        // Eight subdomains: every sign pattern of three unstable neurons.
        let chosen = Array(unstable.shuffled(using: &rng).prefix(3))
        var splits = [[NeuronSplit]]()
        for pattern in 0..<8 {
            splits.append(chosen.enumerated().map { NeuronSplit(relu: $0.element.relu, neuron: $0.element.neuron, active: pattern >> $0.offset & 1 == 1) })
        }
        let count = splits.count
        var tiled = [IntervalBounds?](repeating: nil, count: root.count)
        for node in graph.nodes where node.operation == .relu {
            let b = root[node.inputs[0]]!
            tiled[node.inputs[0]] = IntervalBounds(lower: Array([[Double]](repeating: b.lower, count: count).joined()),
                                                   upper: Array([[Double]](repeating: b.upper, count: count).joined()))
        }
        for (i, list) in splits.enumerated() {
            for (k, split) in list.enumerated() {
                let pre = chosen[k].pre, size = graph.values[pre].count
                if split.active { tiled[pre]!.lower[i * size + split.neuron] = 0 } else { tiled[pre]!.upper[i * size + split.neuron] = 0 }
            }
        }
        let spec = LinearSpecification(rows: m, coefficients: rng.uniforms(m * m))
        let boxLower = Array([[Double]](repeating: lower, count: count).joined())
        let boxUpper = Array([[Double]](repeating: upper, count: count).joined())
        let plain = propagator.finalBounds(of: spec, lower: boxLower, upper: boxUpper, batch: count, intermediate: tiled,
                                           splits: splits, settings: FinalBoundSettings(iterations: 0))
        let optimised = propagator.finalBounds(of: spec, lower: boxLower, upper: boxUpper, batch: count, intermediate: tiled,
                                               splits: splits, settings: FinalBoundSettings(iterations: 30, betaLearningRate: 0.2))
        // Optimisation only tightens (it keeps the best iterate, and the first is the plain one),
        // up to the quantisation of the slopes in the clean pass.
        for r in 0..<(count * m) { #expect(optimised.lower[r] >= plain.lower[r] - 1e-2 * (1 + abs(plain.lower[r]))) }
        #expect(optimised.betas.contains { $0.contains { $0 > 0 } }, "some multiplier should move")
        // Sample the box; each point belongs to the subdomain of its sign pattern.
        let samples = 4000
        var x = [Double]()
        for _ in 0..<samples { for i in 0..<n { x.append(rng.uniform(lower[i]...upper[i])) } }
        let values = try evaluator.evaluateAll(x, batch: samples)
        var hits = [Int](repeating: 0, count: count)
        for s in 0..<samples {
            var pattern = 0
            for (k, c) in chosen.enumerated() {
                let size = graph.values[c.pre].count
                if values[c.pre][s * size + c.neuron] >= 0 { pattern |= 1 << k }
            }
            hits[pattern] += 1
            let y = Array(values[graph.output][(s * m)..<((s + 1) * m)])
            for row in 0..<m {
                let value = (0..<m).reduce(0.0) { $0 + spec.coefficients[row * m + $1] * y[$1] }
                let slack = 1e-9 * (1 + abs(value))
                #expect(value >= plain.lower[pattern * m + row] - slack)
                #expect(value >= optimised.lower[pattern * m + row] - slack)
            }
        }
        #expect(hits.filter { $0 > 0 }.count >= 2, "samples should reach several subdomains")
    }
}
