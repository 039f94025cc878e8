import Testing
import EvidentIR
import EvidentEval
import EvidentTestSupport

/// Every normalisation pass must preserve the network's outputs (up to the rounding of
/// merged constants) on random inputs.
func expectSameOutputs(_ a: Graph, _ b: Graph, seed: UInt64, points: Int = 8) throws {
    let ea = Evaluator(graph: a), eb = Evaluator(graph: b)
    var rng = SeededGenerator(seed: seed)
    let x = rng.uniforms(points * ea.inputCount)
    let ya = try ea.evaluate(x, batch: points), yb = try eb.evaluate(x, batch: points)
    #expect(ya.count == yb.count)
    for (p, q) in zip(ya, yb) { #expect(abs(p - q) <= 1e-10 * max(1, abs(p)), "\(p) vs \(q)") }
}

@Suite("Normalisation passes")
struct PassTests {
    @Test("each pass preserves outputs of random convolutional networks", arguments: 0..<6)
    func passesPreserveOutputs(seed: Int) throws {
        let graph = try RandomNetworks.convolutional(seed: UInt64(seed))
        for pass in [Passes.foldConstants, Passes.foldBatchNormalization, Passes.simplifyReshapes,
                     Passes.removeDeadNodes, Passes.normalize] {
            try expectSameOutputs(graph, try pass(graph), seed: UInt64(seed))
        }
        // The BatchNormalization after conv0 is folded away.
        let normalized = try Passes.normalize(graph)
        #expect(normalized.operationCounts["ChannelAffine"] == nil)
        #expect(normalized.nodes.count < graph.nodes.count)
    }

    @Test("zero constants are removed and biases absorb constants")
    func constantFolding() throws {
        var b = GraphBuilder(inputName: "x", inputShape: [1, 3])
        var v = try b.add(.addConstant(Tensor(shape: [1, 3], repeating: 0)), inputs: [b.inputValue], name: "sub_zero")
        v = try b.add(.linear(Linear(weight: Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]), bias: nil)), inputs: [v], name: "mm")
        v = try b.add(.addConstant(Tensor(shape: [1, 2], scalars: [0.5, -1])), inputs: [v], name: "bias")
        v = try b.add(.reshape([2]), inputs: [v], name: "r1")
        v = try b.add(.reshape([1, 2]), inputs: [v], name: "r2")
        let graph = try b.build(output: v)
        let folded = try Passes.normalize(graph)
        #expect(folded.nodes.count == 1)
        guard case .linear(let lin) = folded.nodes[0].operation else { Issue.record("expected a linear node"); return }
        #expect(lin.bias.scalars == [0.5, -1])
        try expectSameOutputs(graph, folded, seed: 3)
    }

    @Test("shape inference rejects mismatched operands")
    func shapeErrors() throws {
        var b = GraphBuilder(inputName: "x", inputShape: [1, 3])
        #expect(throws: IRError.self) {
            try b.add(.linear(Linear(weight: Tensor(shape: [2, 4], repeating: 1), bias: nil)), inputs: [b.inputValue], name: "bad")
        }
        #expect(throws: IRError.self) { try b.add(.reshape([4]), inputs: [b.inputValue], name: "bad_reshape") }
        #expect(throws: IRError.self) { try b.add(.add, inputs: [b.inputValue], name: "one_operand") }
    }
}
