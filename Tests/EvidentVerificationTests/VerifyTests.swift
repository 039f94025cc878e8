import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Runs the verifier in-process on a model and property given by path.
func verify(model: String, property: String, timeout: Double) throws -> VerificationResult {
    let network = try loadNetwork(path: model)
    let spec = try loadProperty(path: property, for: network)
    let verifier = Verifier(network: network, property: spec,
                            modelBinding: FileBinding(path: model, sha256: try InputFile.contentDigest(path: model)),
                            propertyBinding: FileBinding(path: property, sha256: try InputFile.contentDigest(path: property)),
                            settings: VerifierSettings(timeout: timeout))
    return verifier.run()
}

@Suite struct ShippedPropertyTests {
    static let root = SharedBenchmarks.repositoryRoot
    /// The rows of `Specs/expected.csv`, paths made relative to the repository (the file's are
    /// relative to `Specs/`, VNN-COMP's convention).
    static var expected: [(model: String, property: String, result: String)] {
        guard let text = try? String(contentsOf: root.appendingPathComponent("Specs/expected.csv"), encoding: .utf8) else { return [] }
        func fromRoot(_ path: String) -> String { URL(fileURLWithPath: "/Specs/" + path).standardizedFileURL.path.dropFirst().description }
        return text.split(whereSeparator: \.isNewline).dropFirst().map { line in
            let cells = line.split(separator: ",").map(String.init)
            return (fromRoot(cells[0]), fromRoot(cells[1]), cells[2])
        }
    }

    /// Every shipped property is decided as `Specs/expected.csv` says (an `unknown` row accepts
    /// any answer but a wrong one: it has no trusted answer), and every answer's certificate was
    /// accepted by the checker.
    @Test(arguments: expected.map { "\($0.property)|\($0.result)" })
    func shippedPropertyVerdict(_ row: String) throws {
        let parts = row.split(separator: "|").map(String.init)
        let (property, expected) = (parts[0], parts[1])
        let model = Self.expected.first { $0.property == property }!.model
        let result = try verify(model: Self.root.appendingPathComponent(model).path,
                                property: Self.root.appendingPathComponent(property).path, timeout: expected == "unknown" ? 10 : 60)
        switch expected {
        case "unsat", "sat":
            #expect(result.verdict.rawValue == expected, "\(property): \(result.verdict) (\(result.reason ?? ""))")
        default:
            #expect(result.verdict != .sat || result.check?.valid == true)
        }
        if result.verdict == .sat || result.verdict == .unsat {
            #expect(result.check?.valid == true, "\(property): the verdict's certificate must have been accepted")
        }
    }
}

@Suite(.enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
struct SharedInstanceTests {
    /// The shared `test/` instances and a few quick ACAS Xu ones, against the ground truth.
    static let instances: [(model: String, property: String, truth: String)] = [
        ("test/test_nano.onnx", "test/test_nano.vnnlib", "unsat"),
        ("test/test_tiny.onnx", "test/test_tiny.vnnlib", "unsat"),
        ("test/test_small.onnx", "test/test_small.vnnlib", "unsat"),
        ("test/test_sat.onnx", "test/test_prop.vnnlib", "sat"),
        ("test/test_unsat.onnx", "test/test_prop.vnnlib", "unsat"),
        ("acasxu/ACASXU_run2a_1_1_batch_2000.onnx", "acasxu/prop_1.vnnlib", "unsat"),
        ("acasxu/ACASXU_run2a_1_4_batch_2000.onnx", "acasxu/prop_3.vnnlib", "unsat"),
        ("acasxu/ACASXU_run2a_1_7_batch_2000.onnx", "acasxu/prop_3.vnnlib", "sat"),
        ("acasxu/ACASXU_run2a_1_4_batch_2000.onnx", "acasxu/prop_2.vnnlib", "sat"),
    ]

    @Test(arguments: instances.map { "\($0.model)|\($0.property)|\($0.truth)" })
    func verdictMatchesGroundTruth(_ row: String) throws {
        let parts = row.split(separator: "|").map(String.init)
        let result = try verify(model: SharedBenchmarks.path(parts[0]), property: SharedBenchmarks.path(parts[1]), timeout: 60)
        #expect(result.verdict.rawValue == parts[2], "\(parts[0]) \(parts[1]): \(result.verdict) (\(result.reason ?? ""))")
        #expect(result.check?.valid == true)
        if let counterexample = result.counterexample {
            // The witness lies inside the property's box exactly and reproduces the outputs.
            let property = try loadProperty(path: SharedBenchmarks.path(parts[1]))
            let region = property.regions[counterexample.region]
            #expect(region.containsInner(counterexample.input))
            let outputs = try Evaluator(graph: try loadNetwork(path: SharedBenchmarks.path(parts[0])).graph).evaluate(counterexample.input)
            #expect(outputs == counterexample.outputs)
        }
    }
}
