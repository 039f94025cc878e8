import Evident
import EvidentTestSupport
import Foundation
import Testing

/// A network and a property whose first input region's centre is evaluated.
struct CentreCase: Sendable, CustomTestStringConvertible {
    var model: String
    var property: String

    var testDescription: String { "\((model as NSString).lastPathComponent) at \((property as NSString).lastPathComponent)" }

    static let shared = [
        CentreCase(model: "acasxu/ACASXU_run2a_1_1_batch_2000.onnx", property: "acasxu/prop_1.vnnlib"),
        CentreCase(model: "acasxu/nnet/ACASXU_experimental_v2a_1_1.nnet", property: "acasxu/prop_6.vnnlib"),
        CentreCase(model: "test/test_nano.onnx", property: "test/test_nano.vnnlib"),
        CentreCase(model: "cifar10_resnet/onnx/resnet_2b.onnx", property: "cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib"),
        CentreCase(model: "oval21/onnx/cifar_base_kw.onnx",
                   property: "oval21/vnnlib/cifar_base_kw-img4549-eps0.00392156862745098.vnnlib"),
    ].map { CentreCase(model: SharedBenchmarks.path($0.model), property: SharedBenchmarks.path($0.property)) }

    static let repository = [
        CentreCase(model: repositoryPath("Networks/digits_resnet/digits_resnet.onnx"),
                   property: repositoryPath("Specs/digits_resnet_img866_eps0.05.vnnlib")),
    ]
}

func repositoryPath(_ relative: String) -> String {
    SharedBenchmarks.repositoryRoot.appendingPathComponent(relative).path
}

@Suite("evident eval")
struct EvalCommandTests {
    @Test("--center gives the Evaluator's outputs at the box centre",
          .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)),
          arguments: CentreCase.shared)
    func centreOfSharedProperty(_ testCase: CentreCase) throws {
        try expectCentreOutputs(testCase)
    }

    @Test("--center on the repository's network", arguments: CentreCase.repository)
    func centreOfRepositoryProperty(_ testCase: CentreCase) throws {
        try expectCentreOutputs(testCase)
    }

    @Test("--input predicts the label of the example digit")
    func exampleInput() throws {
        let model = repositoryPath("Networks/digits_resnet/digits_resnet.onnx")
        let input = repositoryPath("Networks/digits_resnet/example_input.txt")
        let labelText = try String(contentsOfFile: repositoryPath("Networks/digits_resnet/example_label.txt"), encoding: .utf8)
        let label = try #require(Int(labelText.trimmingCharacters(in: .whitespacesAndNewlines)))

        let result = try CLI.run("eval", model, "--input", input, "--json")
        #expect(result.status == 0 && result.standardError.isEmpty, "\(result)")
        let json = try CLI.jsonObject(result)
        #expect(json["argmax"] as? Int == label, "\(result)")
        let outputs = try #require(json["outputs"] as? [Double])
        #expect(outputs.count == 10)
        #expect(outputs.indices.max { outputs[$0] < outputs[$1] } == label)

        let text = try CLI.run("eval", model, "--input", input)
        #expect(text.status == 0 && text.standardError.isEmpty, "\(text)")
        #expect(text.standardOutput.split(separator: "\n").contains("argmax: \(label)"), "\(text)")
    }

    private func expectCentreOutputs(_ testCase: CentreCase) throws {
        let result = try CLI.run("eval", testCase.model, "--center", testCase.property, "--json")
        #expect(result.status == 0 && result.standardError.isEmpty, "\(result)")
        let json = try CLI.jsonObject(result)
        let outputs = try #require(json["outputs"] as? [Double], "\(result)")

        let network = try loadNetwork(path: testCase.model)
        let region = try #require(try loadProperty(path: testCase.property, for: network).regions.first)
        let centre = zip(region.lower, region.upper).map { ($0 + $1) / 2 }
        let expected = try Evaluator(graph: network.graph).evaluate(centre)
        #expect(outputs.count == expected.count)
        // Same library, same input: only the JSON round trip could differ, and it is exact for doubles.
        for (j, (ours, reference)) in zip(outputs, expected).enumerated() {
            #expect(abs(ours - reference) <= 1e-12 * max(1, abs(reference)), "Y_\(j): \(ours) vs \(reference)")
        }
        #expect(json["argmax"] as? Int == expected.indices.max { expected[$0] < expected[$1] })
    }
}
