import EvidentIR
import EvidentSoundArithmetic

/// A split constraint on a pre-activation: `ẑ_j ≥ 0` (`active`) or `ẑ_j ≤ 0`.
struct SplitConstraint: Sendable, Equatable {
    /// The pre-activation value (the ReLU node's operand).
    var value: ValueID
    var neuron: Int
    var active: Bool
}

/// Everything the checker holds about one subdomain: bounds of every value valid in real
/// arithmetic on the whole subdomain, and what backward passes derive from them
/// (relaxations, rounding charges). Values are copy-on-write, so a child that inherits its
/// parent's bounds shares all arrays it does not change.
struct BoundState: Sendable {
    var bounds: [ValueBounds?]
    var relu: [ValueID: ReluLines] = [:]
    var maxPool: [ValueID: MaxPoolLines] = [:]
    /// Per node index: the charge of its transposed map (`nil` where exact).
    var charges: [AffineCharge?]
    /// Per value read more than once or used as a pre-activation: `up(u · max(|l|, |u|))`.
    var roundingWeights: [ValueID: [Double]] = [:]
    /// Set when some bound is not a finite number: no refutation can use this state.
    var nonFinite: String?
    /// Set when some bound has `lower > upper`: the subdomain is empty.
    var empty: String?

    init(valueCount: Int, nodeCount: Int) {
        bounds = [ValueBounds?](repeating: nil, count: valueCount)
        charges = [AffineCharge?](repeating: nil, count: nodeCount)
    }
}

/// Computes and updates ``BoundState``s (Docs/certificates.md, "Bounds at a node").
enum NodeBounds {
    /// Counts of the work done, for statistics.
    struct Work: Sendable {
        var computations = 0
        var crownRows = 0
    }

    /// Bounds computed from a box and split constraints: values in graph order, interval
    /// bounds first, CROWN bounds (default slopes, no multipliers) for every unstable neuron
    /// of a pre-activation produced by an affine node (every element of a MaxPool operand),
    /// intersected, then clipped by the split constraints on that value.
    static func compute(_ model: CheckerModel, box: ValueBounds, splits: [SplitConstraint], work: inout Work) -> BoundState {
        compute(model, boxes: [box], splits: [splits], work: &work)[0]
    }

    /// The bounds of several subdomains (`boxes[b]` with `splits[b]`), each exactly as
    /// ``compute(_:box:splits:work:)`` computes it alone: the CROWN rows of one value go
    /// through one ``BackwardPass`` for all subdomains, and each row's bound depends only on
    /// its own subdomain.
    static func compute(_ model: CheckerModel, boxes: [ValueBounds], splits: [[SplitConstraint]],
                        work: inout Work) -> [BoundState] {
        work.computations += boxes.count
        let graph = model.graph
        var states = [BoundState](repeating: BoundState(valueCount: graph.values.count, nodeCount: graph.nodes.count),
                                  count: boxes.count)
        var clips = [[ValueID: [SplitConstraint]]](repeating: [:], count: boxes.count)
        for (b, list) in splits.enumerated() { for s in list { clips[b][s.value, default: []].append(s) } }
        func finishValue(_ v: ValueID, _ b: Int) { Self.finishValue(model, v: v, in: &states[b]) }
        // The subdomains still being computed (not yet found empty or non-finite).
        var open = [Int]()
        for b in boxes.indices {
            var start = boxes[b]
            apply(clips[b][model.input] ?? [], to: &start)
            states[b].bounds[model.input] = start
            if let e = start.firstEmpty {
                states[b].empty = "the input's bounds of element \(e) are empty"
                continue
            }
            finishValue(model.input, b)
            open.append(b)
        }
        for (index, node) in graph.nodes.enumerated() {
            let v = node.output
            var bounds = [ValueBounds]()
            var stillOpen = [Int]()
            for b in open {
                let x = SoundForward.propagate(model, node: index, operands: node.inputs.map { states[b].bounds[$0]! })
                if let e = x.firstNonFinite {
                    states[b].nonFinite = "the interval bound of element \(e) of '\(graph.values[v].name)' is not finite "
                        + "([\(x.lower[e]), \(x.upper[e])])"
                    continue
                }
                bounds.append(x)
                stillOpen.append(b)
            }
            open = stillOpen
            if model.getsCrownBounds[v] {
                let all = model.isMaxPoolOperand[v]
                let order = spatialOrder(graph.values[v].shape)
                var rows = [BackwardRow](), targets = [[Int]]()
                for (k, x) in bounds.enumerated() {
                    let mine = order.filter { all || (x.lower[$0] < 0 && x.upper[$0] > 0) }
                    for j in mine {
                        rows.append(BackwardRow(start: .unit(element: j, sign: 1), box: k, state: k))
                        rows.append(BackwardRow(start: .unit(element: j, sign: -1), box: k, state: k))
                    }
                    targets.append(mine)
                }
                if !rows.isEmpty {
                    work.crownRows += rows.count
                    let results = BackwardPass(model: model, states: open.map { states[$0] }, target: v,
                                               boxes: open.map { states[$0].bounds[model.input]! }).run(rows)
                    var r = 0
                    for (k, mine) in targets.enumerated() {
                        for j in mine {
                            // A row that failed (non-finite) keeps the interval bound: CROWN only refines.
                            if results[r].failure == nil { bounds[k].lower[j] = Swift.max(bounds[k].lower[j], results[r].lower) }
                            if results[r + 1].failure == nil {
                                bounds[k].upper[j] = Swift.min(bounds[k].upper[j], -results[r + 1].lower)
                            }
                            r += 2
                        }
                    }
                }
            }
            stillOpen = []
            for (k, b) in open.enumerated() {
                apply(clips[b][v] ?? [], to: &bounds[k])
                states[b].bounds[v] = bounds[k]
                if let e = bounds[k].firstEmpty {
                    states[b].empty = "element \(e) of '\(graph.values[v].name)' has lower bound \(bounds[k].lower[e]) above "
                        + "its upper bound \(bounds[k].upper[e])"
                    continue
                }
                states[b].charges[index] = AffineCharge.make(model, node: index, operand: states[b].bounds[node.inputs[0]]!)
                updateRelaxation(model, node: index, in: &states[b])
                finishValue(v, b)
                stillOpen.append(b)
            }
            open = stillOpen
        }
        return states
    }

    /// Recomputes the relaxation of node `index` (a ReLU or MaxPool) from its operand's bounds.
    static func updateRelaxation(_ model: CheckerModel, node index: Int, in state: inout BoundState) {
        let node = model.graph.nodes[index]
        switch node.operation {
        case .relu:
            state.relu[node.output] = ReluLines(preActivation: state.bounds[node.inputs[0]]!)
        case .maxPool:
            state.maxPool[node.output] = MaxPoolLines(plan: model.pools[index]!, operand: state.bounds[node.inputs[0]]!)
        default:
            break
        }
    }

    static func apply(_ clips: [SplitConstraint], to b: inout ValueBounds) {
        for c in clips {
            if c.active { b.lower[c.neuron] = Swift.max(b.lower[c.neuron], 0) } else { b.upper[c.neuron] = Swift.min(b.upper[c.neuron], 0) }
        }
    }

    /// Narrows one element of one value to `[lower, upper]` (intersected with its bounds) and
    /// updates what depends on it: the relaxations of the nodes reading it, and emptiness.
    /// Rounding charges computed from the wider bounds stay valid (magnitudes only shrink).
    static func narrow(_ model: CheckerModel, _ state: inout BoundState, value v: ValueID, element j: Int,
                       lower: Double, upper: Double) {
        guard state.empty == nil, state.nonFinite == nil, var b = state.bounds[v] else { return }
        b.lower[j] = Swift.max(b.lower[j], lower)
        b.upper[j] = Swift.min(b.upper[j], upper)
        state.bounds[v] = b
        if b.lower[j] > b.upper[j] {
            state.empty = "element \(j) of '\(model.graph.values[v].name)' has lower bound \(b.lower[j]) above its upper "
                + "bound \(b.upper[j])"
            return
        }
        for (index, node) in model.graph.nodes.enumerated() where node.inputs.contains(v) {
            switch node.operation {
            case .relu:
                state.relu[node.output]?.update(j, lower: b.lower[j], upper: b.upper[j])
            case .maxPool:
                updateRelaxation(model, node: index, in: &state)
            default:
                break
            }
        }
    }

    /// The input's bounds replaced by a box inside them (a child of an input split).
    static func replaceInput(_ model: CheckerModel, _ state: inout BoundState, box: ValueBounds) {
        guard state.empty == nil, state.nonFinite == nil else { return }
        state.bounds[model.input] = box
        if let e = box.firstEmpty { state.empty = "the input's bounds of element \(e) are empty" }
    }

    /// The elements of a value in the order CROWN rows are chunked: for `N × C × H × W`
    /// values, image by image, 4 × 4 tiles of the plane in row-major order, positions within
    /// a tile, then all channels of a position; so a chunk's rows start from neighbouring
    /// neurons and its coefficients stay zero outside a few receptive fields.
    static func spatialOrder(_ shape: [Int]) -> [Int] {
        let count = shape.elementCount
        guard shape.count == 4, shape[2] * shape[3] > 1 else { return Array(0..<count) }
        let (images, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let tile = 4
        var order = [Int]()
        order.reserveCapacity(count)
        for image in 0..<images {
            for ty in stride(from: 0, to: h, by: tile) {
                for tx in stride(from: 0, to: w, by: tile) {
                    for y in ty..<min(h, ty + tile) {
                        for x in tx..<min(w, tx + tile) {
                            for channel in 0..<c { order.append(((image * c + channel) * h + y) * w + x) }
                        }
                    }
                }
            }
        }
        return order
    }
}
