import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

@Suite("Root refutations on the shared test networks")
struct RootRefutationTests {
    static let cases = [("test/test_tiny.onnx", "test/test_tiny.vnnlib"), ("test/test_small.onnx", "test/test_small.vnnlib"),
                        ("test/test_unsat.onnx", "test/test_prop.vnnlib")]

    @Test(arguments: cases)
    func rootProofIsValid(model: String, spec: String) throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let network = try loadNetwork(path: SharedBenchmarks.path(model))
        let property = try loadProperty(path: SharedBenchmarks.path(spec), for: network)
        let proof = try #require(try Factory.rootProof(network, property), "CROWN should refute \(spec) at the root")
        let report = Factory.check(Factory.certificate(.unsat(proof)), network, property)
        #expect(report.valid, "\(report.reason ?? "")")
        #expect(report.statistics.refutations == property.outputClauseCount)
    }

    @Test func satWitnessOfTestSat() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let network = try loadNetwork(path: SharedBenchmarks.path("test/test_sat.onnx"))
        let property = try loadProperty(path: SharedBenchmarks.path("test/test_prop.vnnlib"), for: network)
        let files = try FileManager.default.contentsOfDirectory(atPath: SharedBenchmarks.path("test/counterexamples"))
        let file = try #require(files.first { $0.contains("test_sat") })
        let text = try String(contentsOfFile: SharedBenchmarks.path("test/counterexamples/\(file)"), encoding: .utf8)
        var input = [Double]()
        for match in text.split(separator: "(") where match.hasPrefix("X_") {
            let parts = match.split(whereSeparator: { $0 == " " || $0 == ")" || $0 == "\n" })
            input.append(try #require(Double(parts[1])))
        }
        #expect(input.count == 5)
        var found = false
        for (r, region) in property.regions.enumerated() {
            for c in region.clauses.indices {
                let report = Factory.check(Factory.certificate(.sat(Witness(region: UInt32(r), clause: UInt32(c), input: input))),
                                           network, property)
                found = found || report.valid
            }
        }
        #expect(found, "the shared counterexample should be confirmed for some clause")
    }
}
