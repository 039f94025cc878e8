import EvidentEval
import EvidentIR
import EvidentTestSupport
import Testing

/// A network built in code around a seeded graph.
func memoryNetwork(_ graph: Graph, _ name: String) -> Network {
    Network(graph: graph, source: name, format: "memory", sourceOperatorCounts: graph.operationCounts,
            parameterCount: graph.nodes.reduce(0) { $0 + $1.operation.parameterCount })
}

/// Checks that the composed network's output on seeded random inputs is, exactly, each
/// network's own output on its mapped input, followed by the passthrough elements.
func expectComposedEvaluation(_ composed: Network, _ networks: [Network], inputIndices: [[Int]], passthrough: [Int],
                              seed: UInt64, points: Int = 5, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var rng = SeededGenerator(seed: seed)
    let n = composed.inputParts[0].shape.elementCount
    let x = rng.uniforms(points * n)
    let y = try Evaluator(graph: composed.graph).evaluate(x, batch: points)
    let m = composed.graph.values[composed.graph.output].count
    #expect(y.count == points * m, sourceLocation: sourceLocation)
    // Same batch size as the composed evaluation, so that every kernel sees the same shapes.
    var offset = 0
    for (network, indices) in zip(networks, inputIndices) {
        let evaluator = Evaluator(graph: network.graph)
        let mapped = (0..<points).flatMap { p in indices.map { x[p * n + $0] } }
        let own = try evaluator.evaluate(mapped, batch: points)
        let k = evaluator.outputCount
        for p in 0..<points {
            let part = Array(y[(p * m + offset)..<(p * m + offset + k)])
            #expect(part == Array(own[(p * k)..<((p + 1) * k)]), "\(network.source), point \(p)", sourceLocation: sourceLocation)
        }
        offset += k
    }
    for p in 0..<points {
        #expect(Array(y[(p * m + offset)..<((p + 1) * m)]) == passthrough.map { x[p * n + $0] }, "passthrough, point \(p)",
                sourceLocation: sourceLocation)
    }
}

@Suite("Composition of networks")
struct CompositionTests {
    static func dense(_ seed: UInt64, inputs: Int, outputs: Int) throws -> Network {
        memoryNetwork(try RandomNetworks.dense(seed: seed, inputs: inputs, hidden: [6, 5], outputs: outputs), "dense\(seed)")
    }

    /// One network reading its whole input in order: no operation is added.
    @Test func identityAddsNothing() throws {
        let network = memoryNetwork(try RandomNetworks.convolutional(seed: 3), "conv3")
        let n = network.graph.values[network.graph.input].count
        let composed = try Network.composing([network], inputIndices: [Array(0..<n)], inputCount: n, passthrough: [], source: "q")
        #expect(composed.graph.nodes.count == network.graph.nodes.count)
        #expect(composed.graph.nodes.map(\.operation) == network.graph.nodes.map(\.operation))
        #expect(composed.graph.inputShape == network.graph.inputShape)
        #expect(composed.graph.outputShape == network.graph.outputShape)
        #expect(composed.graph.nodes.map(\.name) == network.graph.nodes.map { "net0/" + $0.name })
        #expect(composed.inputParts == [TensorPart(name: "input", shape: [n], offset: 0)])
        #expect(composed.outputParts == network.outputParts)
        #expect(composed.format == "composed" && composed.source == "q")
        try expectComposedEvaluation(composed, [network], inputIndices: [Array(0..<n)], passthrough: [], seed: 1)
    }

    /// Disjoint ranges, a permutation, passthrough: the parts, counts and evaluation.
    @Test(arguments: 0..<4)
    func independentInputs(seed: Int) throws {
        let s = UInt64(seed)
        let a = try Self.dense(s, inputs: 4, outputs: 3)
        let b = memoryNetwork(try RandomNetworks.residual(seed: s, channels: 1, size: 4, outputs: 2), "residual\(s)")
        let c = try Self.dense(s + 10, inputs: 3, outputs: 1)
        // a reads 0..<4 (a contiguous range), b 4..<20 (contiguous, not first), c a permutation of 20..<23.
        let indices = [Array(0..<4), Array(4..<20), [22, 20, 21]]
        let passthrough = [21, 0, 5]
        let composed = try Network.composing([a, b, c], inputIndices: indices, inputCount: 24, passthrough: passthrough, source: "three")
        #expect(composed.graph.inputShape == [24])
        #expect(composed.outputParts.map(\.offset) == [0, 3, 5, 6])
        #expect(composed.outputParts.map(\.shape) == [[1, 3], [1, 2], [1, 1], [3]])
        #expect(composed.outputParts.last?.name == "passthrough")
        #expect(composed.graph.outputShape == [9])
        #expect(composed.parameterCount == a.parameterCount + b.parameterCount + c.parameterCount)
        #expect(composed.sourceOperatorCounts["Linear"] == 6 + (b.sourceOperatorCounts["Linear"] ?? 0))
        // One select per network and for the passthrough: no copies when nothing repeats.
        #expect(composed.graph.operationCounts["Select"] == 4)
        #expect(composed.graph.operationCounts["Concat"] == 1)
        let names = composed.graph.values.map(\.name), nodeNames = composed.graph.nodes.map(\.name)
        #expect(Set(names).count == names.count && Set(nodeNames).count == nodeNames.count)
        try expectComposedEvaluation(composed, [a, b, c], inputIndices: indices, passthrough: passthrough, seed: 20 + s)
    }

    /// Tied inputs: indices repeated inside one network, across networks and in the passthrough.
    @Test(arguments: 0..<4)
    func tiedInputs(seed: Int) throws {
        let s = UInt64(seed)
        let a = try Self.dense(s, inputs: 5, outputs: 2)
        let b = try Self.dense(s + 20, inputs: 4, outputs: 3)
        let conv = memoryNetwork(try RandomNetworks.convolutional(seed: s, channels: 1, size: 6, outputs: 2), "conv\(s)")
        var rng = SeededGenerator(seed: 99 + s)
        let indices = [[0, 1, 1, 2, 0], [2, 3, 3, 3], (0..<36).map { _ in Int.random(in: 0..<6, using: &rng) }]
        let passthrough = [3, 3, 0, 5]
        let composed = try Network.composing([a, b, conv], inputIndices: indices, inputCount: 6, passthrough: passthrough, source: "tied")
        try expectComposedEvaluation(composed, [a, b, conv], inputIndices: indices, passthrough: passthrough, seed: 40 + s)
        // The same networks again reading the whole input in order (each its own size).
        let whole = try Network.composing([a, a], inputIndices: [Array(0..<5), Array(0..<5)], inputCount: 5,
                                          passthrough: Array(0..<5), source: "twice")
        #expect(whole.graph.operationCounts["Select"] == nil, "a whole input in order needs no select")
        try expectComposedEvaluation(whole, [a, a], inputIndices: [Array(0..<5), Array(0..<5)], passthrough: Array(0..<5), seed: 60 + s)
    }

    /// Constant radii follow their nodes.
    @Test func constantRadiiAreRemapped() throws {
        var a = try Self.dense(1, inputs: 3, outputs: 2)
        var b = try Self.dense(2, inputs: 2, outputs: 2)
        a.constantRadii = [2: ConstantRadius(coefficients: [1e-17], offsets: [2e-17])]
        b.constantRadii = [0: ConstantRadius(coefficients: [3e-17], offsets: [4e-17]),
                           4: ConstantRadius(coefficients: [5e-17], offsets: [6e-17])]
        let composed = try Network.composing([a, b], inputIndices: [[1, 0, 1], [2, 2]], inputCount: 3, passthrough: [], source: "r")
        #expect(composed.constantRadii.count == 3)
        for (k, network) in [a, b].enumerated() {
            for (index, radius) in network.constantRadii {
                let name = "net\(k)/" + network.graph.nodes[index].name
                let node = try #require(composed.graph.nodes.firstIndex { $0.name == name })
                #expect(composed.constantRadii[node] == radius, "\(name)")
                #expect(composed.graph.nodes[node].operation == network.graph.nodes[index].operation)
            }
        }
    }

    @Test func errors() throws {
        let a = try Self.dense(1, inputs: 3, outputs: 2)
        func message(_ networks: [Network], _ indices: [[Int]], count: Int = 4, passthrough: [Int] = []) -> String? {
            do {
                _ = try Network.composing(networks, inputIndices: indices, inputCount: count, passthrough: passthrough, source: "q")
                Issue.record("expected an IRError")
            } catch let error as IRError {
                guard case .invalidComposition = error else { Issue.record("wrong case \(error)"); return nil }
                return error.description
            } catch {
                Issue.record("expected an IRError, got \(error)")
            }
            return nil
        }
        #expect(message([a], [[0, 1]]) == "cannot compose the networks: network 0 (dense1) reads 3 input element(s), but inputIndices[0] has 2")
        #expect(message([a, a], [[0, 1, 2], [0, 1, 2, 3]])?.contains("network 1 (dense1) reads 3 input element(s), but inputIndices[1] has 4") == true)
        #expect(message([a], [[0, 4, 1]]) == "cannot compose the networks: network 0 (dense1): its input element 1 maps to 4, outside the composed input of 4 element(s)")
        #expect(message([a], [[0, -1, 1]])?.contains("maps to -1") == true)
        #expect(message([a], [[0, 1, 2]], passthrough: [3, 7]) == "cannot compose the networks: passthrough element 1 is 7, outside the composed input of 4 element(s)")
        #expect(message([a], [[0, 1, 2], [0]])?.contains("1 network(s) but 2 input index list(s)") == true)
        #expect(message([], [])?.contains("no network") == true)
        #expect(message([a], [[0, 0, 0]], count: 0)?.contains("needs at least one") == true)
    }
}
