import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// `y = relu(x) + relu(−x)` on `x ∈ [−1, 2]`, unsafe `y ≤ −0.01` (false everywhere: y = |x|).
/// CROWN fails at the root (default slopes 1 and 0 give `y ≥ x ≥ −1`); splitting neuron 0
/// refutes: its inactive side with β = 0, its active side only with β > 0.
enum SplitNetwork {
    static func network() throws -> Network {
        var b = GraphBuilder(inputName: "x", inputShape: [1, 1])
        var v = try b.add(.linear(Linear(weight: Tensor(shape: [2, 1], scalars: [1, -1]), bias: nil)), inputs: [b.inputValue],
                          name: "fc0")
        v = try b.add(.relu, inputs: [v], name: "relu")
        v = try b.add(.linear(Linear(weight: Tensor(shape: [1, 2], scalars: [1, 1]), bias: nil)), inputs: [v], name: "fc1")
        return Factory.network(try b.build(output: v))
    }

    static let property = Factory.property(lower: [-1], upper: [2], clauses: [[(terms: [(0, 1)], bound: -0.01)]], outputs: 1)

    static func refutation(_ betas: [Double]) -> Refutation { Refutation(clause: 0, constraint: 0, betas: betas) }

    /// Root split on neuron 0; low (inactive) refutes with β 0, high (active) with β `beta`.
    /// Input split at 0.5; the upper half's split of neuron 0 (pre-activation ≥ 0.5 there)
    /// has an empty inactive side (node 5), which refutes without any refutation.
    static func emptyNodeTree() -> ProofTree {
        let relu = Split.relu(layer: "relu", neuron: 0)
        return ProofTree(slopeLayers: [], nodes: [
            ProofNode(branch: Branch(split: .input(dimension: 0, point: 0.5), low: 1, high: 2)),
            ProofNode(branch: Branch(split: relu, low: 3, high: 4)),
            ProofNode(refresh: true, branch: Branch(split: relu, low: 5, high: 6)),
            ProofNode(refutations: [refutation([0])]),
            ProofNode(refutations: [refutation([1])]),
            ProofNode(),
            ProofNode(refutations: [refutation([0])]),
        ])
    }

    static func tree(highBeta beta: Double = 1, lowBeta: Double = 0) -> ProofTree {
        ProofTree(slopeLayers: [], nodes: [
            ProofNode(branch: Branch(split: .relu(layer: "relu", neuron: 0), low: 1, high: 2)),
            ProofNode(refutations: [refutation([lowBeta])]),
            ProofNode(refutations: [refutation([beta])]),
        ])
    }

    static func certificate(_ tree: ProofTree) -> Certificate {
        Factory.certificate(.unsat(UnsatProof(regions: [RegionProof(trees: [tree])])))
    }
}

@Suite("Proof trees")
struct TreeTests {
    @Test func rootAloneDoesNotRefute() throws {
        let network = try SplitNetwork.network()
        let tree = ProofTree(slopeLayers: [], nodes: [ProofNode(refutations: [SplitNetwork.refutation([])])])
        let report = Factory.check(SplitNetwork.certificate(tree), network, SplitNetwork.property)
        #expect(!report.valid)
        #expect(report.reason?.contains("tree 0 node 0 refutation 0 of clause 0: recomputed lower bound") == true, "\(report.reason ?? "")")
    }

    @Test func reluSplitWithBetaIsValid() throws {
        let network = try SplitNetwork.network()
        let report = Factory.check(SplitNetwork.certificate(SplitNetwork.tree()), network, SplitNetwork.property)
        #expect(report.valid, "\(report.reason ?? "")")
        #expect(report.statistics.nodes == 3 && report.statistics.leaves == 2 && report.statistics.refutations == 2)
    }

    @Test func activeSideNeedsBeta() throws {
        let network = try SplitNetwork.network()
        let report = Factory.check(SplitNetwork.certificate(SplitNetwork.tree(highBeta: 0)), network, SplitNetwork.property)
        #expect(!report.valid)
        #expect(report.reason?.contains("node 2 refutation 0") == true, "\(report.reason ?? "")")
    }

    @Test func refreshedChildrenAlsoWork() throws {
        let network = try SplitNetwork.network()
        var tree = SplitNetwork.tree()
        tree.nodes[1].refresh = true
        tree.nodes[2].refresh = true
        let report = Factory.check(SplitNetwork.certificate(tree), network, SplitNetwork.property)
        #expect(report.valid, "\(report.reason ?? "")")
        #expect(report.statistics.boundComputations == 3)
    }

    /// Input split at 0.5; the upper half's split of neuron 0 (pre-activation ≥ 0.5 there) has an
    /// empty inactive side, which refutes without any refutation.
    @Test func emptyNodeRefutesEverything() throws {
        let network = try SplitNetwork.network()
        let tree = SplitNetwork.emptyNodeTree()
        let report = Factory.check(SplitNetwork.certificate(tree), network, SplitNetwork.property)
        #expect(report.valid, "\(report.reason ?? "")")
        // The same leaf on the lower half (not empty there) does not refute.
        var broken = tree
        broken.nodes[3] = ProofNode()
        let bad = Factory.check(SplitNetwork.certificate(broken), network, SplitNetwork.property)
        #expect(!bad.valid)
        #expect(bad.reason?.contains("clause 0 is not refuted") == true, "\(bad.reason ?? "")")
    }

    @Test func inputSplitTreeOnARandomNetwork() throws {
        let network = Factory.network(try RandomNetworks.dense(seed: 11, inputs: 2, hidden: [8, 8], outputs: 2))
        // Unsafe: y0 − y1 ≤ m for a threshold just below the sampled minimum (found by dense sampling).
        var rng = SeededGenerator(seed: 3)
        let evaluator = Evaluator(graph: network.graph)
        var minimum = Double.infinity
        for _ in 0..<4000 {
            let x = [rng.uniform(-1...1), rng.uniform(-1...1)]
            let y = try evaluator.evaluate(x, batch: 1)
            minimum = min(minimum, y[0] - y[1])
        }
        let property = Factory.property(lower: [-1, -1], upper: [1, 1],
                                        clauses: [[(terms: [(0, 1), (1, -1)], bound: minimum - 0.05)]], outputs: 2)
        let tree = try #require(try Factory.bisectionTree(network, property.regions[0], maxNodes: 3000))
        #expect(tree.nodes.count > 1)
        let report = Factory.check(Factory.certificate(.unsat(UnsatProof(regions: [RegionProof(trees: [tree])]))), network, property)
        #expect(report.valid, "\(report.reason ?? "")")
        #expect(report.statistics.leaves == tree.nodes.filter { $0.branch == nil }.count)
    }

    @Test func acasXuInputSplitTree() throws {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return }
        let network = try loadNetwork(path: SharedBenchmarks.path("test/test_unsat.onnx"))
        let property = try loadProperty(path: SharedBenchmarks.path("test/test_prop.vnnlib"), for: network)
        // Tighten the threshold so that the root alone cannot refute: unsafe y0 − y_k ≤ 0.0045 (root margin 0.0042).
        var harder = property
        for c in harder.regions[0].clauses.indices {
            for k in harder.regions[0].clauses[c].constraints.indices { harder.regions[0].clauses[c].constraints[k].bound += 0.0045 }
        }
        let tree = try #require(try Factory.bisectionTree(network, harder.regions[0], maxNodes: 2000))
        #expect(tree.nodes.count > 1)
        let report = Factory.check(Factory.certificate(.unsat(UnsatProof(regions: [RegionProof(trees: [tree])]))), network, harder)
        #expect(report.valid, "\(report.reason ?? "")")
    }
}
