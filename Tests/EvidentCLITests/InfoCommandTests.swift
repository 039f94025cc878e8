import Evident
import EvidentTestSupport
import Foundation
import Testing

private let benchmarksAvailable = Comment(rawValue: SharedBenchmarks.missingMessage)

@Suite("evident info")
struct InfoCommandTests {
    static let networkFiles = SharedBenchmarks.files(withExtension: ["onnx", "nnet"])
    static let propertyFiles = SharedBenchmarks.files(withExtension: ["vnnlib"])

    @Test("summarises every benchmark network, as text and as JSON",
          .enabled(if: SharedBenchmarks.available, benchmarksAvailable), arguments: networkFiles)
    func network(_ relative: String) throws {
        let path = SharedBenchmarks.path(relative)
        let (result, json) = try infoJSON(path)
        #expect(Set(json.keys).isSuperset(of: ["inputs", "outputs", "operators", "parameters", "reluNeurons"]), "\(json.keys)")
        for key in ["inputs", "outputs"] {
            let tensors = try #require(json[key] as? [[String: Any]], "\(key) is not an array of objects")
            #expect(tensors.count == 1)
            for tensor in tensors {
                #expect(tensor["name"] is String, "\(key): \(tensor)")
                let shape = try #require(tensor["shape"] as? [Int], "\(key): \(tensor)")
                #expect(!shape.isEmpty && shape.allSatisfy { $0 > 0 })
            }
        }
        #expect(json["operators"] is [String: Int])
        #expect(json["parameters"] is Int)
        #expect(json["reluNeurons"] is Int)
        // The command reports what the library computes.
        let summary = try JSONDecoder().decode(NetworkSummary.self, from: Data(result.standardOutput.utf8))
        #expect(summary == NetworkSummary(try loadNetwork(path: path)))
    }

    @Test("summarises every benchmark property, as text and as JSON",
          .enabled(if: SharedBenchmarks.available, benchmarksAvailable), arguments: propertyFiles)
    func property(_ relative: String) throws {
        let path = SharedBenchmarks.path(relative)
        let (result, json) = try infoJSON(path)
        for key in ["inputs", "outputs", "inputRegions", "outputClauses"] {
            #expect((json[key] as? Int).map { $0 > 0 } == true, "\(key) is not a positive count: \(json)")
        }
        let summary = try JSONDecoder().decode(PropertySummary.self, from: Data(result.standardOutput.utf8))
        #expect(summary == PropertySummary(try loadProperty(path: path)))
    }

    @Test("reports the ReLU neurons of the CIFAR networks",
          .enabled(if: SharedBenchmarks.available, benchmarksAvailable),
          arguments: [("cifar10_resnet/onnx/resnet_2b.onnx", 6244), ("oval21/onnx/cifar_base_kw.onnx", 3172)])
    func reluNeurons(_ relative: String, _ expected: Int) throws {
        let result = try CLI.run("info", SharedBenchmarks.path(relative), "--json")
        #expect(result.status == 0, "\(result)")
        #expect(try CLI.jsonObject(result)["reluNeurons"] as? Int == expected)
    }

    @Test("counts the two input regions of ACAS Xu property 6",
          .enabled(if: SharedBenchmarks.available, benchmarksAvailable))
    func disjunctiveInputRegions() throws {
        let result = try CLI.run("info", SharedBenchmarks.path("acasxu/prop_6.vnnlib"), "--json")
        #expect(result.status == 0, "\(result)")
        let json = try CLI.jsonObject(result)
        #expect(json["inputRegions"] as? Int == 2)
        #expect(json["inputs"] as? Int == 5)
        #expect(json["outputs"] as? Int == 5)
        // Y_0 is not the minimum: 4 clauses, repeated for each region.
        #expect(json["outputClauses"] as? Int == 8)
    }

    @Test("summarises the repository's network")
    func repositoryNetwork() throws {
        let path = SharedBenchmarks.repositoryRoot.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx").path
        try expectTextSucceeds(path)
        let result = try CLI.run("info", path, "--json")
        #expect(result.status == 0, "\(result)")
        let summary = try JSONDecoder().decode(NetworkSummary.self, from: Data(result.standardOutput.utf8))
        #expect(summary.inputs.map(\.shape) == [[1, 1, 8, 8]])
        #expect(summary.outputs.map(\.shape) == [[1, 10]])
        #expect(summary.operators["BatchNormalization"] == 6)
    }

    /// The text form exits 0, prints something and writes nothing to stderr.
    private func expectTextSucceeds(_ path: String) throws {
        let result = try CLI.run("info", path)
        #expect(result.status == 0, "\(result)")
        #expect(!result.standardOutput.isEmpty && result.standardError.isEmpty, "\(result)")
    }

    /// Runs `info` as text and as JSON; both must succeed silently on stderr.
    private func infoJSON(_ path: String) throws -> (CLI.Result, [String: Any]) {
        try expectTextSucceeds(path)
        let result = try CLI.run("info", path, "--json")
        #expect(result.status == 0, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
        return (result, try CLI.jsonObject(result))
    }
}
