import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

@Suite("Tampered certificates are rejected with a reason")
struct TamperingTests {
    func check(_ tree: ProofTree) throws -> EvidentChecker.CheckReport {
        Factory.check(SplitNetwork.certificate(tree), try SplitNetwork.network(), SplitNetwork.property)
    }

    func expectInvalid(_ report: EvidentChecker.CheckReport, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!report.valid, sourceLocation: sourceLocation)
        #expect(report.reason?.contains(fragment) == true, "reason: \(report.reason ?? "nil")", sourceLocation: sourceLocation)
    }

    @Test func negativeBeta() throws {
        expectInvalid(try check(SplitNetwork.tree(highBeta: -1)), "multiplier 0 is -1.0, not a finite number ≥ 0")
    }

    @Test func nanBeta() throws {
        expectInvalid(try check(SplitNetwork.tree(highBeta: .nan)), "multiplier 0 is nan")
    }

    @Test func wrongBetaCount() throws {
        var tree = SplitNetwork.tree()
        tree.nodes[1].refutations[0].betas = []
        expectInvalid(try check(tree), "node 1 refutation 0: 0 multipliers, the path has 1 ReLU splits")
    }

    @Test func droppedLeaf() throws {
        var tree = SplitNetwork.tree()
        tree.nodes.removeLast()
        expectInvalid(try check(tree), "node 0: child 2 does not exist")
    }

    @Test func duplicatedLeafWithTwoParents() throws {
        var tree = SplitNetwork.tree()
        tree.nodes[1] = ProofNode(branch: Branch(split: .input(dimension: 0, point: 0), low: 2, high: 3))
        tree.nodes.append(ProofNode(refutations: [SplitNetwork.refutation([0])]))
        expectInvalid(try check(tree), "node 2 has two parents (nodes 0 and 1)")
    }

    @Test func splitPointOutsideTheBox() throws {
        let tree = ProofTree(slopeLayers: [], nodes: [
            ProofNode(branch: Branch(split: .input(dimension: 0, point: 3), low: 1, high: 2)),
            ProofNode(refutations: [SplitNetwork.refutation([])]), ProofNode(refutations: [SplitNetwork.refutation([])]),
        ])
        expectInvalid(try check(tree), "input split point 3.0 of dimension 0 lies outside the node's interval [-1.0, 2.0]")
    }

    @Test func neuronSplitTwice() throws {
        var tree = SplitNetwork.tree()
        tree.nodes[2] = ProofNode(branch: Branch(split: .relu(layer: "relu", neuron: 0), low: 3, high: 4))
        tree.nodes += [ProofNode(), ProofNode()]
        expectInvalid(try check(tree), "neuron 0 of 'relu' is split again")
    }

    @Test func splitOfANonReluValue() throws {
        var tree = SplitNetwork.tree()
        tree.nodes[0].branch = Branch(split: .relu(layer: "fc0", neuron: 0), low: 1, high: 2)
        expectInvalid(try check(tree), "'fc0' is not the output of a ReLU node")
    }

    @Test func slopeLayerNamingANonReluValue() throws {
        var tree = SplitNetwork.tree()
        tree.slopeLayers = [SlopeLayer(relu: "fc1", neurons: [0])]
        expectInvalid(try check(tree), "slope layer 0: 'fc1' is not the output of a ReLU node")
    }

    @Test func slopeCountMismatchAndUnsortedNeurons() throws {
        var tree = SplitNetwork.tree()
        tree.slopeLayers = [SlopeLayer(relu: "relu", neurons: [0, 1])]
        tree.nodes[1].refutations[0].slopes = [255]
        expectInvalid(try check(tree), "1 slopes, the tree lists 2 slope neurons")
        tree.slopeLayers = [SlopeLayer(relu: "relu", neurons: [1, 0])]
        expectInvalid(try check(tree), "not strictly increasing")
        tree.slopeLayers = [SlopeLayer(relu: "relu", neurons: [0, 7])]
        expectInvalid(try check(tree), "neuron 7 is out of range")
    }

    /// Explicit slopes: the root refutes `y ≥ −0.01`... only through a split; here instead a
    /// root refutation whose explicit slope for neuron 0 is 0 (relu(x) ≥ 0) refutes, and
    /// changing that byte breaks it.
    @Test func explicitSlopesAndAChangedSlopeByte() throws {
        let root = { (bytes: [UInt8]) in
            ProofTree(slopeLayers: [SlopeLayer(relu: "relu", neurons: [0, 1])],
                      nodes: [ProofNode(refutations: [Refutation(clause: 0, constraint: 0, slopes: bytes)])])
        }
        let good = try check(root([0, 0]))
        #expect(good.valid, "\(good.reason ?? "")")
        expectInvalid(try check(root([255, 0])), "tree 0 node 0 refutation 0 of clause 0: recomputed lower bound -1")
        expectInvalid(try check(root([3, 0])), "does not exceed the threshold")
    }

    @Test func clauseAndConstraintOutOfRange() throws {
        var tree = SplitNetwork.tree()
        tree.nodes[1].refutations[0].clause = 4
        expectInvalid(try check(tree), "clause 4 does not exist")
        tree = SplitNetwork.tree()
        tree.nodes[1].refutations[0].constraint = 1
        expectInvalid(try check(tree), "clause 0 has no constraint 1")
    }

    @Test func regionCountMismatch() throws {
        let certificate = Factory.certificate(.unsat(UnsatProof(regions: [])))
        let report = Factory.check(certificate, try SplitNetwork.network(), SplitNetwork.property)
        #expect(!report.valid && report.reason?.contains("0 region proofs, the property has 1") == true)
    }

    @Test func staleDigests() throws {
        let network = try SplitNetwork.network()
        let certificate = SplitNetwork.certificate(SplitNetwork.tree())
        var other = Factory.modelDigest
        other[31] ^= 1
        let model = EvidentChecker.Checker.check(certificate, network: network, modelDigest: other,
                                                 property: SplitNetwork.property, propertyDigest: Factory.propertyDigest,
                                                 progress: nil)
        #expect(!model.valid && model.reason?.hasPrefix("stale model") == true)
        let property = EvidentChecker.Checker.check(certificate, network: network, modelDigest: Factory.modelDigest,
                                                    property: SplitNetwork.property, propertyDigest: other, progress: nil)
        #expect(!property.valid && property.reason?.hasPrefix("stale property") == true)
    }

    /// `y = w·x` on the point box x = 1 with a threshold between the bounds for w = 1 and for
    /// w = 1 with its last bit changed: the altered network (old digest) fails the recomputation.
    @Test func oneWeightLastBitChangesTheBound() throws {
        func network(_ w: Double) throws -> Network {
            var b = GraphBuilder(inputName: "x", inputShape: [1, 1])
            let v = try b.add(.linear(Linear(weight: Tensor(shape: [1, 1], scalars: [w]), bias: nil)), inputs: [b.inputValue], name: "fc")
            return Factory.network(try b.build(output: v))
        }
        let altered = (1.0).nextDown
        let probe = Factory.property(lower: [1], upper: [1], clauses: [[(terms: [(0, 1)], bound: 0)]], outputs: 1)
        let lowered = try Factory.constraintBounds(try network(altered), probe.regions[0])[0][0]
        let original = try Factory.constraintBounds(try network(1), probe.regions[0])[0][0]
        #expect(original > lowered)
        let property = Factory.property(lower: [1], upper: [1], clauses: [[(terms: [(0, 1)], bound: lowered)]], outputs: 1)
        let proof = UnsatProof(regions: [RegionProof(trees: [ProofTree(slopeLayers: [], nodes: [
            ProofNode(refutations: [Refutation(clause: 0, constraint: 0)])])])])
        #expect(Factory.check(Factory.certificate(.unsat(proof)), try network(1), property).valid)
        let report = Factory.check(Factory.certificate(.unsat(proof)), try network(altered), property)
        #expect(!report.valid && report.reason?.contains("does not exceed the threshold") == true, "\(report.reason ?? "")")
    }

    /// `y = x` on x ∈ [−1, 1], unsafe `y ≤ 0`: the witness −0.5 is confirmed; moved outside the
    /// box or to where the clause fails, it is not.
    @Test func witnesses() throws {
        var b = GraphBuilder(inputName: "x", inputShape: [1, 1])
        let v = try b.add(.linear(Linear(weight: Tensor(shape: [1, 1], scalars: [1]), bias: nil)), inputs: [b.inputValue], name: "fc")
        let network = Factory.network(try b.build(output: v))
        let property = Factory.property(lower: [-1], upper: [1], clauses: [[(terms: [(0, 1)], bound: 0)]], outputs: 1)
        func report(_ x: Double, clause: UInt32 = 0) -> EvidentChecker.CheckReport {
            Factory.check(Factory.certificate(.sat(Witness(region: 0, clause: clause, input: [x]))), network, property)
        }
        #expect(report(-0.5).valid)
        expectInvalid(report(-1.5), "witness coordinate 0 = -1.5 lies outside region 0's box")
        expectInvalid(report(0.5), "clause 0 constraint 0 is not certainly satisfied at the witness")
        expectInvalid(report(.nan), "witness coordinate 0 is not finite")
        expectInvalid(report(-0.5, clause: 3), "names clause 3")
        let wrongSize = Factory.check(Factory.certificate(.sat(Witness(region: 0, clause: 0, input: [0, 0]))), network, property)
        expectInvalid(wrongSize, "the witness has 2 numbers")
    }

    @Test func boundClaims() throws {
        // y = relu(x) + relu(−x) = |x| on [−1, 2]; the base box and a narrower override.
        let network = try SplitNetwork.network()
        let claims = { (value: Double, sense: ClaimSense, lower: Double, upper: Double) in
            Factory.certificate(.bounds(BoundClaims(slopeLayers: [SlopeLayer(relu: "relu", neurons: [0, 1])],
                                                    boxes: [Box(lower: [-1], upper: [2])], claims: [
                BoundClaim(box: 0, overrides: [BoxOverride(index: 0, lower: lower, upper: upper)], coefficients: [1],
                           sense: sense, value: value, slopes: [0, 0], reuseBaseIntermediates: true),
            ])), property: false)
        }
        func run(_ c: Certificate) -> EvidentChecker.CheckReport {
            EvidentChecker.Checker.check(c, network: network, modelDigest: Factory.modelDigest, property: nil, propertyDigest: nil,
                                         progress: nil)
        }
        #expect(run(claims(-1e-9, .atLeast, -1, 2)).valid)
        #expect(run(claims(2.000001, .atMost, -1, 2)).valid)
        expectInvalid(run(claims(0.5, .atLeast, -1, 2)), "claim 0 (at least 0.5): recomputed lower bound")
        expectInvalid(run(claims(1.5, .atMost, -1, 2)), "claim 0 (at most 1.5): recomputed upper bound")
        expectInvalid(run(claims(0, .atLeast, -2, 2)), "is not inside the base box")
    }

    /// A perturbed LP dual: the CROWN solution of the inactive child as a dual of its canonical
    /// LP proves the bound; flipping the sign of a ReLU row's multiplier against its infinite
    /// side fails the check.
    @Test func lpDualsAndAPerturbedDual() throws {
        let network = try SplitNetwork.network()
        let model = try CheckerModel(network: network)
        // Rows: fc0 (2), relu (2 neurons × 2), fc1 (1) = 7. Objective y (fc1 output).
        // Inactive child (ẑ0 ≤ 0): neuron 0 inactive, neuron 1 unstable with default slope 0.
        // Dual: fc1 row y = 1 (r_y = 0, r_z = [1, 1]); neuron 0 row 2 (z0 ≤ 0) multiplier 0 leaves
        // r_z0 = 1 against z0 ∈ [0, 0]; neuron 1: lower line α = 0 means no multiplier: r_z1 = 1
        // against z1 ≥ 0. All other multipliers 0. The bound is Σ min(r l, r u) = 0.
        let dual: [Double] = [0, 0, 0, 0, 0, 0, 1]
        #expect(LinearProgramCheck.rowCount(model) == dual.count)
        let tree = { (d: [Double]) in
            ProofTree(slopeLayers: [], nodes: [
                ProofNode(branch: Branch(split: .relu(layer: "relu", neuron: 0), low: 1, high: 2)),
                ProofNode(refutations: [Refutation(clause: 0, constraint: 0, lpDual: d)]),
                ProofNode(refutations: [SplitNetwork.refutation([1])]),
            ])
        }
        let good = try check(tree(dual))
        #expect(good.valid, "\(good.reason ?? "")")
        var perturbed = dual
        perturbed[2] = -1  // row z0 − ẑ0 ≥ 0 (hi = +∞) with a negative multiplier
        expectInvalid(try check(tree(perturbed)), "of the wrong sign for its row's infinite side")
        perturbed = dual
        perturbed[6] = -1  // r_z = −1 against the ReLU outputs' upper bounds: the bound drops to −3
        expectInvalid(try check(tree(perturbed)), "does not exceed the threshold")
        expectInvalid(try check(tree([1, 2])), "the LP dual has 2 multipliers, the node's canonical LP has 7 rows")
    }
}
