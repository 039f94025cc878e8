import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// The checker groups nodes (windows, batches of refreshed nodes, one backward pass for many
/// nodes' rows) and skips the bounds of internal nodes nothing reads. These tests check that
/// a proof gets the same verdict, and the same reason, as when every node is checked alone
/// with every refreshed node's bounds computed.
@Suite("Batched checking")
struct BatchedCheckTests {
    struct Outcome: Equatable {
        var reason: String?
        var computations: Int
    }

    /// Checks `tree` as the only tree of the property's one region: `window` nodes at a time
    /// (`nil`: the default), or node by node computing every refreshed node's bounds.
    static func check(_ tree: ProofTree, _ network: Network, _ property: Property, window: Int? = nil,
                      nodeByNode: Bool = false) throws -> Outcome {
        let model = try CheckerModel(network: network)
        var checker = UnsatProofCheck(model: model, property: property, statistics: CheckStatistics(), progress: nil)
        checker.window = nodeByNode ? 1 : window
        checker.computeEveryNode = nodeByNode
        let failure = checker.check(UnsatProof(regions: [RegionProof(trees: [tree])]))
        return Outcome(reason: failure?.message, computations: checker.work.computations)
    }

    /// `test_unsat` (an ACAS Xu network) with every threshold raised close to the true minimum
    /// (the root's margin is 0.0042), so that a bisection tree of a few hundred nodes proves it.
    static func acasTree() throws -> (Network, Property, ProofTree)? {
        guard SharedBenchmarks.available else { print(SharedBenchmarks.missingMessage); return nil }
        let network = try loadNetwork(path: SharedBenchmarks.path("test/test_unsat.onnx"))
        var property = try loadProperty(path: SharedBenchmarks.path("test/test_prop.vnnlib"), for: network)
        for c in property.regions[0].clauses.indices {
            for k in property.regions[0].clauses[c].constraints.indices {
                property.regions[0].clauses[c].constraints[k].bound += 0.005845
            }
        }
        let tree = try #require(try Factory.bisectionTree(network, property.regions[0], maxNodes: 4000))
        return (network, property, tree)
    }

    /// Depth of every node (the root is 0).
    static func depths(_ tree: ProofTree) -> [Int] {
        var depth = [Int](repeating: 0, count: tree.nodes.count)
        for (i, node) in tree.nodes.enumerated() {
            guard let branch = node.branch else { continue }
            depth[Int(branch.low)] = depth[i] + 1
            depth[Int(branch.high)] = depth[i] + 1
        }
        return depth
    }

    /// The input box of every node of an input-split tree.
    static func boxes(_ tree: ProofTree, _ region: InputRegion) -> [ValueBounds] {
        var boxes = [ValueBounds](repeating: ValueBounds(lower: region.lower, upper: region.upper), count: tree.nodes.count)
        for (i, node) in tree.nodes.enumerated() {
            guard let branch = node.branch, case let .input(d, t) = branch.split else { continue }
            var low = boxes[i], high = boxes[i]
            low.upper[Int(d)] = t
            high.lower[Int(d)] = t
            boxes[Int(branch.low)] = low
            boxes[Int(branch.high)] = high
        }
        return boxes
    }

    /// Two failure reasons name the same failure: equal text up to the shortfall, and
    /// shortfalls within 1e-9 relative (a batch's products round in a different order than one
    /// node's, which moves the a-priori error charge in its last digits).
    static func sameFailure(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        let marker = " (short by "
        guard let ra = a.range(of: marker), let rb = b.range(of: marker) else { return a == b }
        guard a[..<ra.lowerBound] == b[..<rb.lowerBound],
              let x = Double(a[ra.upperBound...].dropLast()), let y = Double(b[rb.upperBound...].dropLast())
        else { return false }
        return abs(x - y) <= 1e-9 * max(abs(x), abs(y))
    }

    @Test func largeInputSplitTreeSameVerdictAndLessWork() throws {
        guard let (network, property, tree) = try Self.acasTree() else { return }
        let leaves = tree.nodes.filter { $0.branch == nil }.count
        #expect(tree.nodes.count > 400, "the tree should span several batches (\(tree.nodes.count) nodes)")
        let batched = try Self.check(tree, network, property)
        let windows = try Self.check(tree, network, property, window: 100)
        let single = try Self.check(tree, network, property, nodeByNode: true)
        #expect(batched.reason == nil && windows.reason == nil && single.reason == nil,
                "\(batched.reason ?? "") | \(windows.reason ?? "") | \(single.reason ?? "")")
        // Internal nodes refute nothing themselves and all their children refresh: only the
        // root and the leaves need bounds.
        #expect(single.computations == tree.nodes.count)
        #expect(batched.computations == leaves + 1 && windows.computations == leaves + 1)
    }

    @Test func tamperedDeepLeafIsRejectedTheSameWay() throws {
        guard let (network, property, tree) = try Self.acasTree() else { return }
        let region = property.regions[0]
        let depth = Self.depths(tree), boxes = Self.boxes(tree, region)
        // The deepest leaf with a constraint of its clause that does not hold there; its
        // refutation is switched to that constraint.
        let leaves = tree.nodes.indices.filter { tree.nodes[$0].branch == nil }.sorted { depth[$0] > depth[$1] }
        var tampered: (leaf: Int, constraint: Int)? = nil
        for leaf in leaves.prefix(50) {
            let clause = Int(tree.nodes[leaf].refutations[0].clause)
            let bounds = try Factory.constraintBounds(network, region, box: boxes[leaf])[clause]
            if let k = bounds.indices.first(where: { bounds[$0] <= region.clauses[clause].constraints[$0].bound }) {
                tampered = (leaf, k)
                break
            }
        }
        let (leaf, constraint) = try #require(tampered, "no deep leaf has a constraint that fails")
        #expect(depth[leaf] >= 5)
        var bad = tree
        bad.nodes[leaf].refutations[0].constraint = UInt32(constraint)
        let batched = try Self.check(bad, network, property)
        let windows = try Self.check(bad, network, property, window: 100)
        let single = try Self.check(bad, network, property, nodeByNode: true)
        #expect(batched.reason?.contains("tree 0 node \(leaf) refutation 0 of clause 0: recomputed lower bound") == true,
                "\(batched.reason ?? "accepted")")
        #expect(Self.sameFailure(batched.reason, single.reason) && Self.sameFailure(windows.reason, single.reason),
                "\(batched.reason ?? "") | \(windows.reason ?? "") | \(single.reason ?? "")")

        // A leaf without its refutation: the region is not covered.
        var dropped = tree
        dropped.nodes[leaves[0]].refutations = []
        let droppedBatched = try Self.check(dropped, network, property)
        #expect(droppedBatched.reason?.contains("clause 0 is not refuted on every path") == true,
                "\(droppedBatched.reason ?? "accepted")")
        #expect(droppedBatched.reason == (try Self.check(dropped, network, property, nodeByNode: true)).reason)
    }

    /// ReLU-split trees inherit bounds below the root; the tree tests' cases (valid, a missing
    /// multiplier, an empty node, a refreshed leaf) get the same verdicts batched and node by node.
    @Test func reluSplitTreesSameVerdict() throws {
        let network = try SplitNetwork.network()
        let empty = SplitNetwork.emptyNodeTree()
        var emptyBroken = empty
        emptyBroken.nodes[3] = ProofNode()
        var refreshed = SplitNetwork.tree()
        refreshed.nodes[2].refresh = true
        let cases: [(ProofTree, Bool)] = [(SplitNetwork.tree(), true), (SplitNetwork.tree(highBeta: 0), false),
                                          (empty, true), (emptyBroken, false), (refreshed, true)]
        for (tree, valid) in cases {
            let batched = try Self.check(tree, network, SplitNetwork.property)
            let single = try Self.check(tree, network, SplitNetwork.property, nodeByNode: true)
            #expect((batched.reason == nil) == valid, "\(batched.reason ?? "accepted")")
            #expect(batched.reason == single.reason)
        }
    }

    /// One backward pass over the rows of several subdomains gives each row the bound it gets
    /// in a pass of its own subdomain (up to the rounding charge's term counts, which depend
    /// on the chunk: the bounds agree to a relative 1e-9 and neither exceeds the exact value).
    @Test func mixedStatesPassMatchesSeparatePasses() throws {
        let network = Factory.network(try RandomNetworks.dense(seed: 5, inputs: 3, hidden: [12, 12], outputs: 2))
        let model = try CheckerModel(network: network)
        var rng = SeededGenerator(seed: 9)
        var boxes = [ValueBounds]()
        for _ in 0..<6 {
            let centre = (0..<3).map { _ in rng.uniform(-1...1) }, radius = rng.uniform(0.05...0.5)
            boxes.append(ValueBounds(lower: centre.map { $0 - radius }, upper: centre.map { $0 + radius }))
        }
        var work = NodeBounds.Work()
        let together = NodeBounds.compute(model, boxes: boxes, splits: [[SplitConstraint]](repeating: [], count: boxes.count),
                                          work: &work)
        var rows = [BackwardRow]()
        for b in boxes.indices {
            rows.append(BackwardRow(start: .dense([(0, 1), (1, -1)]), box: b, state: b))
            rows.append(BackwardRow(start: .dense([(1, 2)]), box: b, state: b))
        }
        let mixed = BackwardPass(model: model, states: together, target: model.output, boxes: boxes).run(rows)
        let evaluator = Evaluator(graph: network.graph)
        for b in boxes.indices {
            let alone = NodeBounds.compute(model, box: boxes[b], splits: [], work: &work)
            // Intermediate bounds of the batch agree with those computed alone.
            for v in model.graph.values.indices {
                let (x, y) = (try #require(together[b].bounds[v]), try #require(alone.bounds[v]))
                for (p, q) in zip(x.lower + x.upper, y.lower + y.upper) {
                    #expect(abs(p - q) <= 1e-9 * max(1, abs(q)), "value \(v): \(p) vs \(q)")
                }
            }
            let separate = BackwardPass(model: model, state: alone, target: model.output, boxes: [boxes[b]])
                .run([rows[2 * b], rows[2 * b + 1]].map { var r = $0; r.box = 0; r.state = 0; return r })
            // Sampled values bound every row from above (the bounds are valid), and the two
            // ways agree.
            var smallest = [Double.infinity, .infinity]
            for _ in 0..<200 {
                let x = (0..<3).map { rng.uniform(boxes[b].lower[$0]...boxes[b].upper[$0]) }
                let y = try evaluator.evaluate(x, batch: 1)
                smallest[0] = min(smallest[0], y[0] - y[1])
                smallest[1] = min(smallest[1], 2 * y[1])
            }
            for k in 0..<2 {
                let (m, s) = (mixed[2 * b + k], separate[k])
                #expect(m.failure == nil && s.failure == nil)
                #expect(m.lower <= smallest[k] && s.lower <= smallest[k])
                #expect(abs(m.lower - s.lower) <= 1e-9 * max(1, abs(s.lower)), "\(m.lower) vs \(s.lower)")
            }
        }
    }
}
