// Normalisation passes on the real networks: every pass preserves the outputs on points of a
// property's input box, and normalisation removes what it promises to remove.
//
// Loading networks and properties needs EvidentONNX and EvidentVNNLib, which this test target
// must list as dependencies in Package.swift; without them the suite shows as disabled.
import EvidentEval
import EvidentIR
import EvidentONNX
import EvidentTestSupport
import EvidentVNNLib
import Foundation
import Testing

/// A network with the property whose first input box supplies the test points.
struct PassCase: Sendable, CustomTestStringConvertible {
    var onnx: String
    var vnnlib: String
    var inRepository: Bool

    func path(_ relative: String) -> String {
        inRepository ? SharedBenchmarks.repositoryRoot.appendingPathComponent(relative).path : SharedBenchmarks.path(relative)
    }

    var testDescription: String { (onnx as NSString).lastPathComponent }

    /// Every ONNX network of the shared benchmarks, each with its first property in `ground_truth.csv`.
    static let shared: [PassCase] = {
        var firstProperty = [String: String]()
        for row in SharedBenchmarks.csvRows("ground_truth.csv") where row.count > 2 && firstProperty[row[1]] == nil {
            firstProperty[row[1]] = row[2]
        }
        return SharedBenchmarks.files(withExtension: ["onnx"]).map { onnx in
            PassCase(onnx: onnx, vnnlib: firstProperty[onnx] ?? "", inRepository: false)
        }
    }()

    static let digitsResnet = PassCase(onnx: "Networks/digits_resnet/digits_resnet.onnx",
                                       vnnlib: "Specs/digits_resnet_img2_eps0.1.vnnlib", inRepository: true)
}

@Suite("Normalisation passes on benchmark networks")
struct BenchmarkPassTests {
    static let passes: [(name: String, run: (Graph) throws -> Graph)] = [
        ("foldConstants", Passes.foldConstants),
        ("foldBatchNormalization", Passes.foldBatchNormalization),
        ("simplifyReshapes", Passes.simplifyReshapes),
        ("removeDeadNodes", Passes.removeDeadNodes),
        ("normalize", Passes.normalize),
    ]

    @Test("every pass preserves the outputs of the shared benchmark networks",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: PassCase.shared)
    func sharedNetwork(_ testCase: PassCase) throws {
        try #require(!testCase.vnnlib.isEmpty, "no instance of \(testCase.onnx) in ground_truth.csv")
        try expectPassesPreserveOutputs(testCase, seed: 7)
    }

    @Test("every pass preserves the outputs of digits_resnet")
    func digitsResnet() throws {
        try expectPassesPreserveOutputs(PassCase.digitsResnet, seed: 8)
    }

    @Test("BatchNormalization of digits_resnet is folded into its convolutions")
    func digitsResnetFoldsBatchNormalization() throws {
        let graph = try ONNXLoader.load(path: PassCase.digitsResnet.path(PassCase.digitsResnet.onnx)).graph
        #expect(graph.operationCounts["ChannelAffine"] == 6)
        let normalized = try Passes.normalize(graph)
        #expect(normalized.operationCounts["ChannelAffine"] == nil, "\(normalized.operationCounts)")
        #expect(normalized.operationCounts["Conv"] == graph.operationCounts["Conv"])
        #expect(normalized.reluNeuronCount == graph.reluNeuronCount)
    }

    @Test("ACAS Xu's subtraction of zero is removed",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
    func acasXuZeroSubtractionRemoved() throws {
        let graph = try ONNXLoader.load(path: SharedBenchmarks.path("acasxu/ACASXU_run2a_1_1_batch_2000.onnx")).graph
        let zeroConstants = graph.nodes.filter {
            if case .addConstant(let c) = $0.operation { return c.scalars.allSatisfy { $0 == 0 } }
            return false
        }
        #expect(zeroConstants.count == 1, "the loaded graph should hold the input's Sub of a zero constant")
        let normalized = try Passes.normalize(graph)
        #expect(normalized.operationCounts["AddConstant"] == nil, "\(normalized.operationCounts)")
        // What remains: the seven affine layers (MatMul + Add merged), six ReLUs, and the Flatten
        // of the [1, 1, 1, 5] input, which is a real change of shape.
        #expect(normalized.operationCounts == ["Linear": 7, "Relu": 6, "Reshape": 1], "\(normalized.operationCounts)")
        #expect(normalized.nodes.count < graph.nodes.count)
    }

    /// Evaluates the network and each pass's result on seeded points of the property's first box.
    private func expectPassesPreserveOutputs(_ testCase: PassCase, seed: UInt64, points: Int = 4) throws {
        let graph = try ONNXLoader.load(path: testCase.path(testCase.onnx)).graph
        let property = try VNNLibParser.parse(path: testCase.path(testCase.vnnlib))
        let region = try #require(property.regions.first)
        let n = graph.values[graph.input].count, m = graph.values[graph.output].count
        try #require(region.lower.count == n)
        var rng = SeededGenerator(seed: seed)
        var x = [Double]()
        for _ in 0..<points {
            x += (0..<n).map { i in region.lower[i] + (region.upper[i] - region.lower[i]) * rng.uniform(0...1) }
        }
        let reference = try Evaluator(graph: graph).evaluate(x, batch: points)
        for pass in Self.passes {
            let transformed = try pass.run(graph)
            #expect(transformed.inputShape == graph.inputShape && transformed.outputShape == graph.outputShape)
            let y = try Evaluator(graph: transformed).evaluate(x, batch: points)
            try #require(y.count == reference.count)
            for p in 0..<points {
                // Relative to the point's largest output: folding rounds merged constants once
                // (~1e-16 relative), which shifts every output by about that much of the scale.
                let row = reference[(p * m)..<((p + 1) * m)]
                let scale = max(row.map { abs($0) }.max() ?? 0, 1e-12)
                for j in 0..<m {
                    let a = reference[p * m + j], b = y[p * m + j]
                    #expect(abs(a - b) <= 1e-9 * scale,
                            "\(testCase.testDescription) after \(pass.name): point \(p) Y_\(j) = \(b), before \(a)")
                }
            }
        }
    }
}
