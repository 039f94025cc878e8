import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// Writes certificate files for timing the release `evident check` by hand:
/// `EVIDENT_CHECK_FIXTURES=/tmp/folder swift test --filter FixtureWriter` (does nothing otherwise).
@Suite("Fixture writer (timing certificates, off unless EVIDENT_CHECK_FIXTURES is set)")
struct FixtureWriter {
    static let folder = ProcessInfo.processInfo.environment["EVIDENT_CHECK_FIXTURES"]

    func binding(_ path: String) throws -> FileBinding {
        FileBinding(path: path, sha256: try ContentDigest.of(path: path))
    }

    /// One root node refuting every clause's first constraint (valid or not, the work is the same).
    func writeRoot(model: String, spec: String, name: String) throws {
        guard let folder = Self.folder, SharedBenchmarks.available else { return }
        let network = try loadNetwork(path: SharedBenchmarks.path(model))
        let property = try loadProperty(path: SharedBenchmarks.path(spec), for: network)
        let region = property.regions[0]
        let refutations = region.clauses.indices.map { Refutation(clause: UInt32($0), constraint: 0) }
        let proof = UnsatProof(regions: [RegionProof(trees: [ProofTree(slopeLayers: [], nodes: [ProofNode(refutations: refutations)])])])
        let certificate = Certificate(model: try binding(SharedBenchmarks.path(model)),
                                      property: try binding(SharedBenchmarks.path(spec)), producer: "fixture", claim: .unsat(proof))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try certificate.write(to: "\(folder)/\(name).evcert")
    }

    @Test func resnet() throws {
        try writeRoot(model: "cifar10_resnet/onnx/resnet_2b.onnx", spec: "cifar10_resnet/vnnlib/prop_0_eps_0.008.vnnlib", name: "resnet_2b_prop0")
    }

    @Test func oval() throws {
        let spec = SharedBenchmarks.csvRows("oval21/instances.csv", header: false).first?[1] ?? ""
        try writeRoot(model: "oval21/onnx/cifar_base_kw.onnx", spec: "oval21/\(spec)", name: "oval21_first")
    }

    @Test func acasTree() throws {
        guard let folder = Self.folder, SharedBenchmarks.available else { return }
        let model = SharedBenchmarks.path("acasxu/ACASXU_run2a_1_1_batch_2000.onnx")
        let spec = SharedBenchmarks.path(ProcessInfo.processInfo.environment["EVIDENT_CHECK_ACAS_PROP"] ?? "acasxu/prop_2.vnnlib")
        let network = try loadNetwork(path: model)
        let property = try loadProperty(path: spec, for: network)
        var trees = [RegionProof]()
        for region in property.regions {
            let tree = try #require(try Factory.bisectionTree(network, region, maxNodes: 20000))
            trees.append(RegionProof(trees: [tree]))
            print("ACAS tree: \(tree.nodes.count) nodes, \(tree.nodes.filter { $0.branch == nil }.count) leaves")
        }
        let certificate = Certificate(model: try binding(model), property: try binding(spec), producer: "fixture",
                                      claim: .unsat(UnsatProof(regions: trees)))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try certificate.write(to: "\(folder)/acas_1_1_tree.evcert")
    }
}
