import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// Files for file-mode and command-line tests: copies of the shared test_tiny network and
/// property in a temporary folder, and certificates about them.
final class CertificateFolder {
    let url: URL
    let model: String
    let property: String

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("evident-check-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        model = url.appendingPathComponent("tiny.onnx").path
        property = url.appendingPathComponent("tiny.vnnlib").path
        try FileManager.default.copyItem(atPath: SharedBenchmarks.path("test/test_tiny.onnx"), toPath: model)
        try FileManager.default.copyItem(atPath: SharedBenchmarks.path("test/test_tiny.vnnlib"), toPath: property)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A valid root proof of test_tiny, with relative paths (or `claim` instead).
    func write(_ name: String, claim: Claim? = nil) throws -> String {
        let network = try loadNetwork(path: model)
        let spec = try loadProperty(path: property, for: network)
        let proof = try #require(try Factory.rootProof(network, spec))
        let certificate = Certificate(model: FileBinding(path: "tiny.onnx", sha256: try ContentDigest.of(path: model)),
                                      property: FileBinding(path: "tiny.vnnlib", sha256: try ContentDigest.of(path: property)),
                                      producer: "tests", claim: claim ?? .unsat(proof))
        let path = url.appendingPathComponent(name).path
        try certificate.write(to: path)
        return path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

@Suite("File mode")
struct FileModeTests {
    @Test func validCertificateFromRecordedPaths() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        let report = try EvidentChecker.Checker.check(certificatePath: try folder.write("good.evcert"))
        #expect(report.valid, "\(report.reason ?? "")")
    }

    @Test func truncatedCertificateIsUnreadable() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        let path = try folder.write("cut.evcert")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        #expect(throws: CertificateError.self) { try EvidentChecker.Checker.check(certificatePath: path) }
    }

    /// One weight's last bit changed in the ONNX file: the digest no longer matches.
    @Test func modelWithOneBitChangedIsStale() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        let path = try folder.write("good.evcert")
        let network = try loadNetwork(path: folder.model)
        guard case .linear(let lin)? = network.graph.nodes.lazy.map(\.operation).first(where: {
            if case .linear = $0 { return true } else { return false }
        }) else { Issue.record("no linear node"); return }
        let pattern = withUnsafeBytes(of: Float(lin.weight.scalars[0]).bitPattern.littleEndian) { Array($0) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.model)))
        let at = try #require((0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == pattern })
        bytes[at] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: folder.model))
        let report = try EvidentChecker.Checker.check(certificatePath: path)
        #expect(!report.valid)
        #expect(report.reason?.hasPrefix("stale model: \(folder.model)") == true, "\(report.reason ?? "")")
    }

    @Test func propertyWithOneBoundChangedIsStale() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        let path = try folder.write("good.evcert")
        let text = try String(contentsOfFile: folder.property, encoding: .utf8)
        try text.replacingOccurrences(of: "(>= Y_0 100)", with: "(>= Y_0 99)").write(toFile: folder.property, atomically: true,
                                                                                      encoding: .utf8)
        let report = try EvidentChecker.Checker.check(certificatePath: path)
        #expect(!report.valid && report.reason?.hasPrefix("stale property") == true, "\(report.reason ?? "")")
        // In process, the changed property with the old digest: the refutation still holds
        // (the threshold moved away), but a changed threshold past the bound fails.
        let network = try loadNetwork(path: folder.model)
        var spec = try loadProperty(path: folder.property, for: network)
        let certificate = try Certificate(path: path)
        spec.regions[0].clauses[0].constraints[0].bound = 1e6
        let inProcess = EvidentChecker.Checker.check(certificate, network: network, modelDigest: certificate.model.sha256, property: spec,
                                      propertyDigest: certificate.property!.sha256, progress: nil)
        #expect(!inProcess.valid && inProcess.reason?.contains("does not exceed the threshold") == true)
    }
}

@Suite("evident check (command line)")
struct CheckCommandTests {
    static let executable: URL? = {
        var candidates = [URL]()
        if let path = ProcessInfo.processInfo.environment["EVIDENT_EXECUTABLE"], !path.isEmpty {
            candidates.append(URL(fileURLWithPath: path))
        }
        if let main = Bundle.main.executableURL {
            candidates.append(main.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("evident"))
        }
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("evident"))
        }
        candidates.append(SharedBenchmarks.repositoryRoot.appendingPathComponent(".build/debug/evident"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    func run(_ arguments: [String]) throws -> Run {
        let executable = try #require(Self.executable, "the evident executable was not found (build it, or set EVIDENT_EXECUTABLE)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evident-check-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("out"), errURL = folder.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Run(status: process.terminationStatus, out: try String(contentsOf: outURL, encoding: .utf8),
                   err: try String(contentsOf: errURL, encoding: .utf8))
    }

    @Test func singleCertificates() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        let good = try run(["check", try folder.write("good.evcert")])
        #expect(good.status == 0 && good.out.hasPrefix("valid\n"), "\(good)")
        // A multiplier where the path has no split: invalid, exit 1.
        let bad = try folder.write("bad.evcert", claim: .unsat(UnsatProof(regions: [RegionProof(trees: [ProofTree(
            slopeLayers: [], nodes: [ProofNode(refutations: [Refutation(clause: 0, constraint: 0, betas: [1])])])])])))
        let invalid = try run(["check", bad])
        #expect(invalid.status == 1 && invalid.out.hasPrefix("invalid: tree 0 node 0 refutation 0: 1 multipliers"), "\(invalid)")
        let json = try run(["check", bad, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false && (object["reason"] as? String)?.isEmpty == false)
        #expect((object["statistics"] as? [String: Any])?["nodes"] as? Int == 1)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder.path("junk.evcert")))
        let unreadable = try run(["check", folder.path("junk.evcert")])
        #expect(unreadable.status == 2 && unreadable.err.hasPrefix("error: "), "\(unreadable)")
        let explicit = try run(["check", try folder.write("good2.evcert"), "--model", folder.model, "--property", folder.property])
        #expect(explicit.status == 0)
        let help = try run(["check", "--help"])
        #expect(help.status == 0 && help.out.contains("manifest.csv") && help.out.contains("--junit"))
    }

    @Test func manifestMode() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let folder = try CertificateFolder()
        _ = try folder.write("a.evcert")
        _ = try folder.write("b.evcert")
        try "certificate,model,property\na.evcert,tiny.onnx,tiny.vnnlib\nb.evcert,,\n"
            .write(toFile: folder.path("manifest.csv"), atomically: true, encoding: .utf8)
        let junit = folder.path("report.xml")
        let ok = try run(["check", folder.url.path, "--junit", junit])
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.out.contains("2 certificates: 2 valid, 0 invalid, 0 unreadable"))
        #expect(ok.err.contains("[1/2]") && ok.err.contains("[2/2]"))
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("tests=\"2\" failures=\"0\" errors=\"0\"") && xml.components(separatedBy: "<testcase").count == 3)

        _ = try folder.write("c.evcert", claim: .unsat(UnsatProof(regions: [])))
        try "certificate,model,property\na.evcert,tiny.onnx,tiny.vnnlib\nc.evcert,,\n"
            .write(toFile: folder.path("manifest.csv"), atomically: true, encoding: .utf8)
        let mixed = try run(["check", folder.url.path, "--junit", junit, "--json"])
        #expect(mixed.status == 1, "\(mixed)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(mixed.out.utf8)) as? [String: Any])
        #expect(object["valid"] as? Int == 1 && object["invalid"] as? Int == 1)
        let failing = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(failing.contains("<failure message=\"the proof has 0 region proofs"))

        try "certificate,model,property\nmissing.evcert,,\n".write(toFile: folder.path("manifest.csv"), atomically: true, encoding: .utf8)
        let missing = try run(["check", folder.url.path])
        #expect(missing.status == 2 && missing.out.contains("1 unreadable"), "\(missing)")
        try "wrong header\n".write(toFile: folder.path("manifest.csv"), atomically: true, encoding: .utf8)
        #expect(try run(["check", folder.url.path]).status == 2)
    }
}
