import Testing
import EvidentIR
import EvidentEval
@testable import EvidentBounds
import EvidentTestSupport

/// Bounds of composed networks (`Network.composing`): with independent inputs each network's
/// outputs get the bounds the network gets alone; with tied inputs the bounds contain every
/// sampled output.
@Suite("Bounds of composed networks")
struct CompositionBoundTests {
    static func network(_ graph: Graph, _ name: String) -> Network {
        Network(graph: graph, source: name, format: "memory", sourceOperatorCounts: graph.operationCounts, parameterCount: 0)
    }

    /// Lower and upper bounds of every output over one box.
    static func outputBounds(_ graph: Graph, lower: [Double], upper: [Double], method: BoundMethod) -> (lower: [Double], upper: [Double]) {
        let m = graph.values[graph.output].count
        let propagator = BoundPropagator(graph: graph)
        let options = BoundOptions(method: method)
        let below = propagator.bounds(of: .identity(outputs: m), lower: lower, upper: upper, batch: 1, options: options).lower
        let above = propagator.bounds(of: LinearSpecification.identity(outputs: m).negated, lower: lower, upper: upper,
                                      batch: 1, options: options).lower.map { -$0 }
        return (below, above)
    }

    static func expectRelativelyEqual(_ a: [Double], _ b: [Double], _ label: String) {
        #expect(a.count == b.count, "\(label): \(a.count) vs \(b.count) bounds")
        for (j, (x, y)) in zip(a, b).enumerated() {
            #expect(abs(x - y) <= 1e-12 * max(1, abs(y)), "\(label)[\(j)]: \(x) vs \(y)")
        }
    }

    @Test("independent inputs: each network's own IBP and CROWN bounds", arguments: 0..<3, [BoundMethod.ibp, .crown])
    func independentInputs(seed: Int, method: BoundMethod) throws {
        let s = UInt64(seed)
        let dense = Self.network(try RandomNetworks.dense(seed: s, inputs: 5, hidden: [10, 8], outputs: 3), "dense")
        let conv = Self.network(try RandomNetworks.convolutional(seed: s, channels: 1, size: 6, outputs: 2), "conv")
        let residual = Self.network(try RandomNetworks.residual(seed: s, channels: 1, size: 4, outputs: 2), "residual")
        var rng = SeededGenerator(seed: 500 + s)
        // Disjoint index sets: dense a shuffled range, conv a contiguous one, residual the rest.
        let total = 5 + 36 + 16
        let order = Array(0..<total).shuffled(using: &rng)
        let indices = [Array(order[0..<5]), Array(5..<41).map { order[$0] }, Array(order[41...])]
        let passthrough = [order[0], order[50]]
        let networks = [dense, conv, residual]
        let composed = try Network.composing(networks, inputIndices: indices, inputCount: total, passthrough: passthrough, source: "q")

        let centre = rng.uniforms(total), radius = rng.uniforms(total, 0.01...0.2)
        let lower = zip(centre, radius).map { $0 - $1 }, upper = zip(centre, radius).map { $0 + $1 }
        let bounds = Self.outputBounds(composed.graph, lower: lower, upper: upper, method: method)
        var offset = 0
        for (network, map) in zip(networks, indices) {
            let own = Self.outputBounds(network.graph, lower: map.map { lower[$0] }, upper: map.map { upper[$0] }, method: method)
            let k = own.lower.count
            Self.expectRelativelyEqual(Array(bounds.lower[offset..<(offset + k)]), own.lower, "\(network.source) \(method) lower")
            Self.expectRelativelyEqual(Array(bounds.upper[offset..<(offset + k)]), own.upper, "\(network.source) \(method) upper")
            offset += k
        }
        // The passthrough elements are bounded by their box exactly.
        Self.expectRelativelyEqual(Array(bounds.lower[offset...]), passthrough.map { lower[$0] }, "passthrough lower")
        Self.expectRelativelyEqual(Array(bounds.upper[offset...]), passthrough.map { upper[$0] }, "passthrough upper")
    }

    @Test("tied inputs: CROWN bounds contain sampled outputs", arguments: 0..<3)
    func tiedInputs(seed: Int) throws {
        let s = UInt64(seed)
        let a = Self.network(try RandomNetworks.dense(seed: s, inputs: 6, hidden: [10, 8], outputs: 3), "a")
        let b = Self.network(try RandomNetworks.dense(seed: s + 7, inputs: 4, hidden: [8], outputs: 2), "b")
        let conv = Self.network(try RandomNetworks.convolutional(seed: s, channels: 1, size: 6, outputs: 2), "conv")
        var rng = SeededGenerator(seed: 700 + s)
        let total = 8
        let indices = [[0, 1, 2, 3, 1, 0], [3, 4, 4, 5], (0..<36).map { _ in Int.random(in: 0..<total, using: &rng) }]
        let composed = try Network.composing([a, b, conv], inputIndices: indices, inputCount: total,
                                             passthrough: [7, 1, 1], source: "tied")
        // Every value's bounds and random specification rows, on sampled points and corners.
        try checkContainment(composed.graph, seed: 800 + s, boxes: 2, samples: 4000, options: BoundOptions(method: .crown))

        // The output bounds, directly: every sampled composed output lies within them.
        let centre = rng.uniforms(total), radius = rng.uniforms(total, 0.05...0.3)
        let lower = zip(centre, radius).map { $0 - $1 }, upper = zip(centre, radius).map { $0 + $1 }
        let bounds = Self.outputBounds(composed.graph, lower: lower, upper: upper, method: .crown)
        let points = 500
        let x = (0..<(points * total)).map { i in
            let j = i % total
            return i / total % 2 == 0 ? (Bool.random(using: &rng) ? lower[j] : upper[j]) : rng.uniform(lower[j]...upper[j])
        }
        let y = try Evaluator(graph: composed.graph).evaluate(x, batch: points)
        let m = bounds.lower.count
        var violations = 0
        for p in 0..<points {
            for j in 0..<m {
                let v = y[p * m + j], slack = 1e-9 * max(1, abs(v))
                if v < bounds.lower[j] - slack || v > bounds.upper[j] + slack { violations += 1 }
            }
        }
        #expect(violations == 0, "\(violations) sampled outputs outside the CROWN bounds")
    }
}
