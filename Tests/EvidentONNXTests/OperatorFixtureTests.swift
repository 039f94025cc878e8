import EvidentEval
import EvidentIR
import EvidentONNX
import Foundation
import Testing

@Test func operatorFixturesArePresent() {
    #expect(Fixtures.operators.count >= 50, "Fixtures/operator_fixtures.json is missing or incomplete")
}

/// Every operator / attribute variant, loaded and evaluated in Double, matches onnxruntime
/// (float32) within 1e-5 relative / 1e-6 absolute.
@Test(arguments: Fixtures.operators)
func operatorFixtureMatchesOnnxruntime(_ record: Fixtures.OperatorRecord) throws {
    let network = try ONNXLoader.load(path: Fixtures.path(record.file))
    #expect(network.format == "onnx")
    #expect(network.graph.inputShape == record.inputShape)
    #expect(network.graph.outputShape == record.outputShape)
    let output = try Evaluator(graph: network.graph).evaluate(record.input, batch: 1)
    expectClose(output, record.output, relative: 1e-5, absolute: 1e-6, record.name)
}

/// A batch of two copies gives the same outputs twice: the model's own leading 1 is not a batch.
@Test(arguments: Fixtures.operators.filter { ["conv_asymmetric_pads", "gemm_constant_A", "matmul_constant_first_vector",
                                              "residual_add", "constant_folded_shape_subgraph"].contains($0.name) })
func operatorFixtureEvaluatesInBatches(_ record: Fixtures.OperatorRecord) throws {
    let network = try ONNXLoader.load(path: Fixtures.path(record.file))
    let output = try Evaluator(graph: network.graph).evaluate(record.input + record.input, batch: 2)
    expectClose(output, record.output + record.output, relative: 1e-5, absolute: 1e-6, record.name)
}

@Test func networkMetadata() throws {
    let network = try ONNXLoader.load(path: Fixtures.path("constant_folded_shape_subgraph.onnx"))
    #expect(network.inputName == "x")
    #expect(network.outputName == "y")
    #expect(network.source.hasSuffix("constant_folded_shape_subgraph.onnx"))
    // The symbolic batch dimension "N" is taken as 1.
    #expect(network.graph.inputShape == [1, 2, 3])
    #expect(network.sourceOperatorCounts == [
        "Shape": 1, "Constant": 3, "Gather": 1, "Unsqueeze": 1, "Concat": 1, "Reshape": 1, "Cast": 1,
        "Mul": 2, "Transpose": 1, "Identity": 1, "MatMul": 1,
    ])
    // Everything but the Reshape of x and the MatMul was folded at load time.
    #expect(network.graph.nodes.map(\.operation.name) == ["Reshape", "Linear"])
    // Float initializer w (18) and the float Constant 0.5 (1); integer tensors are not parameters.
    #expect(network.parameterCount == 19)
}

@Test func initializersListedAsInputsAreConstants() throws {
    let network = try ONNXLoader.load(path: Fixtures.path("initializers_as_graph_inputs.onnx"))
    #expect(network.inputName == "x")
    #expect(network.parameterCount == 5 + 20 + 4)
    #expect(network.sourceOperatorCounts == ["Sub": 1, "Flatten": 1, "MatMul": 1, "Add": 1])
}

@Test func batchNormalizationBecomesAChannelAffineMap() throws {
    let network = try ONNXLoader.load(path: Fixtures.path("batchnorm_opset13.onnx"))
    #expect(network.graph.nodes.map(\.operation.name) == ["ChannelAffine"])
}

@Test func identityAndDropoutAddNoNodes() throws {
    let network = try ONNXLoader.load(path: Fixtures.path("identity_dropout.onnx"))
    #expect(network.graph.nodes.map(\.operation.name) == ["Relu"])
    #expect(network.graph.nodes.first?.inputs == [network.graph.input])
}

@Test func loadFromDataUsesTheGivenSource() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gemm_transB_bias.onnx")))
    let network = try ONNXLoader.load(data: data, source: "in-memory model")
    #expect(network.source == "in-memory model")
    #expect(network.graph.outputShape == [1, 4])
    #expect(network.parameterCount == 4 * 6 + 4)
}
