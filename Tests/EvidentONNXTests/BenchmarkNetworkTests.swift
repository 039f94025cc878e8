import EvidentEval
import EvidentIR
import EvidentONNX
import EvidentTestSupport
import Foundation
import Testing

private let benchmarksAvailable = Comment(rawValue: SharedBenchmarks.missingMessage)

/// Every ONNX file of the shared benchmarks loads.
@Test(.enabled(if: SharedBenchmarks.available, benchmarksAvailable),
      arguments: SharedBenchmarks.files(withExtension: ["onnx"]))
func benchmarkNetworkLoads(_ relative: String) throws {
    let network = try ONNXLoader.load(path: SharedBenchmarks.path(relative))
    #expect(network.format == "onnx")
    #expect(!network.graph.nodes.isEmpty)
    #expect(network.parameterCount > 0)
}

@Test(.enabled(if: SharedBenchmarks.available, benchmarksAvailable))
func resnet2bStructure() throws {
    let network = try ONNXLoader.load(path: SharedBenchmarks.path("cifar10_resnet/onnx/resnet_2b.onnx"))
    #expect(network.graph.reluNeuronCount == 6244)
    #expect(network.sourceOperatorCounts == ["Conv": 6, "Relu": 6, "Add": 2, "Flatten": 1, "Gemm": 2])
    #expect(network.graph.inputShape == [1, 3, 32, 32])
    #expect(network.graph.outputShape == [1, 10])
    #expect(network.inputName == "input.1")
    #expect(network.outputName == "33")
}

@Test(.enabled(if: SharedBenchmarks.available, benchmarksAvailable))
func cifarBaseKWStructure() throws {
    let network = try ONNXLoader.load(path: SharedBenchmarks.path("oval21/onnx/cifar_base_kw.onnx"))
    #expect(network.graph.reluNeuronCount == 3172)
    #expect(network.sourceOperatorCounts == ["Conv": 2, "Relu": 3, "Flatten": 1, "Gemm": 2])
}

/// The loaded benchmark networks compute what onnxruntime computes (float32) on a fixed input.
@Test(.enabled(if: SharedBenchmarks.available, benchmarksAvailable),
      arguments: Fixtures.benchmarks)
func benchmarkNetworkMatchesOnnxruntime(_ record: Fixtures.BenchmarkRecord) throws {
    let network = try ONNXLoader.load(path: SharedBenchmarks.path(record.file))
    #expect(network.graph.inputShape == record.inputShape)
    let output = try Evaluator(graph: network.graph).evaluate(record.input, batch: 1)
    expectClose(output, record.output, relative: 1e-4, absolute: 1e-5, record.file)
}

/// The checked counterexamples' outputs (recomputed with onnxruntime) are reproduced.
@Test(.enabled(if: SharedBenchmarks.available, benchmarksAvailable),
      arguments: SharedBenchmarks.files(withExtension: ["counterexample"]))
func counterexampleOutputsAreReproduced(_ relative: String) throws {
    let text = try String(contentsOfFile: SharedBenchmarks.path(relative), encoding: .utf8)
    var xs = [Int: Double](), ys = [Int: Double]()
    for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix(";") {
        let tokens = line.split(whereSeparator: { "() \t".contains($0) })
        guard tokens.count == 2, let value = Double(tokens[1]) else { continue }
        let name = tokens[0]
        if name.hasPrefix("X_"), let i = Int(name.dropFirst(2)) { xs[i] = value }
        if name.hasPrefix("Y_"), let j = Int(name.dropFirst(2)) { ys[j] = value }
    }
    // "<network>__<property>.counterexample" beside the folder holding <network>.onnx.
    let fileName = (relative as NSString).lastPathComponent
    let stem = try #require(fileName.components(separatedBy: "__").first)
    let onnx = try #require(SharedBenchmarks.files(withExtension: ["onnx"]).first { ($0 as NSString).lastPathComponent == stem + ".onnx" })
    let network = try ONNXLoader.load(path: SharedBenchmarks.path(onnx))
    let input = (0..<xs.count).map { xs[$0] ?? .nan }
    let expected = (0..<ys.count).map { ys[$0] ?? .nan }
    let output = try Evaluator(graph: network.graph).evaluate(input, batch: 1)
    expectClose(output, expected, relative: 1e-4, absolute: 1e-5, relative)
}
