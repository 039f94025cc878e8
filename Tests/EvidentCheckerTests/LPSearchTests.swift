import Evident
import EvidentTestSupport
import Foundation
import Testing

/// The LP inside ReLU-split branch and bound: tightenings at the search's root and exact LP
/// decisions of leaves with every ReLU fixed. The truth of each property comes from GLPK's
/// MILP over the whole box (an exact encoding, solved by a different GLPK path), the verdicts
/// from the verifier, and every `unsat` from a certificate the checker accepted.
@Suite("LP in branch and bound")
struct LPSearchTests {
    static let lower = [Double](repeating: -1, count: 4), upper = [Double](repeating: 1, count: 4)

    /// The minimum of output 0 over the box, by MILP.
    static func minimum(_ graph: Graph) throws -> Double {
        let intermediate = BoundPropagator(graph: graph).intermediateBounds(lower: lower, upper: upper, batch: 1)
        let values = graph.values.indices.map { v in
            v == graph.input ? (lower: lower, upper: upper) : (lower: intermediate[v]!.lower, upper: intermediate[v]!.upper)
        }
        let milp = try NetworkLP(network: Factory.network(graph), bounds: values).milp(minimising: [1, 0])
        return try #require(milp.objective)
    }

    static func property(_ threshold: Double) -> Property {
        Factory.property(lower: lower, upper: upper, clauses: [[(terms: [(0, 1)], bound: threshold)]], outputs: 2)
    }

    /// Unsafe: y₀ ≤ threshold; ReLU splitting only (no input splits), no α-CROWN at the root.
    static func verify(_ graph: Graph, threshold: Double, babIterations: Int = 8, lpTightenings: Int = 32,
                       milpBinaries: Int = 0, attack: Bool = true) -> VerificationResult {
        let settings = VerifierSettings(timeout: 30, attack: AttackSettings(restarts: attack ? 8 : 0), alphaIterations: 0,
                                        babIterations: babIterations, inputSplitDimensions: 0, lpTightenings: lpTightenings,
                                        milpBinaries: milpBinaries)
        return Verifier(network: Factory.network(graph), property: property(threshold),
                        modelBinding: FileBinding(path: "model.onnx", sha256: Factory.modelDigest),
                        propertyBinding: FileBinding(path: "property.vnnlib", sha256: Factory.propertyDigest),
                        settings: settings).run()
    }

    static func check(_ certificate: Certificate, _ graph: Graph, threshold: Double) -> CheckReport {
        Checker.check(certificate, network: Factory.network(graph), modelDigest: Factory.modelDigest, property: property(threshold),
                      propertyDigest: Factory.propertyDigest, progress: nil)
    }

    /// Just below the true minimum every answer is `unsat`, with tightenings at the root of
    /// the ReLU-split tree that the checker replays in order; a tightening claimed beyond
    /// what its multipliers give is rejected.
    @Test func tighteningsAtTheSearchRootAreCheckedAndInherited() throws {
        var tightenedProofs = 0, tightened = 0, plain = 0
        for seed in UInt64(0)..<8 {
            let graph = try RandomNetworks.dense(seed: 100 + seed, inputs: 4, hidden: [12, 12, 12], outputs: 2)
            let truth = try Self.minimum(graph)
            let threshold = truth - 0.02 * max(1, abs(truth))
            let result = Self.verify(graph, threshold: threshold)
            #expect(result.verdict == .unsat, "seed \(seed): \(result.verdict) (\(result.reason ?? ""))")
            let without = Self.verify(graph, threshold: threshold, lpTightenings: 0)
            #expect(without.verdict == .unsat, "seed \(seed) without tightenings: \(without.verdict) (\(without.reason ?? ""))")
            guard let certificate = result.certificate, let proof = certificate.unsatProof,
                  let tree = proof.regions[0].trees.last, let t = tree.nodes[0].tightenings.first else { continue }
            tightenedProofs += 1
            tightened += result.subdomains
            plain += without.subdomains
            var tampered = proof
            let bump = 0.5 * max(1, abs(t.value))
            tampered.regions[0].trees[proof.regions[0].trees.count - 1].nodes[0].tightenings[0].value += t.side == .lower ? bump : -bump
            var bad = certificate
            bad.claim = .unsat(tampered)
            let report = Self.check(bad, graph, threshold: threshold)
            #expect(!report.valid && report.reason?.contains("does not reach the claimed") == true, "\(report.reason ?? "accepted")")
        }
        #expect(tightenedProofs >= 4, "too few seeds where the search root got LP tightenings")
        // Tighter inherited bounds: fewer subdomains in all (the searches differ, so per seed it may go either way).
        #expect(tightened < plain, "subdomains with tightenings \(tightened), without \(plain)")
    }

    /// Without β optimisation and without tightenings, subdomains with every ReLU fixed are
    /// left to the LP: it refutes them with checked duals when the property holds, and its
    /// optimum is a counterexample (confirmed concretely) when it does not.
    @Test func leavesWithEveryReluFixedAreDecidedByTheLP() throws {
        var lpLeaves = 0, satByLP = 0
        for seed in UInt64(0)..<10 {
            let graph = try RandomNetworks.dense(seed: 200 + seed, inputs: 4, hidden: [5, 5], outputs: 2)
            let truth = try Self.minimum(graph)
            for (offset, expected) in [(-1e-3, Verdict.unsat), (1e-3, Verdict.sat)] {
                let threshold = truth + offset * max(1, abs(truth))
                let result = Self.verify(graph, threshold: threshold, babIterations: 0, lpTightenings: 0, attack: false)
                let account = "seed \(seed), threshold \(threshold) (minimum \(truth)): \(result.verdict) by \(result.method)"
                #expect(result.verdict == expected, "\(account) (\(result.reason ?? ""))")
                if result.method == "ReLU-split branch and bound (LP at a leaf)" { satByLP += 1 }
                guard let proof = result.certificate?.unsatProof else { continue }
                lpLeaves += proof.regions[0].trees.dropFirst().reduce(0) { total, tree in
                    total + tree.nodes.dropFirst().filter { $0.refutations.contains { $0.lpDual != nil } }.count
                }
            }
        }
        #expect(lpLeaves > 0, "no leaf was refuted by the LP")
        #expect(satByLP > 0, "no counterexample came from a leaf's LP")
    }

    /// Without an attack, the MILP at the root finds counterexamples just above the minimum
    /// (confirmed by the checker), and just below it the answer is still a checked `unsat`
    /// (the MILP's own "none" is not a proof), with the MILP's finding in no way needed.
    @Test func theMILPFindsCounterexamplesAndNeverProves() throws {
        var byMILP = 0
        for seed in UInt64(0)..<8 {
            let graph = try RandomNetworks.dense(seed: 300 + seed, inputs: 4, hidden: [6, 6], outputs: 2)
            let truth = try Self.minimum(graph)
            for (offset, expected) in [(-1e-3, Verdict.unsat), (1e-3, Verdict.sat)] {
                let threshold = truth + offset * max(1, abs(truth))
                let result = Self.verify(graph, threshold: threshold, milpBinaries: 40, attack: false)
                #expect(result.verdict == expected, "seed \(seed), offset \(offset): \(result.verdict) by \(result.method) (\(result.reason ?? ""))")
                #expect(expected == .sat || result.method != "MILP (GLPK)")
                if result.method == "MILP (GLPK)" { byMILP += 1 }
            }
        }
        #expect(byMILP >= 2, "the MILP found \(byMILP) counterexamples")
    }
}
