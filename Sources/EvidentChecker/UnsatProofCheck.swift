import Foundation
import EvidentIR
import EvidentVNNLib
import EvidentCertificate
import EvidentSoundArithmetic

/// Checks `unsat` proofs: tree structure, node bounds, tightenings, refutations, coverage
/// (Docs/certificates.md, "Trees"). Trees are walked in node index order (children have
/// larger indices than their parents), never recursively.
struct UnsatProofCheck {
    let model: CheckerModel
    let property: Property
    var statistics: CheckStatistics
    var work = NodeBounds.Work()
    let progress: ((String) -> Void)?
    var lastProgress = Date()

    init(model: CheckerModel, property: Property, statistics: CheckStatistics, progress: ((String) -> Void)?) {
        self.model = model
        self.property = property
        self.statistics = statistics
        self.progress = progress
    }

    mutating func check(_ proof: UnsatProof) -> CheckFailure? {
        guard proof.regions.count == property.regions.count else {
            return CheckFailure("the proof has \(proof.regions.count) region proofs, the property has \(property.regions.count) regions")
        }
        for (r, regionProof) in proof.regions.enumerated() {
            let region = property.regions[r]
            let box = ValueBounds(lower: PropertyRounding.outerLower(region), upper: PropertyRounding.outerUpper(region))
            guard box.lower.count == model.inputSize, box.upper.count == model.inputSize else {
                return CheckFailure("region \(r): the box has \(box.lower.count) bounds, the network has \(model.inputSize) inputs")
            }
            if let i = box.firstNonFinite { return CheckFailure("region \(r): the bound of input \(i) is not finite") }
            let clauseCount = region.clauses.count
            var proved = [Bool](repeating: false, count: clauseCount)
            var rootState: BoundState? = nil
            for (t, tree) in regionProof.trees.enumerated() {
                let place = proof.regions.count > 1 ? "region \(r) tree \(t)" : "tree \(t)"
                switch checkTree(tree, region: region, box: box, place: place, root: &rootState) {
                case .failure(let failure): return failure
                case .success(let refuted): for c in 0..<clauseCount where refuted[c] { proved[c] = true }
                }
            }
            if let c = proved.firstIndex(of: false) {
                let place = proof.regions.count > 1 ? "region \(r)" : "the region"
                return CheckFailure("\(place): clause \(c) is not refuted on every path of any tree "
                                    + "(\(proved.filter { !$0 }.count) of \(clauseCount) clauses unrefuted)")
            }
        }
        return nil
    }

    /// Per-node facts derived from the path (index order).
    struct NodeContext {
        var parent = -1
        /// The input box of the node.
        var box: ValueBounds
        /// The ReLU split that created this node (for children of ReLU splits).
        var split: (layer: ValueID, pre: ValueID, neuron: Int, active: Bool)?
        /// Number of ReLU splits on the path from the root.
        var depth = 0
    }

    mutating func checkTree(_ tree: ProofTree, region: InputRegion, box: ValueBounds, place: String,
                            root: inout BoundState?) -> Result<[Bool], CheckFailure> {
        let nodes = tree.nodes
        let n = nodes.count
        let clauseCount = region.clauses.count
        guard n >= 1 else { return .failure(CheckFailure("\(place) has no nodes")) }

        let layout: SlopeLayout
        switch ClaimChecks.slopeLayout(tree.slopeLayers, model: model, place: place) {
        case .failure(let f): return .failure(f)
        case .success(let l): layout = l
        }

        // Structure: every non-root node has exactly one parent with a smaller index.
        var parent = [Int](repeating: -1, count: n)
        for (i, node) in nodes.enumerated() {
            guard let branch = node.branch else { continue }
            let (low, high) = (Int(branch.low), Int(branch.high))
            for child in [low, high] {
                guard child < n else {
                    return .failure(CheckFailure("\(place) node \(i): child \(child) does not exist (the tree has \(n) nodes)"))
                }
                guard child > i else {
                    return .failure(CheckFailure("\(place) node \(i): child \(child) does not have a larger index than its parent"))
                }
                guard parent[child] == -1 else {
                    return .failure(CheckFailure("\(place) node \(child) has two parents (nodes \(parent[child]) and \(i))"))
                }
                parent[child] = i
            }
            if low == high { return .failure(CheckFailure("\(place) node \(i): both children are node \(low)")) }
        }
        if let orphan = (1..<max(n, 1)).first(where: { parent[$0] == -1 }) {
            return .failure(CheckFailure("\(place) node \(orphan) has no parent"))
        }
        // How many children inherit (do not refresh) from each node.
        var inheritors = [Int](repeating: 0, count: n)
        for i in 1..<max(n, 1) where !nodes[i].refresh { inheritors[parent[i]] += 1 }

        var contexts = [NodeContext?](repeating: nil, count: n)
        contexts[0] = NodeContext(box: box)
        var states = [Int: BoundState]()
        var refuted = [[Bool]](repeating: [], count: n)
        var empty = [Bool](repeating: false, count: n)
        var skip = [Bool](repeating: false, count: n)

        for i in 0..<n {
            guard let context = contexts[i] else {
                return .failure(CheckFailure("\(place) node \(i): internal error (no context)"))
            }
            let node = nodes[i]
            let nodePlace = "\(place) node \(i)"
            statistics.nodes += 1
            if node.branch == nil { statistics.leaves += 1 }
            reportProgress("\(place): node \(i + 1) of \(n)")

            // Children's contexts (structure of the split).
            if let branch = node.branch {
                switch branch.split {
                case let .input(dimension, point):
                    let d = Int(dimension)
                    guard d < model.inputSize else {
                        return .failure(CheckFailure("\(nodePlace): input split of dimension \(d), the network has \(model.inputSize) inputs"))
                    }
                    let (l, u) = (context.box.lower[d], context.box.upper[d])
                    guard point.isFinite, l <= point, point <= u else {
                        return .failure(CheckFailure("\(nodePlace): input split point \(point) of dimension \(d) lies outside "
                                                     + "the node's interval [\(l), \(u)], so the children do not cover it"))
                    }
                    var lowBox = context.box, highBox = context.box
                    lowBox.upper[d] = point
                    highBox.lower[d] = point
                    contexts[Int(branch.low)] = NodeContext(parent: i, box: lowBox, split: nil, depth: context.depth)
                    contexts[Int(branch.high)] = NodeContext(parent: i, box: highBox, split: nil, depth: context.depth)
                case let .relu(layer, neuron):
                    let value: ValueID
                    switch model.reluValue(named: layer) {
                    case .failure(let f): return .failure(CheckFailure("\(nodePlace): ReLU split: \(f.message)"))
                    case .success(let v): value = v
                    }
                    let j = Int(neuron)
                    guard j < model.sizes[value] else {
                        return .failure(CheckFailure("\(nodePlace): ReLU split of neuron \(j) of '\(layer)', which has \(model.sizes[value]) neurons"))
                    }
                    var ancestor: Int? = i
                    while let a = ancestor, let c = contexts[a] {
                        if let s = c.split, s.layer == value, s.neuron == j {
                            return .failure(CheckFailure("\(nodePlace): neuron \(j) of '\(layer)' is split again (already split above node \(a))"))
                        }
                        ancestor = c.parent >= 0 ? c.parent : nil
                    }
                    let pre = model.preActivation(ofRelu: value)
                    contexts[Int(branch.low)] = NodeContext(parent: i, box: context.box,
                                                            split: (value, pre, j, false), depth: context.depth + 1)
                    contexts[Int(branch.high)] = NodeContext(parent: i, box: context.box,
                                                             split: (value, pre, j, true), depth: context.depth + 1)
                }
            }

            // Bounds.
            var state: BoundState
            if i > 0 && (skip[context.parent] || empty[context.parent]) {
                // Below an empty node: the parent already refutes every clause.
                skip[i] = true
                if let f = validateRefutations(node, region: region, tree: tree, depth: context.depth, place: nodePlace) {
                    return .failure(f)
                }
                releaseParent(i, context, nodes, &inheritors, &states)
                refuted[i] = [Bool](repeating: true, count: clauseCount)
                continue
            }
            if i == 0 {
                if root == nil { root = NodeBounds.compute(model, box: box, splits: [], work: &work) }
                state = root!
            } else if node.refresh {
                state = NodeBounds.compute(model, box: context.box, splits: pathSplits(i, contexts), work: &work)
            } else {
                guard let inherited = states[context.parent] else {
                    return .failure(CheckFailure("\(nodePlace): internal error (parent bounds released)"))
                }
                state = inherited
                if let split = context.split {
                    NodeBounds.narrow(model, &state, value: split.pre, element: split.neuron,
                                      lower: split.active ? 0 : -.infinity, upper: split.active ? .infinity : 0)
                } else {
                    NodeBounds.replaceInput(model, &state, box: context.box)
                }
            }
            releaseParent(i, context, nodes, &inheritors, &states)

            // Tightenings, in order.
            for (k, t) in node.tightenings.enumerated() {
                statistics.tightenings += 1
                if state.empty != nil { break }
                if let f = checkTightening(t, state: &state, place: "\(nodePlace) tightening \(k)") { return .failure(f) }
            }

            if let f = validateRefutations(node, region: region, tree: tree, depth: context.depth, place: nodePlace) {
                return .failure(f)
            }
            if state.empty != nil {
                empty[i] = true
                refuted[i] = [Bool](repeating: true, count: clauseCount)
            } else {
                var mine = [Bool](repeating: false, count: clauseCount)
                if !node.refutations.isEmpty {
                    if let f = checkRefutations(node, state: state, region: region, layout: layout, path: pathSplits(i, contexts),
                                                place: nodePlace, refuted: &mine) {
                        return .failure(f)
                    }
                }
                refuted[i] = mine
            }
            if inheritors[i] > 0 { states[i] = state }
        }

        // R(node) = refuted(node) ∪ (R(low) ∩ R(high)), bottom-up.
        for i in stride(from: n - 1, through: 0, by: -1) {
            guard let branch = nodes[i].branch, !empty[i], !skip[i] else { continue }
            let (low, high) = (Int(branch.low), Int(branch.high))
            for c in 0..<clauseCount where refuted[low][c] && refuted[high][c] { refuted[i][c] = true }
        }
        return .success(refuted[0])
    }

    func releaseParent(_ i: Int, _ context: NodeContext, _ nodes: [ProofNode], _ inheritors: inout [Int],
                       _ states: inout [Int: BoundState]) {
        guard i > 0, !nodes[i].refresh else { return }
        inheritors[context.parent] -= 1
        if inheritors[context.parent] == 0 { states[context.parent] = nil }
    }

    /// The ReLU split constraints on the path to node `i`, root first.
    func pathSplits(_ i: Int, _ contexts: [NodeContext?]) -> [SplitConstraint] {
        var result = [SplitConstraint]()
        var at: Int? = i
        while let a = at, let c = contexts[a] {
            if let s = c.split { result.append(SplitConstraint(value: s.pre, neuron: s.neuron, active: s.active)) }
            at = c.parent >= 0 ? c.parent : nil
        }
        return result.reversed()
    }

    /// Structural checks of a node's refutations (indices, counts, multipliers).
    func validateRefutations(_ node: ProofNode, region: InputRegion, tree: ProofTree, depth: Int, place: String) -> CheckFailure? {
        for (k, refutation) in node.refutations.enumerated() {
            let here = "\(place) refutation \(k)"
            let c = Int(refutation.clause)
            guard c < region.clauses.count else {
                return CheckFailure("\(here): clause \(c) does not exist (the region has \(region.clauses.count))")
            }
            let constraint = Int(refutation.constraint)
            guard constraint < region.clauses[c].constraints.count else {
                return CheckFailure("\(here): clause \(c) has no constraint \(constraint) (it has \(region.clauses[c].constraints.count))")
            }
            if let dual = refutation.lpDual {
                guard refutation.slopes == nil, refutation.betas.isEmpty else {
                    return CheckFailure("\(here): an LP refutation carries slopes or multipliers")
                }
                if let bad = dual.firstIndex(where: { !$0.isFinite }) {
                    return CheckFailure("\(here): LP dual \(bad) is not finite (\(dual[bad]))")
                }
                continue
            }
            if let slopes = refutation.slopes, slopes.count != tree.slopeCount {
                return CheckFailure("\(here): \(slopes.count) slopes, the tree lists \(tree.slopeCount) slope neurons")
            }
            guard refutation.betas.count == depth else {
                return CheckFailure("\(here): \(refutation.betas.count) multipliers, the path has \(depth) ReLU splits")
            }
            for (b, beta) in refutation.betas.enumerated() where !(beta.isFinite && beta >= 0) {
                return CheckFailure("\(here): multiplier \(b) is \(beta), not a finite number ≥ 0")
            }
        }
        return nil
    }

    /// Checks every refutation of one node; backward-pass refutations share one pass.
    mutating func checkRefutations(_ node: ProofNode, state: BoundState, region: InputRegion, layout: SlopeLayout,
                                   path: [SplitConstraint], place: String, refuted: inout [Bool]) -> CheckFailure? {
        if let reason = state.nonFinite {
            return CheckFailure("\(place): its bounds are unusable: \(reason)")
        }
        var rows = [BackwardRow](), indices = [Int](), slopeBytes = [[UInt8]]()
        for (k, refutation) in node.refutations.enumerated() {
            let constraint = region.clauses[Int(refutation.clause)].constraints[Int(refutation.constraint)]
            let terms = constraint.terms.map { (element: $0.output, coefficient: $0.coefficient) }
            if let dual = refutation.lpDual {
                statistics.refutations += 1
                let objective = terms
                switch LinearProgramCheck.lowerBound(model, state: state, objective: .outputs(objective), dual: dual) {
                case .failure(let f): return CheckFailure("\(place) refutation \(k) (clause \(refutation.clause)): \(f.message)")
                case .success(let bound):
                    if let f = compare(bound, PropertyRounding.outerThreshold(constraint),
                                       "\(place) refutation \(k) of clause \(refutation.clause) (LP)") { return f }
                    refuted[Int(refutation.clause)] = true
                }
                continue
            }
            var row = BackwardRow(start: .dense(terms))
            if let slopes = refutation.slopes {
                row.slopes = slopeBytes.count
                slopeBytes.append(slopes)
            }
            for (b, split) in path.enumerated() where refutation.betas[b] != 0 {
                row.betas.append(BetaTerm(value: split.value, element: split.neuron,
                                          coefficient: split.active ? -refutation.betas[b] : refutation.betas[b]))
            }
            rows.append(row)
            indices.append(k)
        }
        guard !rows.isEmpty else { return nil }
        var pass = BackwardPass(model: model, state: state, target: model.output, boxes: [state.bounds[model.input]!])
        pass.layout = layout
        pass.slopeBytes = slopeBytes
        let results = pass.run(rows)
        statistics.refutations += rows.count
        for (row, k) in zip(results, indices) {
            let refutation = node.refutations[k]
            let constraint = region.clauses[Int(refutation.clause)].constraints[Int(refutation.constraint)]
            let here = "\(place) refutation \(k) of clause \(refutation.clause)"
            if let failure = row.failure { return CheckFailure("\(here): \(failure)") }
            if let f = compare(row.lower, PropertyRounding.outerThreshold(constraint), here) { return f }
            refuted[Int(refutation.clause)] = true
        }
        return nil
    }

    /// `bound > threshold`, or the failure saying by how much it is short.
    func compare(_ bound: Double, _ threshold: Double, _ place: String) -> CheckFailure? {
        guard threshold.isFinite else { return CheckFailure("\(place): the threshold \(threshold) is not finite") }
        if bound > threshold { return nil }
        return CheckFailure("\(place): recomputed lower bound \(formatted(bound)) does not exceed the threshold "
                            + "\(formatted(threshold)) (short by \(formatted(threshold - bound)))")
    }

    /// Checks a tightening against the node's canonical LP and narrows the bounds.
    mutating func checkTightening(_ t: Tightening, state: inout BoundState, place: String) -> CheckFailure? {
        let value: ValueID
        switch model.reluValue(named: t.layer) {
        case .failure(let f): return CheckFailure("\(place): \(f.message)")
        case .success(let v): value = v
        }
        let j = Int(t.neuron)
        guard j < model.sizes[value] else {
            return CheckFailure("\(place): neuron \(j) of '\(t.layer)' is out of range (\(model.sizes[value]) neurons)")
        }
        guard t.value.isFinite else { return CheckFailure("\(place): the value \(t.value) is not finite") }
        if let reason = state.nonFinite { return CheckFailure("\(place): the node's bounds are unusable: \(reason)") }
        let pre = model.preActivation(ofRelu: value)
        let objective: LinearProgramCheck.Objective = .element(value: pre, element: j, sign: t.side == .lower ? 1 : -1)
        switch LinearProgramCheck.lowerBound(model, state: state, objective: objective, dual: t.dual) {
        case .failure(let f):
            return CheckFailure("\(place): \(f.message)")
        case .success(let bound):
            if t.side == .lower {
                guard bound >= t.value else {
                    return CheckFailure("\(place): the LP bound \(formatted(bound)) of neuron \(j) of '\(t.layer)' does not "
                                        + "reach the claimed lower bound \(formatted(t.value))")
                }
                NodeBounds.narrow(model, &state, value: pre, element: j, lower: t.value, upper: .infinity)
            } else {
                guard -bound <= t.value else {
                    return CheckFailure("\(place): the LP bound \(formatted(-bound)) of neuron \(j) of '\(t.layer)' does not "
                                        + "reach the claimed upper bound \(formatted(t.value))")
                }
                NodeBounds.narrow(model, &state, value: pre, element: j, lower: -.infinity, upper: t.value)
            }
        }
        return nil
    }

    mutating func reportProgress(_ line: @autoclosure () -> String) {
        guard let progress, Date().timeIntervalSince(lastProgress) > 0.5 else { return }
        lastProgress = Date()
        progress(line())
    }
}

/// A number for messages: up to 6 significant digits, or full precision when that hides
/// the difference that matters.
func formatted(_ x: Double) -> String {
    if x == 0 { return "0" }
    let short = String(format: "%.6g", x)
    return Double(short) == x || abs(x) > 1e-3 || x == 0 ? short : "\(x)"
}
