import EvidentEval
import EvidentIR
import EvidentONNX
import Foundation
import Testing

/// `Fixtures/hidden_outputs.json` (made by `Fixtures/make_hidden_output_fixtures.py`): per
/// model, a seeded input and onnxruntime's value of each tensor the tests ask for.
struct HiddenOutputFixture: Decodable {
    struct Model: Decodable {
        var file: String
        var input: [Double]
        var tensors: [String: [Double]]
    }

    var models: [Model]

    static let shared: [String: Model] = {
        guard let data = FileManager.default.contents(atPath: Fixtures.path("hidden_outputs.json")),
              let fixture = try? JSONDecoder().decode(HiddenOutputFixture.self, from: data) else { return [:] }
        return Dictionary(uniqueKeysWithValues: fixture.models.map { ($0.file, $0) })
    }()

    static func model(_ file: String) throws -> Model {
        try #require(shared["hidden/\(file)"], "hidden_outputs.json has no record of \(file)")
    }
}

@Suite struct HiddenOutputTests {
    static let convModel = "conv_bn_relu_gemm.onnx"

    /// The network's output on the fixture's input, split along `outputParts`.
    func evaluatedParts(_ network: Network, input: [Double]) throws -> [[Double]] {
        let y = try Evaluator(graph: network.graph).evaluate(input)
        #expect(y.count == network.outputParts.reduce(0) { $0 + $1.shape.elementCount })
        return network.outputParts.map { Array(y[$0.offset ..< ($0.offset + $0.shape.elementCount)]) }
    }

    /// Two hidden tensors, asked for in an order that is not the graph's, follow the graph
    /// output and match onnxruntime; their parts carry the one-example shapes.
    @Test func hiddenTensorsFollowTheOutputsInTheOrderGiven() throws {
        let record = try HiddenOutputFixture.model(Self.convModel)
        let network = try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)"), hiddenOutputs: ["relu_out", "conv_out"])
        #expect(network.outputParts.map(\.name) == ["y", "relu_out", "conv_out"])
        // value_info declares [N, 3, 5, 5]: the symbolic batch dimension is 1, as for inputs.
        #expect(network.outputParts.map(\.shape) == [[1, 4], [1, 3, 5, 5], [1, 3, 5, 5]])
        #expect(network.outputParts.map(\.offset) == [0, 4, 79])
        #expect(network.outputName == "y")
        let parts = try evaluatedParts(network, input: record.input)
        for (part, values) in zip(network.outputParts, parts) {
            expectClose(values, try #require(record.tensors[part.name]), relative: 1e-5, absolute: 1e-5, part.name)
        }
        // Without hidden outputs the network is the one loaded before.
        let plain = try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)"))
        #expect(plain.outputParts.map(\.name) == ["y"])
        #expect(plain.graph.nodes.count < network.graph.nodes.count)
        expectClose(try Evaluator(graph: plain.graph).evaluate(record.input), parts[0], relative: 0, absolute: 0, "y")
    }

    /// A hidden tensor between Conv and BatchNormalization keeps its meaning through the
    /// normalisation passes: the BatchNormalization is not folded into the convolution, whose
    /// output the graph now reads, and every part still matches onnxruntime.
    @Test(arguments: [["conv_out"], ["bn_out"], ["conv_out", "bn_out", "flat"]])
    func hiddenTensorsSurviveNormalisation(_ hidden: [String]) throws {
        let record = try HiddenOutputFixture.model(Self.convModel)
        var network = try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)"), hiddenOutputs: hidden)
        network.graph = try Passes.normalize(network.graph)
        let affine = network.graph.operationCounts["ChannelAffine"] ?? 0
        #expect(affine == (hidden.contains("conv_out") ? 1 : 0), "BatchNormalization folded exactly when its input is not hidden")
        for (part, values) in zip(network.outputParts, try evaluatedParts(network, input: record.input)) {
            expectClose(values, try #require(record.tensors[part.name]), relative: 1e-5, absolute: 1e-5, "\(part.name) after normalize")
        }
    }

    /// A graph output asked for as a hidden tensor appears twice; a graph input as a hidden
    /// tensor is a copy of the input; a name asked for twice gets two parts.
    @Test func graphOutputsAndInputsAsHiddenTensors() throws {
        let record = try HiddenOutputFixture.model(Self.convModel)
        let network = try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)"), hiddenOutputs: ["y", "x", "flat", "flat"])
        #expect(network.outputParts.map(\.name) == ["y", "y", "x", "flat", "flat"])
        #expect(network.outputParts.map(\.shape) == [[1, 4], [1, 4], [1, 2, 5, 5], [1, 75], [1, 75]])
        #expect(network.outputParts.map(\.elementType) == Array(repeating: "float32", count: 5))
        let names = network.graph.values.map(\.name)
        #expect(Set(names).count == names.count, "value names stay unique: \(names)")
        let parts = try evaluatedParts(network, input: record.input)
        let y = try #require(record.tensors["y"]), flat = try #require(record.tensors["flat"])
        expectClose(parts[0], y, relative: 1e-5, absolute: 1e-5, "y")
        expectClose(parts[1], parts[0], relative: 0, absolute: 0, "hidden y")
        expectClose(parts[2], record.input, relative: 0, absolute: 0, "hidden x")
        expectClose(parts[3], flat, relative: 1e-5, absolute: 1e-5, "flat")
        expectClose(parts[4], parts[3], relative: 0, absolute: 0, "flat again")
    }

    @Test func unknownTensorNamesCloseOnes() throws {
        let path = Fixtures.path("hidden/\(Self.convModel)")
        let error = try #require(onnxError { _ = try ONNXLoader.load(path: path, hiddenOutputs: ["relu_ot"]) })
        #expect(error == .unknownTensor(source: path, name: "relu_ot", suggestions: ["relu_out"]))
        let message = error.localizedDescription
        for fragment in [path, "no tensor named 'relu_ot'", "hidden output", "did you mean 'relu_out'?"] {
            #expect(message.contains(fragment), "\(message)")
        }
        // At most three suggestions, closest first.
        let many = try #require(onnxError { _ = try ONNXLoader.load(path: path, hiddenOutputs: ["bn"]) })
        guard case let .unknownTensor(_, _, suggestions) = many else { Issue.record("\(many)"); return }
        #expect(suggestions == ["bn_out", "bn_var", "bn_bias"])
        // Nothing close: no suggestion.
        let none = try #require(onnxError { _ = try ONNXLoader.load(path: path, hiddenOutputs: ["completely_different_name"]) })
        #expect(none == .unknownTensor(source: path, name: "completely_different_name", suggestions: []))
        #expect(!none.localizedDescription.contains("did you mean"))
    }

    @Test func constantsAreNoHiddenTensors() throws {
        let path = Fixtures.path("hidden/\(Self.convModel)")
        // An initializer.
        let stored = try #require(onnxError { _ = try ONNXLoader.load(path: path, hiddenOutputs: ["conv_w"]) })
        #expect(stored == .constantTensor(source: path, name: "conv_w", initializer: true))
        #expect(stored.localizedDescription == "\(path): tensor 'conv_w' is an initializer, a stored constant, not an activation, so it cannot be a hidden output")
        // A node output folded at load time (the Gemm bias is an Add of two initializers).
        let folded = try #require(onnxError { _ = try ONNXLoader.load(path: path, hiddenOutputs: ["gemm_bias"]) })
        #expect(folded == .constantTensor(source: path, name: "gemm_bias", initializer: false))
        #expect(folded.localizedDescription.contains("'gemm_bias' is computed from constants at load time, not an activation"))
        // An initializer listed among the graph inputs is a constant too.
        let acas = Fixtures.path("hidden/initializers_as_inputs.onnx")
        let listed = try #require(onnxError { _ = try ONNXLoader.load(path: acas, hiddenOutputs: ["w0"]) })
        #expect(listed == .constantTensor(source: acas, name: "w0", initializer: true))
    }

    /// Declared types of inputs and outputs; hidden tensors without value_info take the type
    /// that flows there (a Cast's target after it).
    @Test func elementTypes() throws {
        let record = try HiddenOutputFixture.model("float64_cast.onnx")
        let network = try ONNXLoader.load(path: Fixtures.path("hidden/float64_cast.onnx"), hiddenOutputs: ["h64", "h32"])
        #expect(network.inputParts.map(\.elementType) == ["float64"])
        #expect(network.outputParts.map(\.name) == ["y", "h64", "h32"])
        #expect(network.outputParts.map(\.elementType) == ["float32", "float64", "float32"])
        for (part, values) in zip(network.outputParts, try evaluatedParts(network, input: record.input)) {
            // The IR computes in real arithmetic: the Cast's rounding to float32 is not modelled.
            expectClose(values, try #require(record.tensors[part.name]), relative: 1e-6, absolute: 1e-6, part.name)
        }

        let float32 = try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)"), hiddenOutputs: ["conv_out"])
        #expect(float32.inputParts.map(\.elementType) == ["float32"])
        #expect(float32.outputParts.map(\.elementType) == ["float32", "float32"])
        // Networks built in code hold Double.
        #expect(TensorPart(name: "t", shape: [1], offset: 0).elementType == "float64")
    }

    /// Weight initializers listed among graph.input are recorded in file order, and are not inputs.
    @Test func initializerInputs() throws {
        let record = try HiddenOutputFixture.model("initializers_as_inputs.onnx")
        let network = try ONNXLoader.load(path: Fixtures.path("hidden/initializers_as_inputs.onnx"), hiddenOutputs: ["h"])
        #expect(network.initializerInputs == ["w0", "b0", "w1", "b1"])
        #expect(network.inputParts.map(\.name) == ["x"])
        #expect(network.inputParts.map(\.shape) == [[1, 5]])
        for (part, values) in zip(network.outputParts, try evaluatedParts(network, input: record.input)) {
            expectClose(values, try #require(record.tensors[part.name]), relative: 1e-5, absolute: 1e-5, part.name)
        }
        #expect(try ONNXLoader.load(path: Fixtures.path("hidden/\(Self.convModel)")).initializerInputs.isEmpty)
    }

    /// `load(data:source:hiddenOutputs:)` agrees with loading the path.
    @Test func loadingFromData() throws {
        let path = Fixtures.path("hidden/\(Self.convModel)")
        let data = try #require(FileManager.default.contents(atPath: path))
        let network = try ONNXLoader.load(data: data, source: "memory", hiddenOutputs: ["bn_out"])
        #expect(network.outputParts == (try ONNXLoader.load(path: path, hiddenOutputs: ["bn_out"])).outputParts)
        let error = try #require(onnxError { _ = try ONNXLoader.load(data: data, source: "memory", hiddenOutputs: ["nope"]) })
        #expect(error.source == "memory")
    }
}
