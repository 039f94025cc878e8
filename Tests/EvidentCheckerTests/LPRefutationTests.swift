import Evident
import EvidentTestSupport
import Foundation
import Testing

/// The verifier's LP stage end to end: over the same CROWN intermediate bounds the canonical
/// LP is at least as tight as CROWN, and with a threshold between the two bounds the verifier
/// proves the property by an LP refutation whose GLPK duals the checker accepts.
@Suite("LP refutations in the verifier")
struct LPRefutationTests {
    static let lower = [Double](repeating: -1, count: 4), upper = [Double](repeating: 1, count: 4)

    /// The CROWN and LP lower bounds of output 0 over the box.
    static func bounds(_ graph: Graph) throws -> (crown: Double, lp: Double) {
        let propagator = BoundPropagator(graph: graph)
        let intermediate = propagator.intermediateBounds(lower: lower, upper: upper, batch: 1)
        let spec = LinearSpecification(rows: 1, coefficients: [1, 0])
        let crown = propagator.finalBounds(of: spec, lower: lower, upper: upper, batch: 1, intermediate: intermediate,
                                           settings: FinalBoundSettings(iterations: 0)).lower[0]
        let values = graph.values.indices.map { v in
            v == graph.input ? (lower: lower, upper: upper) : (lower: intermediate[v]!.lower, upper: intermediate[v]!.upper)
        }
        let lp = try NetworkLP(network: Factory.network(graph), bounds: values)
        return (crown, try #require(try lp.solveMinimum(of: [1, 0]).dualBound))
    }

    static func verify(_ graph: Graph, threshold: Double, lpColumns: Int = 5_000) -> VerificationResult {
        // Unsafe: y₀ ≤ threshold. No α-CROWN and no input splitting, so that only the LP or
        // ReLU-split branch and bound can prove it.
        let property = Factory.property(lower: lower, upper: upper, clauses: [[(terms: [(0, 1)], bound: threshold)]], outputs: 2)
        let settings = VerifierSettings(timeout: 20, alphaIterations: 0, inputSplitDimensions: 0, lpColumns: lpColumns)
        return Verifier(network: Factory.network(graph), property: property,
                        modelBinding: FileBinding(path: "model.onnx", sha256: Factory.modelDigest),
                        propertyBinding: FileBinding(path: "property.vnnlib", sha256: Factory.propertyDigest),
                        settings: settings).run()
    }

    @Test func lpProvesWhatCrownDoesNotAndTheCheckerAcceptsItsDuals() throws {
        var proved = 0
        for seed in UInt64(0)..<12 {
            let graph = try RandomNetworks.dense(seed: seed, inputs: 4, hidden: [12, 12], outputs: 2)
            let (crown, lp) = try Self.bounds(graph)
            #expect(lp >= crown - 1e-9 * max(1, abs(crown)), "seed \(seed): LP \(lp) below CROWN \(crown)")
            guard lp - crown > 1e-3 else { continue }
            let threshold = (crown + lp) / 2
            let result = Self.verify(graph, threshold: threshold)
            #expect(result.verdict == .unsat && result.method == "LP (GLPK)",
                    "seed \(seed): \(result.verdict) by \(result.method) (\(result.reason ?? ""))")
            guard let certificate = result.certificate, let proof = certificate.unsatProof else { continue }
            let refutation = try #require(proof.regions.first?.trees.first?.nodes.first?.refutations.first)
            #expect(refutation.lpDual != nil)
            // Negated multipliers put the ReLU rows' ones against their infinite sides.
            var tampered = proof
            tampered.regions[0].trees[0].nodes[0].refutations[0].lpDual = refutation.lpDual!.map { -$0 }
            var bad = certificate
            bad.claim = .unsat(tampered)
            let report = Checker.check(bad, network: Factory.network(graph), modelDigest: Factory.modelDigest,
                                       property: Factory.property(lower: Self.lower, upper: Self.upper,
                                                                  clauses: [[(terms: [(0, 1)], bound: threshold)]], outputs: 2),
                                       propertyDigest: Factory.propertyDigest, progress: nil)
            #expect(!report.valid && report.reason?.contains("of the wrong sign for its row's infinite side") == true,
                    "\(report.reason ?? "accepted")")
            // Without the LP stage the proof needs ReLU splits.
            let withoutLP = Self.verify(graph, threshold: threshold, lpColumns: 0)
            #expect(withoutLP.method != "LP (GLPK)")
            proved += 1
        }
        #expect(proved >= 3, "too few seeds where the LP is clearly tighter than CROWN")
    }
}
