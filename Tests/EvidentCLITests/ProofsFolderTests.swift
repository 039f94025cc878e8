import EvidentTestSupport
import Foundation
import Testing

/// The saved proofs in `Proofs/` hold for the shipped network and properties, and the same
/// check fails on a copy where the network or a property was changed (what CI relies on).
@Suite struct ProofsFolderTests {
    static let root = SharedBenchmarks.repositoryRoot

    /// A copy of Proofs/, Networks/ and Specs/ in a temporary folder (same relative layout).
    func copyOfTheRepositoryFiles() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for name in ["Proofs", "Networks", "Specs"] {
            try FileManager.default.copyItem(at: Self.root.appendingPathComponent(name), to: folder.url.appendingPathComponent(name))
        }
        return folder
    }

    @Test func savedProofsAreValid() throws {
        let result = try CLI.run("check", Self.root.appendingPathComponent("Proofs").path)
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput.contains("0 invalid"), "\(result)")
    }

    @Test func aChangedNetworkMakesEveryProofStale() throws {
        let folder = try copyOfTheRepositoryFiles()
        let model = folder.url.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx")
        var bytes = [UInt8](try Data(contentsOf: model))
        bytes[bytes.count - 100] ^= 1  // one bit of the last initializer's data
        try Data(bytes).write(to: model)
        let result = try CLI.run("check", folder.url.appendingPathComponent("Proofs").path)
        #expect(result.status == 1, "\(result)")
        #expect(result.standardOutput.contains("stale model"), "\(result)")
    }

    @Test func aChangedPropertyMakesItsProofStale() throws {
        let folder = try copyOfTheRepositoryFiles()
        let property = folder.url.appendingPathComponent("Specs/digits_resnet_img2_eps0.01.vnnlib")
        let text = try String(contentsOf: property, encoding: .utf8)
        let range = try #require(text.range(of: "(assert (<= X_0 "))
        let end = try #require(text[range.upperBound...].firstIndex(of: ")"))
        var changed = text
        changed.replaceSubrange(range.upperBound..<end, with: "0.5")
        try changed.write(to: property, atomically: true, encoding: .utf8)
        let result = try CLI.run("check", folder.url.appendingPathComponent("Proofs").path)
        #expect(result.status == 1, "\(result)")
        #expect(result.standardOutput.contains("stale property"), "\(result)")
    }
}
