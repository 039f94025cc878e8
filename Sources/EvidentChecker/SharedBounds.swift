import Foundation
import EvidentIR
import EvidentSoundArithmetic

/// Lets concurrent tasks write disjoint elements of one buffer.
struct SharedBuffer<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
    init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
}

extension NodeBounds {
    /// Bounds of a base box and of boxes inside it (EVA's `B` and `B_u`, Docs/certificates.md,
    /// "Bound claims", flag `share base rows`): the base box's state exactly as
    /// ``compute(_:box:splits:work:)`` gives it, and for every child, values in graph order:
    /// interval bounds from the child's own operand bounds, intersected with the base's bounds
    /// of the value (valid on the child, which lies inside the base), and, where the base
    /// computes CROWN rows, each row's linear bound concretised over the child as well
    /// (``BackwardPass/children``), intersected too. Each child then has its own relaxations
    /// and charges for later values and for its final rows. Children must lie inside the base.
    static func computeShared(_ model: CheckerModel, base: ValueBounds, children: [ValueBounds],
                              work: inout Work) -> (base: BoundState, children: [BoundState]) {
        work.computations += 1
        let graph = model.graph
        let boxes = [base] + children
        var states = [BoundState](repeating: BoundState(valueCount: graph.values.count, nodeCount: graph.nodes.count),
                                  count: boxes.count)
        let childBoxes = children.enumerated().map { c, box in
            ChildBox(box: 1 + c, differing: (0..<model.inputSize).filter {
                box.lower[$0] != base.lower[$0] || box.upper[$0] != base.upper[$0]
            })
        }
        var open = [Int]()
        for s in boxes.indices {
            states[s].bounds[model.input] = boxes[s]
            if let e = boxes[s].firstEmpty {
                states[s].empty = "the input's bounds of element \(e) are empty"
                continue
            }
            finishValue(model, v: model.input, in: &states[s])
            open.append(s)
        }
        for (index, node) in graph.nodes.enumerated() where open.first == 0 {
            let v = node.output
            // Interval bounds of every open box, the boxes spread over the cores.
            var bounds = [ValueBounds?](repeating: nil, count: boxes.count)
            let current = states
            bounds.withUnsafeMutableBufferPointer { out in
                let out = SharedBuffer(out)
                DispatchQueue.concurrentPerform(iterations: open.count) { k in
                    let s = open[k]
                    out.buffer[s] = SoundForward.propagate(model, node: index, operands: node.inputs.map { current[s].bounds[$0]! })
                }
            }
            for s in open {
                if let x = bounds[s], let e = x.firstNonFinite {
                    states[s].nonFinite = "the interval bound of element \(e) of '\(graph.values[v].name)' is not finite "
                        + "([\(x.lower[e]), \(x.upper[e])])"
                    bounds[s] = nil
                }
            }
            open = open.filter { bounds[$0] != nil }
            guard open.first == 0 else { break }
            var rowResults = [RowBound](), targets = [Int]()
            if model.getsCrownBounds[v] {
                let all = model.isMaxPoolOperand[v], x = bounds[0]!
                targets = spatialOrder(graph.values[v].shape).filter { all || (x.lower[$0] < 0 && x.upper[$0] > 0) }
                var rows = [BackwardRow]()
                for j in targets {
                    rows.append(BackwardRow(start: .unit(element: j, sign: 1), box: 0, state: 0))
                    rows.append(BackwardRow(start: .unit(element: j, sign: -1), box: 0, state: 0))
                }
                if !rows.isEmpty {
                    work.crownRows += rows.count
                    var pass = BackwardPass(model: model, states: [states[0]], target: v,
                                            boxes: boxes.indices.map { states[$0].bounds[model.input]! })
                    pass.children = [childBoxes]
                    rowResults = pass.run(rows)
                    var b = bounds[0]!
                    for (k, j) in targets.enumerated() {
                        if rowResults[2 * k].failure == nil { b.lower[j] = Swift.max(b.lower[j], rowResults[2 * k].lower) }
                        if rowResults[2 * k + 1].failure == nil { b.upper[j] = Swift.min(b.upper[j], -rowResults[2 * k + 1].lower) }
                    }
                    bounds[0] = b
                }
            }
            let baseBounds = bounds[0]!
            let results = rowResults, computed = bounds
            states.withUnsafeMutableBufferPointer { all in
                let all = SharedBuffer(all)
                DispatchQueue.concurrentPerform(iterations: open.count) { k in
                    let s = open[k]
                    finishShared(model, node: index, box: s, bounds: computed[s]!, base: baseBounds, targets: targets,
                                 rows: results, state: &all.buffer[s])
                }
            }
            open = open.filter { states[$0].empty == nil }
        }
        // A base that failed leaves its children unusable too.
        if let reason = states[0].nonFinite ?? states[0].empty.map({ "the base box is empty: \($0)" }) {
            for s in 1..<boxes.count where states[s].nonFinite == nil && states[s].empty == nil {
                states[s].nonFinite = "the base box's bounds are unusable (\(reason))"
            }
        }
        return (states[0], Array(states.dropFirst()))
    }

    /// One box's bounds of node `index`'s value: the child's (`box > 0`) intersected with the
    /// base's and with the base's rows concretised over it; then its charges and relaxation.
    static func finishShared(_ model: CheckerModel, node index: Int, box s: Int, bounds: ValueBounds, base: ValueBounds,
                             targets: [Int], rows: [RowBound], state: inout BoundState) {
        let node = model.graph.nodes[index], v = node.output
        var b = bounds
        if s > 0 {
            for e in b.lower.indices {
                b.lower[e] = Swift.max(b.lower[e], base.lower[e])
                b.upper[e] = Swift.min(b.upper[e], base.upper[e])
            }
            for (k, j) in targets.enumerated() where !rows.isEmpty {
                // A failed row gives −∞ for every child: it only refines.
                b.lower[j] = Swift.max(b.lower[j], rows[2 * k].children[s - 1])
                b.upper[j] = Swift.min(b.upper[j], -rows[2 * k + 1].children[s - 1])
            }
        }
        state.bounds[v] = b
        if let e = b.firstEmpty {
            state.empty = "element \(e) of '\(model.graph.values[v].name)' has lower bound \(b.lower[e]) above "
                + "its upper bound \(b.upper[e])"
            return
        }
        state.charges[index] = AffineCharge.make(model, node: index, operand: state.bounds[node.inputs[0]]!)
        updateRelaxation(model, node: index, in: &state)
        finishValue(model, v: v, in: &state)
    }

    /// Records the rounding weights of value `v` when backward passes need them (a value
    /// read more than once, or a pre-activation): `up(u · max(|l|, |u|))` per element.
    static func finishValue(_ model: CheckerModel, v: ValueID, in state: inout BoundState) {
        if model.readCount[v] >= 2 || model.isPreActivation[v] {
            state.roundingWeights[v] = state.bounds[v]!.magnitude.map {
                roundedProduct(RoundingError.unitRoundoff, $0, upward: true)
            }
        }
    }
}
