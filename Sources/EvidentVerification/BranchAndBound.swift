import Foundation
import EvidentIR
import EvidentVNNLib
import EvidentBounds
import EvidentCertificate

// Branch and bound, two ways:
// - input splitting (low-dimensional inputs such as ACAS Xu's 5): boxes are bisected along
//   the coordinate where the bound is most sensitive, and every box gets fresh CROWN bounds;
// - ReLU splitting (images): subdomains fix the sign of one unstable neuron at a time, keep
//   the root's intermediate bounds (clipped by the splits), and optimise the final rows'
//   slopes together with one β multiplier per split (β-CROWN, Wang et al. 2021).
// Both record every split and every refutation into a proof tree for the certificate.

extension Verifier {
    /// One box of input-split branch and bound.
    struct InputDomain {
        var lower: [Double]
        var upper: [Double]
        var pending: [Int]
        var node: Int
        var depth: Int
    }

    /// Input-split branch and bound over region `r` for the `pending` clauses, extending
    /// `tree` below `root` (the region's box).
    func inputSplit(region r: Int, rows: RegionRows, pending: [Int], tree: inout TreeBuilder, root: Int) -> Outcome {
        let region = property.regions[r]
        let n = graph.values[graph.input].count
        let rowCount = rows.thresholds.count
        var stack = MinHeap<InputDomain>()
        stack.push(InputDomain(lower: region.lower, upper: region.upper, pending: pending, node: root, depth: 0), key: -.infinity)
        var worst = -Double.infinity
        var deepest = 0
        var attackRound: UInt64 = 0
        var batchStart = DispatchTime.now().uptimeNanoseconds, batchSeconds = 0.0
        while !stack.isEmpty {
            let now = DispatchTime.now().uptimeNanoseconds
            (batchSeconds, batchStart) = (Double(now - batchStart) / 1e9, now)
            if pastDeadline(after: batchSeconds) {
                return .open(reason: "the time limit was reached with \(stack.count) open boxes", timedOut: true, margin: worst)
            }
            if stack.count > settings.maxOpenDomains {
                return .open(reason: "more than \(settings.maxOpenDomains) open boxes (memory cap)", timedOut: false, margin: worst)
            }
            let take = min(settings.inputBatch, stack.count)
            let batch = (0..<take).map { _ in stack.pop()! }
            let lower = batch.flatMap(\.lower), upper = batch.flatMap(\.upper)
            let intermediate = propagator.intermediateBounds(lower: lower, upper: upper, batch: take)
            let result = propagator.finalBounds(of: rows.spec!, lower: lower, upper: upper, batch: take,
                                                intermediate: intermediate, settings: FinalBoundSettings(iterations: 0))
            subdomains += take
            var batchWorst = Double.infinity
            var candidates = [Int: [(box: Int, x: [Double])]]()
            var attackBoxes = [(margin: Double, lower: [Double], upper: [Double], clause: Int)]()
            var children = [(parent: Int, domain: InputDomain)]()
            for (b, domain) in batch.enumerated() {
                var open = [Int]()
                var boxMargin = Double.infinity
                for c in domain.pending {
                    let constraints = region.clauses[c].constraints.indices
                    let (k, margin) = constraints.map { ($0, result.lower[b * rowCount + rows.offset[c] + $0] - rows.thresholds[rows.offset[c] + $0]) }
                        .max { $0.1 < $1.1 }!
                    if margin > 0 {
                        tree.nodes[domain.node].refutations.append(Refutation(clause: UInt32(c), constraint: UInt32(k)))
                    } else {
                        open.append(c)
                        batchWorst = min(batchWorst, margin)
                        if margin < boxMargin {
                            boxMargin = margin
                            attackBoxes.append((margin, domain.lower, domain.upper, c))
                        }
                        for k in constraints {
                            let column = b * rowCount + rows.offset[c] + k
                            candidates[c, default: []].append((b, (0..<n).map { i in
                                result.inputCoefficients[i * take * rowCount + column] >= 0 ? domain.lower[i] : domain.upper[i]
                            }))
                        }
                    }
                }
                guard !open.isEmpty else { continue }
                // Split where the open rows' linear bounds are most sensitive: |Λ_i| · width_i.
                var score = [Double](repeating: 0, count: n)
                for c in open {
                    for k in region.clauses[c].constraints.indices {
                        let column = b * rowCount + rows.offset[c] + k
                        for i in 0..<n { score[i] += abs(result.inputCoefficients[i * take * rowCount + column]) * (domain.upper[i] - domain.lower[i]) }
                    }
                }
                // Coordinates that can still be halved.
                let wide = (0..<n).filter {
                    let (l, u) = (domain.lower[$0], domain.upper[$0])
                    let mid = l + (u - l) / 2
                    return l < mid && mid < u
                }
                // When the linear part explains little of the gap, the looseness is in the
                // relaxations, which any wide coordinate feeds: take the widest (relative to
                // the region).
                let gap = -open.map { c in region.clauses[c].constraints.indices.map {
                    result.lower[b * rowCount + rows.offset[c] + $0] - rows.thresholds[rows.offset[c] + $0] }.max()! }.max()!
                if wide.reduce(0.0, { $0 + score[$1] }) < 0.01 * gap {
                    for i in wide { score[i] = (domain.upper[i] - domain.lower[i]) / (region.upper[i] - region.lower[i]) }
                }
                guard let dimension = wide.max(by: { score[$0] < score[$1] || (score[$0] == score[$1] && $0 > $1) }) else {
                    return .open(reason: "a box of region \(r) shrank to a point without deciding clause \(open[0])",
                                 timedOut: false, margin: batchWorst)
                }
                let (l, u) = (domain.lower[dimension], domain.upper[dimension])
                var point = l + (u - l) / 2
                if !(point >= l && point <= u) { point = l }
                let (low, high) = tree.branch(domain.node, .input(dimension: UInt32(dimension), point: point), refresh: true)
                var upperHalf = domain.upper, lowerHalf = domain.lower
                upperHalf[dimension] = point
                lowerHalf[dimension] = point
                children.append((b, InputDomain(lower: domain.lower, upper: upperHalf, pending: open, node: low, depth: domain.depth + 1)))
                children.append((b, InputDomain(lower: lowerHalf, upper: domain.upper, pending: open, node: high, depth: domain.depth + 1)))
                deepest = max(deepest, domain.depth + 1)
            }
            // Bound corners as candidate counterexamples; the best concrete violation in a box
            // orders its children (the likeliest place for a counterexample comes first; for a
            // proof every box is visited anyway).
            var promise = [Double](repeating: .infinity, count: take)
            for (c, list) in candidates.sorted(by: { $0.key < $1.key }) {
                let evaluation = attack.evaluate(candidates: list.map(\.x), region: r, clause: c)
                if let found = evaluation.counterexample {
                    return .counterexample(found, method: "input-split branch and bound (bound-corner evaluation)")
                }
                for (k, item) in list.enumerated() { promise[item.box] = min(promise[item.box], evaluation.violations[k]) }
            }
            // Each child first tries its parent's intermediate bounds (valid on the child's
            // box, which lies inside): a final pass is cheap, and a child refuted this way is a
            // leaf that inherits them, so neither search nor check computes its own.
            if !children.isEmpty {
                let count = children.count
                var inherited = [IntervalBounds?](repeating: nil, count: intermediate.count)
                for v in intermediate.indices where v != graph.input {
                    guard let b = intermediate[v] else { continue }
                    let size = b.lower.count / take
                    var lower = [Double](), upper = [Double]()
                    lower.reserveCapacity(size * count)
                    upper.reserveCapacity(size * count)
                    for child in children {
                        lower += b.lower[(child.parent * size)..<((child.parent + 1) * size)]
                        upper += b.upper[(child.parent * size)..<((child.parent + 1) * size)]
                    }
                    inherited[v] = IntervalBounds(lower: lower, upper: upper)
                }
                let childLower = children.flatMap(\.domain.lower), childUpper = children.flatMap(\.domain.upper)
                let early = propagator.finalBounds(of: rows.spec!, lower: childLower, upper: childUpper, batch: count,
                                                   intermediate: inherited, settings: FinalBoundSettings(iterations: 0))
                subdomains += count
                for (i, child) in children.enumerated() {
                    var refutations = [Refutation]()
                    for c in child.domain.pending {
                        let (k, margin) = region.clauses[c].constraints.indices
                            .map { ($0, early.lower[i * rowCount + rows.offset[c] + $0] - rows.thresholds[rows.offset[c] + $0]) }
                            .max { $0.1 < $1.1 }!
                        if margin > 0 { refutations.append(Refutation(clause: UInt32(c), constraint: UInt32(k))) }
                    }
                    if refutations.count == child.domain.pending.count {
                        tree.nodes[child.domain.node].refresh = false
                        tree.nodes[child.domain.node].refutations = refutations
                    } else {
                        stack.push(child.domain, key: promise[child.parent])
                    }
                }
            }
            // A short attack inside the worst boxes of the batch.
            attackRound += 1
            for box in attackBoxes.sorted(by: { $0.margin < $1.margin }).prefix(4) {
                let local = AttackSettings(restarts: 3, steps: 15, initialStep: 0.5, seed: attackRound)
                if let found = attack.run(settings: local, targets: [(r, box.clause)], within: (box.lower, box.upper), deadline: deadline) {
                    return .counterexample(found, method: "input-split branch and bound (PGD in a subdomain)")
                }
            }
            if batchWorst < .infinity { worst = batchWorst }
            report(String(format: "region %d: input splitting, %d boxes bounded, %d open, depth %d, worst open margin %.4g, %.1f s",
                          r, subdomains, stack.count, deepest, batchWorst == .infinity ? 0 : batchWorst, elapsed))
        }
        return .proved(UnsatProof(regions: []), method: "input-split branch and bound", margin: 0)
    }

    /// One subdomain of ReLU-split branch and bound.
    struct ReluDomain {
        var splits: [NeuronSplit]
        var slopes: [Float]
        var betas: [Double]
        var lower: Double
        var node: Int
        var next: NeuronSplit
    }

    /// ReLU-split branch and bound (β-CROWN) for clause `c` of region `r`, refuting constraint
    /// `k`; returns a proof holding one tree.
    /// Stops the optimisation of a batch of one-row subdomains once every row is above
    /// `threshold` (all refuted), or after ``patience`` steps without improvement.
    static func earlyStop(above threshold: Double) -> EarlyStop {
        EarlyStop(patience: patience, satisfied: { best in best.allSatisfy { $0 > threshold } })
    }

    func reluSplit(region r: Int, clause c: Int, constraint k: Int, rows: RegionRows, intermediate rootBounds: [IntervalBounds?],
                   layout: SlopeLayout, rootSlopes: [Float], rootMargin: Double) -> Outcome {
        var intermediate = rootBounds
        let region = property.regions[r]
        let outputs = graph.outputShape.elementCount
        let row = rows.offset[c] + k
        let threshold = rows.thresholds[row]
        let spec = rows.rows([row], outputs: outputs)
        var tree = TreeBuilder(layout: layout)
        let rootNode = tree.addNode(refresh: true)
        let preOf = Dictionary(uniqueKeysWithValues: layout.layers.map { ($0.relu, $0.pre) })
        let nameOf = Dictionary(uniqueKeysWithValues: layout.layers.map { ($0.relu, $0.name) })

        // The root again, for its coefficients on every ReLU (the branching scores).
        let rootStart = FinalBoundStart(slopes: layout.expand([rootSlopes.isEmpty ? [Float](repeating: 0, count: layout.count) : rootSlopes],
                                                              graph: graph), betas: [[]])
        var root = propagator.finalBounds(of: spec, lower: region.lower, upper: region.upper, batch: 1, intermediate: intermediate,
                                          settings: FinalBoundSettings(iterations: 0, keepReluCoefficients: true),
                                          start: rootSlopes.isEmpty ? nil : rootStart)
        subdomains += 1
        if root.lower[0] > threshold {
            tree.nodes[rootNode].refutations.append(Refutation(
                clause: UInt32(c), constraint: UInt32(k),
                slopes: layout.bytes(root.slopeBytes, rows: 1, column: 0, defaults: intermediate)))
            return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: "alpha-CROWN", margin: root.lower[0] - threshold)
        }
        // LP tightenings at the root (networks whose LP is small enough): the unstable neurons
        // that cost the bound most, past the first unstable layer (affine in the input, where
        // CROWN is exact already), in graph order. Every subdomain inherits them.
        let order = Dictionary(uniqueKeysWithValues: layout.layers.enumerated().map { ($0.element.relu, $0.offset) })
        let targets = splitCandidates(root.reluCoefficients, rows: 1, column: 0, layout: layout, bounds: intermediate, splits: [])
            .filter { order[$0.split.relu]! > 0 }
            .sorted { ($0.score, $0.backup) > ($1.score, $1.backup) }
            .prefix(settings.lpTightenings).map(\.split)
            .sorted { (order[$0.relu]!, $0.neuron) < (order[$1.relu]!, $1.neuron) }
        if settings.lpTightenings > 0 && !targets.isEmpty && lpTimeLeft > 0.05 {
            let count = lpTighten(targets, bounds: &intermediate, lower: region.lower, upper: region.upper, layout: layout,
                                  tree: &tree, node: rootNode)
            if count > 0 {
                let start = FinalBoundStart(slopes: layout.expand([layout.compact(root.slopes, rows: 1, column: 0)], graph: graph), betas: [[]])
                root = propagator.finalBounds(of: spec, lower: region.lower, upper: region.upper, batch: 1, intermediate: intermediate,
                                              settings: FinalBoundSettings(iterations: settings.alphaIterations, keepReluCoefficients: true,
                                                                           earlyStop: Self.earlyStop(above: threshold)),
                                              start: start)
                subdomains += 1
                report(String(format: "region %d clause %d: %d LP tightenings of %d neurons, root margin %.4g", r, c, count, targets.count,
                              root.lower[0] - threshold), force: true)
                if root.lower[0] > threshold {
                    tree.nodes[rootNode].refutations.append(Refutation(
                        clause: UInt32(c), constraint: UInt32(k),
                        slopes: layout.bytes(root.slopeBytes, rows: 1, column: 0, defaults: intermediate)))
                    return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: "LP (GLPK)",
                                   margin: root.lower[0] - threshold)
                }
                if let refuted = lpRefute([c], region: r, rows: rows, lower: region.lower, upper: region.upper, bounds: intermediate,
                                          first: [c: k], tree: &tree, node: rootNode).first {
                    return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: "LP (GLPK)", margin: refuted.margin)
                }
            }
        }
        guard let first = chooseSplit(root.reluCoefficients, rows: 1, column: 0, layout: layout, bounds: intermediate, splits: []) else {
            return .open(reason: "clause \(c) of region \(r) is not refuted and no ReLU is unstable", timedOut: false,
                         margin: root.lower[0] - threshold)
        }
        var heap = MinHeap<ReluDomain>()
        heap.push(ReluDomain(splits: [], slopes: layout.compact(root.slopes, rows: 1, column: 0), betas: [],
                             lower: root.lower[0], node: rootNode, next: first), key: root.lower[0])
        let box = (lower: region.lower, upper: region.upper)
        var batchStart = DispatchTime.now().uptimeNanoseconds, batchSeconds = 0.0
        while !heap.isEmpty {
            let margin = heap.minimum! - threshold
            let now = DispatchTime.now().uptimeNanoseconds
            (batchSeconds, batchStart) = (Double(now - batchStart) / 1e9, now)
            if pastDeadline(after: batchSeconds) {
                return .open(reason: "the time limit was reached with \(heap.count) open subdomains of clause \(c)",
                             timedOut: true, margin: margin)
            }
            if heap.count > settings.maxOpenDomains {
                return .open(reason: "more than \(settings.maxOpenDomains) open subdomains (memory cap)", timedOut: false, margin: margin)
            }
            let parents = (0..<min(settings.reluBatch, heap.count)).map { _ in heap.pop()! }
            var children = [ReluDomain]()
            for parent in parents {
                let split = parent.next
                let (low, high) = tree.branch(parent.node, .relu(layer: nameOf[split.relu]!, neuron: UInt32(split.neuron)),
                                              refresh: false)
                for (node, active) in [(low, false), (high, true)] {
                    children.append(ReluDomain(splits: parent.splits + [NeuronSplit(relu: split.relu, neuron: split.neuron, active: active)],
                                               slopes: parent.slopes, betas: parent.betas + [0], lower: parent.lower,
                                               node: node, next: split))
                }
            }
            let count = children.count
            let tiled = tiledBounds(intermediate, children: children.map(\.splits), preOf: preOf)
            let lower = Array([[Double]](repeating: box.lower, count: count).joined())
            let upper = Array([[Double]](repeating: box.upper, count: count).joined())
            let result = propagator.finalBounds(
                of: spec, lower: lower, upper: upper, batch: count, intermediate: tiled, splits: children.map(\.splits),
                settings: FinalBoundSettings(iterations: settings.babIterations, slopeLearningRate: 0.1, betaLearningRate: 0.1,
                                             learningRateDecay: 0.98, keepReluCoefficients: true,
                                             earlyStop: Self.earlyStop(above: threshold)),
                start: FinalBoundStart(slopes: layout.expand(children.map(\.slopes), graph: graph), betas: children.map(\.betas)))
            subdomains += count
            var candidates = [[Double]]()
            let n = graph.values[graph.input].count
            for (i, child) in children.enumerated() {
                if result.lower[i] > threshold {
                    tree.nodes[child.node].refutations.append(Refutation(
                        clause: UInt32(c), constraint: UInt32(k),
                        slopes: layout.bytes(result.slopeBytes, rows: count, column: i, defaults: intermediate),
                        betas: result.betas[i]))
                    continue
                }
                candidates.append((0..<n).map { result.inputCoefficients[$0 * count + i] >= 0 ? box.lower[$0] : box.upper[$0] })
                guard let next = chooseSplit(result.reluCoefficients, rows: count, column: i, layout: layout, bounds: intermediate,
                                             splits: child.splits) else {
                    // Every ReLU is fixed: the LP over the subdomain is exact and decides it.
                    switch lpDecideLeaf(region: r, clause: c, constraint: k, rows: rows, bounds: intermediate, splits: child.splits,
                                        preOf: preOf) {
                    case .refuted(let refutation):
                        tree.nodes[child.node].refutations.append(refutation)
                        candidates.removeLast()
                        continue
                    case .counterexample(let found):
                        return .counterexample(found, method: "ReLU-split branch and bound (LP at a leaf)")
                    case .open:
                        break
                    }
                    if let found = attack.confirm(candidates: [candidates.last!], region: r, clause: c) {
                        return .counterexample(found, method: "ReLU-split branch and bound (bound-corner evaluation)")
                    }
                    return .open(reason: "a subdomain of clause \(c) with every ReLU fixed was refuted neither by beta-CROWN "
                                 + "(bound \(result.lower[i] - threshold)) nor by the LP",
                                 timedOut: false, margin: result.lower[i] - threshold)
                }
                var open = child
                open.lower = result.lower[i]
                open.slopes = layout.compact(result.slopes, rows: count, column: i)
                open.betas = result.betas[i]
                open.next = next
                heap.push(open, key: open.lower)
            }
            if let found = attack.confirm(candidates: candidates, region: r, clause: c) {
                return .counterexample(found, method: "ReLU-split branch and bound (bound-corner evaluation)")
            }
            report(String(format: "region %d clause %d: ReLU splitting, %d subdomains bounded, %d open, worst open margin %.4g, %.1f s",
                          r, c, subdomains, heap.count, (heap.minimum ?? threshold) - threshold, elapsed))
        }
        return .proved(UnsatProof(regions: [RegionProof(trees: [tree.build()])]), method: "ReLU-split branch and bound (beta-CROWN)",
                       margin: rootMargin)
    }

    /// The root's pre-activation bounds repeated for each child, clipped by its splits.
    func tiledBounds(_ root: [IntervalBounds?], children: [[NeuronSplit]], preOf: [ValueID: ValueID]) -> [IntervalBounds?] {
        var tiled = [IntervalBounds?](repeating: nil, count: root.count)
        let count = children.count
        for node in graph.nodes where node.operation == .relu || node.operation.name == "MaxPool" {
            let v = node.inputs[0]
            guard let b = root[v], tiled[v] == nil else { continue }
            tiled[v] = IntervalBounds(lower: Array([[Double]](repeating: b.lower, count: count).joined()),
                                      upper: Array([[Double]](repeating: b.upper, count: count).joined()))
        }
        for (i, splits) in children.enumerated() {
            for split in splits {
                let v = preOf[split.relu]!, size = graph.values[v].count
                if split.active {
                    tiled[v]!.lower[i * size + split.neuron] = max(tiled[v]!.lower[i * size + split.neuron], 0)
                } else {
                    tiled[v]!.upper[i * size + split.neuron] = min(tiled[v]!.upper[i * size + split.neuron], 0)
                }
            }
        }
        return tiled
    }

    /// The neuron to split next (BaBSR-style, Bunel et al. 2020): the unstable neuron whose
    /// upper-line intercept costs the bound most, `max(0, −λ_j) · u_j (−l_j) / (u_j − l_j)`
    /// with `λ_j` the final row's coefficient on the ReLU output; ties and all-zero scores fall
    /// back to `|λ_j| · (u_j − l_j)`.
    func chooseSplit(_ coefficients: [ValueID: [Double]], rows: Int, column: Int, layout: SlopeLayout,
                     bounds: [IntervalBounds?], splits: [NeuronSplit]) -> NeuronSplit? {
        splitCandidates(coefficients, rows: rows, column: column, layout: layout, bounds: bounds, splits: splits)
            .max { ($0.score, $0.backup) < ($1.score, $1.backup) }?.split
    }

    /// Every unstable neuron not split yet, with its branching score and fallback score.
    func splitCandidates(_ coefficients: [ValueID: [Double]], rows: Int, column: Int, layout: SlopeLayout,
                         bounds: [IntervalBounds?], splits: [NeuronSplit]) -> [(score: Double, backup: Double, split: NeuronSplit)] {
        let taken = Set(splits.map { "\($0.relu):\($0.neuron)" })
        var candidates = [(score: Double, backup: Double, split: NeuronSplit)]()
        for layer in layout.layers {
            guard let b = bounds[layer.pre] else { continue }
            let lambda = coefficients[layer.relu]
            for j in layer.neurons where !taken.contains("\(layer.relu):\(j)") {
                let (l, u) = (b.lower[j], b.upper[j])
                guard l < 0 && u > 0 else { continue }
                let a = lambda?[j * rows + column] ?? 0
                candidates.append((max(0, -a) * u * (-l) / (u - l), abs(a) * (u - l), NeuronSplit(relu: layer.relu, neuron: j, active: true)))
            }
        }
        return candidates
    }
}

/// A binary min-heap by a key (the worst subdomain first).
struct MinHeap<Element> {
    private var items: [(key: Double, element: Element)] = []
    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var minimum: Double? { items.first?.key }

    mutating func push(_ element: Element, key: Double) {
        items.append((key, element))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].key < items[parent].key else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let (l, r) = (2 * i + 1, 2 * i + 2)
            var smallest = i
            if l < items.count && items[l].key < items[smallest].key { smallest = l }
            if r < items.count && items[r].key < items[smallest].key { smallest = r }
            if smallest == i { break }
            items.swapAt(i, smallest)
            i = smallest
        }
        return top.element
    }
}
