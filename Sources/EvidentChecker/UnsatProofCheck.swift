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
    /// Nodes per window (`nil`: ``windowSize``). Tests set 1 and `computeEveryNode` to check
    /// node by node, computing every refreshed node's bounds.
    var window: Int? = nil
    var computeEveryNode = false

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
        // How many children inherit (do not refresh) from each node; `inheritors` counts down
        // as they are checked.
        var inheritorCount = [Int](repeating: 0, count: n)
        for i in 1..<max(n, 1) where !nodes[i].refresh { inheritorCount[parent[i]] += 1 }
        var inheritors = inheritorCount

        // Structure first, every node in index order: children's boxes and splits, the
        // shape of every refutation. It does not depend on any bound.
        var contexts = [NodeContext?](repeating: nil, count: n)
        contexts[0] = NodeContext(box: box)
        var structural: (node: Int, failure: CheckFailure)? = nil
        for i in 0..<n {
            statistics.nodes += 1
            if nodes[i].branch == nil { statistics.leaves += 1 }
            if let f = checkStructure(i, tree: tree, region: region, place: "\(place) node \(i)", contexts: &contexts) {
                structural = (i, f)
                break
            }
        }
        // Bounds, tightenings and refutations of the nodes before the first structural
        // failure, in windows of consecutive nodes (index order, so parents come first).
        let end = structural?.node ?? n
        var states = [Int: BoundState]()
        var refuted = [[Bool]](repeating: [Bool](repeating: false, count: clauseCount), count: n)
        var empty = [Bool](repeating: false, count: n)
        var skip = [Bool](repeating: false, count: n)
        var first = 0
        while first < end {
            let last = min(end, first + (window ?? windowSize))
            reportProgress("\(place): node \(first + 1) of \(n)")
            // The window's refreshed nodes whose bounds something reads are checked first, on
            // all cores (each depends only on its own box and splits). The others are internal
            // nodes without refutations or tightenings whose children all refresh, on no ReLU
            // split (so their subdomain is not empty): their bounds would change nothing.
            var wanted = [Int]()
            for i in max(first, 1)..<last where nodes[i].refresh {
                let context = contexts[i]!
                if skip[context.parent] || empty[context.parent] { continue }
                let node = nodes[i]
                if node.branch == nil || !node.refutations.isEmpty || !node.tightenings.isEmpty
                    || inheritorCount[i] > 0 || context.depth > 0 || computeEveryNode { wanted.append(i) }
            }
            var outcomes = checkRefreshed(wanted, tree: tree, region: region, layout: layout, contexts: contexts,
                                          keepBounds: wanted.map { inheritorCount[$0] > 0 }, place: place)
            // Then every node in order: inherited bounds, their tightenings (children inherit
            // the tightened bounds), refutations collected for one pass at the window's end.
            // A failure is reported after any failure of an earlier node.
            var jobs = [RefutationJob]()
            func firstFailure(_ jobs: [RefutationJob]) -> CheckFailure? {
                let (results, count) = refute(jobs, nodes: nodes, region: region, layout: layout)
                statistics.refutations += count
                for (job, result) in zip(jobs, results) {
                    switch result {
                    case .failure(let f): return f
                    case .success(let mine): refuted[job.node] = mine
                    }
                }
                return nil
            }
            for i in first..<last {
                let context = contexts[i]!
                let node = nodes[i]
                if i > 0 && (skip[context.parent] || empty[context.parent]) {
                    // Below an empty node: the parent already refutes every clause.
                    skip[i] = true
                    releaseParent(i, context, nodes, &inheritors, &states)
                    refuted[i] = [Bool](repeating: true, count: clauseCount)
                    continue
                }
                if i > 0 && node.refresh {
                    guard let outcome = outcomes.removeValue(forKey: i) else { continue }  // not wanted: refutes nothing itself
                    statistics.tightenings += outcome.tightenings
                    statistics.refutations += outcome.refutations
                    if let f = outcome.failure { return .failure(firstFailure(jobs) ?? f) }
                    empty[i] = outcome.empty
                    refuted[i] = outcome.refuted
                    if inheritors[i] > 0 { states[i] = outcome.bounds }
                    continue
                }
                let nodePlace = "\(place) node \(i)"
                var state: BoundState
                if i == 0 {
                    if root == nil { root = NodeBounds.compute(model, box: box, splits: [], work: &work) }
                    state = root!
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
                let (failure, tightenings) = tighten(node, state: &state, place: nodePlace)
                statistics.tightenings += tightenings
                if let failure { return .failure(firstFailure(jobs) ?? failure) }
                if state.empty != nil {
                    empty[i] = true
                    refuted[i] = [Bool](repeating: true, count: clauseCount)
                } else if !node.refutations.isEmpty {
                    jobs.append(RefutationJob(node: i, state: state, path: pathSplits(i, contexts), place: nodePlace))
                }
                if inheritors[i] > 0 { states[i] = state }
            }
            if let f = firstFailure(jobs) { return .failure(f) }
            first = last
        }
        if let structural { return .failure(structural.failure) }

        // R(node) = refuted(node) ∪ (R(low) ∩ R(high)), bottom-up.
        for i in stride(from: n - 1, through: 0, by: -1) {
            guard let branch = nodes[i].branch, !empty[i], !skip[i] else { continue }
            let (low, high) = (Int(branch.low), Int(branch.high))
            for c in 0..<clauseCount where refuted[low][c] && refuted[high][c] { refuted[i][c] = true }
        }
        return .success(refuted[0])
    }

    /// Nodes per window: the refutation passes of a window's nodes run together, and their
    /// bounds are held until then (at most about 2²² bound entries of whole states).
    var windowSize: Int {
        let entries = model.sizes.reduce(0, +)
        return max(8, min(2048, (1 << 22) / max(1, entries)))
    }

    /// What checking a refreshed node against its own bounds gave.
    struct NodeOutcome {
        var failure: CheckFailure?
        var empty = false
        var refuted: [Bool] = []
        /// The bounds after the tightenings, where children inherit them.
        var bounds: BoundState?
        var tightenings = 0
        var refutations = 0
    }

    /// Checks refreshed nodes (bounds computed from their box and splits, then their
    /// tightenings and refutations) in batches of consecutive nodes on all cores: each batch
    /// is one ``NodeBounds/compute(_:boxes:splits:work:)`` and one refutation pass.
    mutating func checkRefreshed(_ wanted: [Int], tree: ProofTree, region: InputRegion, layout: SlopeLayout,
                                 contexts: [NodeContext?], keepBounds: [Bool], place: String) -> [Int: NodeOutcome] {
        if wanted.isEmpty { return [:] }
        let batch = 32
        let batches = (wanted.count + batch - 1) / batch
        let boxes = wanted.map { contexts[$0]!.box }, splits = wanted.map { pathSplits($0, contexts) }
        let results = ConcurrentResults<([NodeOutcome], NodeBounds.Work)>(count: batches, initial: ([], NodeBounds.Work()))
        let checker = self
        DispatchQueue.concurrentPerform(iterations: batches) { b in
            let members = (b * batch)..<min(wanted.count, (b + 1) * batch)
            var work = NodeBounds.Work()
            let states = NodeBounds.compute(checker.model, boxes: Array(boxes[members]), splits: Array(splits[members]),
                                            work: &work)
            var outcomes = [NodeOutcome](), jobs = [RefutationJob](), owner = [Int]()
            for (k, m) in members.enumerated() {
                let i = wanted[m], node = tree.nodes[i], nodePlace = "\(place) node \(i)"
                var state = states[k], outcome = NodeOutcome()
                (outcome.failure, outcome.tightenings) = checker.tighten(node, state: &state, place: nodePlace)
                if outcome.failure == nil {
                    if state.empty != nil {
                        outcome.empty = true
                        outcome.refuted = [Bool](repeating: true, count: region.clauses.count)
                    } else {
                        outcome.refuted = [Bool](repeating: false, count: region.clauses.count)
                        if !node.refutations.isEmpty {
                            jobs.append(RefutationJob(node: i, state: state, path: splits[m], place: nodePlace))
                            owner.append(k)
                        }
                    }
                }
                if keepBounds[m] { outcome.bounds = state }
                outcomes.append(outcome)
            }
            let (refutations, _) = checker.refute(jobs, nodes: tree.nodes, region: region, layout: layout)
            for (k, result) in zip(owner, refutations) {
                outcomes[k].refutations = tree.nodes[wanted[members.lowerBound + k]].refutations.count
                switch result {
                case .failure(let f): outcomes[k].failure = f
                case .success(let mine): outcomes[k].refuted = mine
                }
            }
            results.set(b, (outcomes, work))
        }
        var checked = [Int: NodeOutcome]()
        for (b, (outcomes, work)) in results.values.enumerated() {
            for (k, outcome) in outcomes.enumerated() { checked[wanted[b * batch + k]] = outcome }
            self.work.computations += work.computations
            self.work.crownRows += work.crownRows
        }
        return checked
    }

    /// The structure of node `i`: its children's contexts (input split inside the box, ReLU
    /// split of an existing neuron not split above) and the shape of its refutations.
    func checkStructure(_ i: Int, tree: ProofTree, region: InputRegion, place nodePlace: String,
                        contexts: inout [NodeContext?]) -> CheckFailure? {
        guard let context = contexts[i] else { return CheckFailure("\(nodePlace): internal error (no context)") }
        let node = tree.nodes[i]
        if let branch = node.branch {
            switch branch.split {
            case let .input(dimension, point):
                let d = Int(dimension)
                guard d < model.inputSize else {
                    return CheckFailure("\(nodePlace): input split of dimension \(d), the network has \(model.inputSize) inputs")
                }
                let (l, u) = (context.box.lower[d], context.box.upper[d])
                guard point.isFinite, l <= point, point <= u else {
                    return CheckFailure("\(nodePlace): input split point \(point) of dimension \(d) lies outside "
                                        + "the node's interval [\(l), \(u)], so the children do not cover it")
                }
                var lowBox = context.box, highBox = context.box
                lowBox.upper[d] = point
                highBox.lower[d] = point
                contexts[Int(branch.low)] = NodeContext(parent: i, box: lowBox, split: nil, depth: context.depth)
                contexts[Int(branch.high)] = NodeContext(parent: i, box: highBox, split: nil, depth: context.depth)
            case let .relu(layer, neuron):
                let value: ValueID
                switch model.reluValue(named: layer) {
                case .failure(let f): return CheckFailure("\(nodePlace): ReLU split: \(f.message)")
                case .success(let v): value = v
                }
                let j = Int(neuron)
                guard j < model.sizes[value] else {
                    return CheckFailure("\(nodePlace): ReLU split of neuron \(j) of '\(layer)', which has \(model.sizes[value]) neurons")
                }
                var ancestor: Int? = i
                while let a = ancestor, let c = contexts[a] {
                    if let s = c.split, s.layer == value, s.neuron == j {
                        return CheckFailure("\(nodePlace): neuron \(j) of '\(layer)' is split again (already split above node \(a))")
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
        return validateRefutations(node, region: region, tree: tree, depth: context.depth, place: nodePlace)
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

    /// A node whose refutations are still to be checked, with its bounds.
    struct RefutationJob {
        var node: Int
        var state: BoundState
        var path: [SplitConstraint]
        var place: String
    }

    /// The refutations of several nodes, per node the clauses it refutes or its first
    /// failure (its LP refutations first, then its backward-pass ones, each in order), and
    /// how many refutations were recomputed. The backward-pass refutations of all nodes share
    /// one ``BackwardPass``; each row uses only its own node's bounds, slopes and multipliers.
    func refute(_ jobs: [RefutationJob], nodes: [ProofNode], region: InputRegion,
                layout: SlopeLayout) -> (results: [Result<[Bool], CheckFailure>], count: Int) {
        var rows = [BackwardRow](), slopeBytes = [[UInt8]](), states = [BoundState](), boxes = [ValueBounds]()
        var rowOf = [[Int: Int]](repeating: [:], count: jobs.count)  // per job: refutation -> row
        for (q, job) in jobs.enumerated() where job.state.nonFinite == nil {
            for (k, refutation) in nodes[job.node].refutations.enumerated() where refutation.lpDual == nil {
                let constraint = region.clauses[Int(refutation.clause)].constraints[Int(refutation.constraint)]
                var row = BackwardRow(start: .dense(constraint.terms.map { (element: $0.output, coefficient: $0.coefficient) }),
                                      box: states.count, state: states.count)
                if let slopes = refutation.slopes {
                    row.slopes = slopeBytes.count
                    slopeBytes.append(slopes)
                }
                for (b, split) in job.path.enumerated() where refutation.betas[b] != 0 {
                    row.betas.append(BetaTerm(value: split.value, element: split.neuron,
                                              coefficient: split.active ? -refutation.betas[b] : refutation.betas[b]))
                }
                rowOf[q][k] = rows.count
                rows.append(row)
            }
            if !rowOf[q].isEmpty {
                states.append(job.state)
                boxes.append(job.state.bounds[model.input]!)
            }
        }
        var pass = BackwardPass(model: model, states: states, target: model.output, boxes: boxes)
        pass.layout = layout
        pass.slopeBytes = slopeBytes
        let bounds = pass.run(rows)

        var count = 0
        let results = jobs.enumerated().map { q, job -> Result<[Bool], CheckFailure> in
            let node = nodes[job.node], place = job.place
            if let reason = job.state.nonFinite { return .failure(CheckFailure("\(place): its bounds are unusable: \(reason)")) }
            var refuted = [Bool](repeating: false, count: region.clauses.count)
            for (k, refutation) in node.refutations.enumerated() {
                guard let dual = refutation.lpDual else { continue }
                count += 1
                let constraint = region.clauses[Int(refutation.clause)].constraints[Int(refutation.constraint)]
                let objective = constraint.terms.map { (element: $0.output, coefficient: $0.coefficient) }
                switch LinearProgramCheck.lowerBound(model, state: job.state, objective: .outputs(objective), dual: dual) {
                case .failure(let f):
                    return .failure(CheckFailure("\(place) refutation \(k) (clause \(refutation.clause)): \(f.message)"))
                case .success(let bound):
                    if let f = compare(bound, PropertyRounding.outerThreshold(constraint),
                                       "\(place) refutation \(k) of clause \(refutation.clause) (LP)") { return .failure(f) }
                    refuted[Int(refutation.clause)] = true
                }
            }
            for (k, refutation) in node.refutations.enumerated() {
                guard let r = rowOf[q][k] else { continue }
                count += 1
                let constraint = region.clauses[Int(refutation.clause)].constraints[Int(refutation.constraint)]
                let here = "\(place) refutation \(k) of clause \(refutation.clause)"
                if let failure = bounds[r].failure { return .failure(CheckFailure("\(here): \(failure)")) }
                if let f = compare(bounds[r].lower, PropertyRounding.outerThreshold(constraint), here) { return .failure(f) }
                refuted[Int(refutation.clause)] = true
            }
            return .success(refuted)
        }
        return (results, count)
    }

    /// `bound > threshold`, or the failure saying by how much it is short.
    func compare(_ bound: Double, _ threshold: Double, _ place: String) -> CheckFailure? {
        guard threshold.isFinite else { return CheckFailure("\(place): the threshold \(threshold) is not finite") }
        if bound > threshold { return nil }
        return CheckFailure("\(place): recomputed lower bound \(formatted(bound)) does not exceed the threshold "
                            + "\(formatted(threshold)) (short by \(formatted(threshold - bound)))")
    }

    /// Checks a node's tightenings in order (until the bounds become empty), narrowing the
    /// bounds by each; the first failure, and how many were checked.
    func tighten(_ node: ProofNode, state: inout BoundState, place: String) -> (CheckFailure?, Int) {
        var count = 0
        for (k, t) in node.tightenings.enumerated() {
            count += 1
            if state.empty != nil { break }
            if let f = checkTightening(t, state: &state, place: "\(place) tightening \(k)") { return (f, count) }
        }
        return (nil, count)
    }

    /// Checks a tightening against the node's canonical LP and narrows the bounds.
    func checkTightening(_ t: Tightening, state: inout BoundState, place: String) -> CheckFailure? {
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
