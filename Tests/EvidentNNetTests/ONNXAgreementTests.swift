import EvidentEval
import EvidentIR
import EvidentNNet
import EvidentONNX
import EvidentTestSupport
import Testing

/// Path of ACAS Xu network `1_n` in VNN-COMP's ONNX form.
func onnxPath(_ n: Int) -> String {
    SharedBenchmarks.path("acasxu/ACASXU_run2a_1_\(n)_batch_2000.onnx")
}

/// The .nnet graph with every weight and bias rounded to `Float`: the numbers the ONNX file stores.
func roundedToFloat(_ graph: Graph) throws -> Graph {
    var builder = GraphBuilder(inputName: "input", inputShape: graph.inputShape)
    var current = builder.inputValue
    for node in graph.nodes {
        var operation = node.operation
        if case .linear(let linear) = operation {
            operation = .linear(Linear(
                weight: Tensor(shape: linear.weight.shape, scalars: linear.weight.scalars.map { Double(Float($0)) }),
                bias: Tensor(shape: linear.bias.shape, scalars: linear.bias.scalars.map { Double(Float($0)) })))
        }
        current = try builder.add(operation, inputs: [current], name: node.name)
    }
    return try builder.build(output: current)
}

/// Seeded points: `count` in prop_1's box (normalised units, as the VNN-LIB file states it) and
/// `count` physical points drawn uniformly from the file's [min, max] box and then normalised.
func acasSamples(_ norm: NNetNormalization, count: Int, seed: UInt64) throws -> [Double] {
    var generator = SeededGenerator(seed: seed)
    let prop1: [ClosedRange<Double>] = [0.6...0.679857769, -0.5...0.5, -0.5...0.5, 0.45...0.5, -0.5...(-0.45)]
    var points = [Double]()
    for _ in 0..<count {
        points += prop1.map { generator.uniform($0) }
    }
    for _ in 0..<count {
        let physical = (0..<norm.inputCount).map { generator.uniform(norm.inputMinimums[$0]...norm.inputMaximums[$0]) }
        points += try norm.normalize(input: physical)
    }
    return points
}

/// Largest |a − b| over the batch, relative to max(1, |b|∞).
func worstDifference(_ a: [Double], _ b: [Double]) -> Double {
    let scale = Swift.max(1, b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
}

/// The stored .nnet network (with the documented normalisation applied to physical inputs)
/// agrees with the VNN-COMP ONNX file of the same network, both evaluated in Float64 by
/// EvidentEval.
///
/// - With the .nnet weights rounded to float32 the two graphs hold identical numbers; required
///   agreement 1e-9 relative (only summation order could differ; observed: bit-identical).
/// - As stored (decimal text parsed to the nearest Double) they differ by the float32 rounding of
///   each weight (relative ≤ 2⁻²⁴); stated tolerance 1e-6 · max(1, |y|∞). Observed here at most
///   1.0e-7, and 3.5e-7 over 9,000 random points of the whole domain in a NumPy check (the raw
///   outputs are of order 0.01–10).
@Test(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
      arguments: 1...9)
func nnetAgreesWithTheONNXFile(_ n: Int) throws {
    let loaded = try NNetLoader.load(path: nnetPath(n))
    let onnx = try ONNXLoader.load(path: onnxPath(n))
    #expect(onnx.graph.inputShape.elementCount == loaded.network.graph.inputShape.elementCount)
    #expect(onnx.graph.outputShape.elementCount == loaded.network.graph.outputShape.elementCount)
    #expect(onnx.graph.reluNeuronCount == loaded.network.graph.reluNeuronCount)

    let count = 200
    let inputs = try acasSamples(loaded.normalization, count: count, seed: UInt64(1000 + n))
    let reference = try Evaluator(graph: onnx.graph).evaluate(inputs, batch: 2 * count)
    let stored = try Evaluator(graph: loaded.network.graph).evaluate(inputs, batch: 2 * count)
    let rounded = try Evaluator(graph: roundedToFloat(loaded.network.graph)).evaluate(inputs, batch: 2 * count)

    let exactWeights = worstDifference(rounded, reference)
    let storedWeights = worstDifference(stored, reference)
    #expect(exactWeights <= 1e-9, "1_\(n): float32-rounded .nnet vs ONNX differ by \(exactWeights)")
    #expect(storedWeights <= 1e-6, "1_\(n): .nnet vs ONNX differ by \(storedWeights)")
}
