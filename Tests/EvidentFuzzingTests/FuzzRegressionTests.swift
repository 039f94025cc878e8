import EvidentFuzzing
import EvidentTestSupport
import Foundation
import Testing

/// Every input on which a fuzz target once crashed, hung, ran out of memory or broke a
/// containment check (`scripts/fuzz.sh`), replayed through the same target, with the
/// hand-made seeds kept beside them (`seed-*`; `scripts/fuzz.sh` seeds its corpus from here). A regression is a
/// crash of this test process, so each input runs in its own test case, named after its file.
@Suite("Fuzz findings replayed")
struct FuzzRegressionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// (target, file) for every kept finding.
    static let findings: [FuzzFinding] = FuzzTarget.allCases.flatMap { target -> [FuzzFinding] in
        let folder = fixtures.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { FuzzFinding(target: target, path: folder.appendingPathComponent($0).path) }
    }

    @Test(arguments: findings)
    func replay(_ finding: FuzzFinding) throws {
        let bytes = try #require(FileManager.default.contents(atPath: finding.path))
        finding.target.run([UInt8](bytes))
    }

    /// The targets' oracles hold on well-formed inputs: the readers accept them and, for the
    /// networks, evaluation stays inside IBP's and CROWN's bounds (a failure stops the process).
    @Test func seedsPassTheOracles() throws {
        let root = SharedBenchmarks.repositoryRoot
        let network = root.appendingPathComponent("Networks/digits_resnet/digits_resnet.onnx")
        let property = root.appendingPathComponent("Specs/digits_resnet_img2_eps0.01.vnnlib")
        let proof = root.appendingPathComponent("Proofs/digits_resnet_img2_eps0.01.proof")
        // vnnlib2 on a 1.0 property: converted to 2.0 and parsed back with the same boxes.
        for (target, url) in [(FuzzTarget.onnx, network), (.vnnlib, property), (.vnnlib2, property), (.certificate, proof)] {
            let bytes = try #require(FileManager.default.contents(atPath: url.path))
            #expect(target.run([UInt8](bytes)), "\(target.rawValue) rejects \(url.lastPathComponent)")
        }
    }

    /// The hand-written 2.0 queries that seed `vnnlib2` parse, so that their constructs reach
    /// the target's checks (a refused seed covers nothing past its error).
    @Test(arguments: findings.filter { $0.target == .vnnlib2 && $0.testDescription.contains("/seed-") })
    func versionTwoSeedsAreAccepted(_ seed: FuzzFinding) throws {
        let bytes = try #require(FileManager.default.contents(atPath: seed.path))
        #expect(seed.target.run([UInt8](bytes)), "vnnlib2 rejects \(seed.testDescription)")
    }
}

struct FuzzFinding: CustomTestStringConvertible, Sendable {
    var target: FuzzTarget
    var path: String
    var testDescription: String { "\(target.rawValue)/\((path as NSString).lastPathComponent)" }
}
