import Foundation
import EvidentIR
import EvidentSoundArithmetic

/// One row of a backward pass: a linear function `Σ start · target` to bound from below over
/// the subdomain, the box its input concretises over, its explicit slopes and β terms.
struct BackwardRow: Sendable {
    enum Start: Sendable {
        /// `sign · target[element]` (intermediate bounds: `sign` is +1 or −1).
        case unit(element: Int, sign: Double)
        /// `Σ coefficient · target[element]`.
        case dense([(element: Int, coefficient: Double)])
    }
    var start: Start
    /// Index into the pass's boxes (the input's bounds for this row).
    var box: Int = 0
    /// Index into the pass's states: the subdomain whose relaxations and charges this row
    /// uses (rows of several subdomains go through one pass together).
    var state: Int = 0
    /// Index into the pass's explicit slope vectors, or `nil` for default slopes.
    var slopes: Int? = nil
    /// β-CROWN terms added to coefficients of pre-activations when the pass reaches them.
    var betas: [BetaTerm] = []
}

/// `coefficient · value[element]` added to a row's function (β-CROWN: `−σβ ẑ_j`).
struct BetaTerm: Sendable {
    var value: ValueID
    var element: Int
    var coefficient: Double
}

/// Which neurons of which ReLU layers carry explicit slopes, and where their bytes are.
struct SlopeLayout: Sendable {
    /// Per ReLU output value: for every neuron, its index in the slope byte vector, or −1.
    var position: [ValueID: [Int]] = [:]
    var count = 0
}

/// The result for one row: a lower bound valid in real arithmetic, or `-∞` with the reason.
struct RowBound: Sendable {
    var lower: Double
    var failure: String?
    /// The same row's bound concretised over each child box of its box (see
    /// ``BackwardPass/children``), in order.
    var children: [Double] = []
}

/// A box inside another box of a pass, and the input coordinates where the two differ.
struct ChildBox: Sendable {
    var box: Int
    var differing: [Int]
}

/// A sound CROWN backward pass (Docs/certificates.md, "Refutations"; Soundness.md, "The
/// checker"): lower bounds, valid in real arithmetic, of linear functions of one value over
/// a subdomain, with the relaxations and charges of a ``BoundState``. One pass may carry
/// the rows of several subdomains (`row.state`); each row uses only its own state, box,
/// slopes and β terms, so a row's result does not depend on the other rows of the pass.
///
/// Coefficients are element-major (`size × rows`). Rows are processed in chunks (a few
/// hundred rows), chunks in parallel. Every step is computed in binary64 round-to-nearest
/// and its rounding error is charged to the row instead of being avoided:
/// - affine steps: ``AffineCharge`` (`Σ_o |Λ_out[o, r]| w_o + fixed`); the transposed map
///   itself is exact for data movement, addition and subtraction;
/// - ReLU steps (products `c·α`, `c·s`) and sums at fan-outs and β additions:
///   `|fl(x) − x| ≤ u|fl(x)| (+ η/2 for products)`, charged as `|new| · up(u·ρ)` per element
///   with `ρ = max(|l|, |u|)` of the value the coefficient multiplies;
/// - constants (offsets `Λ·b`, intercepts `c·t`, the final dot product with the minimising
///   corner of the input box) are summed into one per-row number `k_r` together with
///   `Σ|terms|`, and charged `ĝ_N Σ|terms| + 2Nη` (N terms, `RoundingError` bound (C)).
/// The bound is `down(k_r − up(charges))`. A coefficient that overflows, or any non-finite
/// number in the result, fails the row (only that row: entries of a matrix product's
/// column depend only on that column).
struct BackwardPass {
    let model: CheckerModel
    /// The subdomains of the rows (`states[row.state]`).
    let states: [BoundState]
    let target: ValueID
    /// Input bounds per box (`boxes[row.box]`).
    let boxes: [ValueBounds]
    var layout = SlopeLayout()
    /// Explicit slope bytes (`layout.count` each), indexed by `row.slopes`.
    var slopeBytes: [[UInt8]] = []
    /// Per box index: boxes inside it over which its rows are also concretised. A row's
    /// linear bound `Λ x + k` holds on all of its box, so on every box inside it; its bound
    /// over a child differs only in the coordinates where the boxes differ, so the child's
    /// constant is the row's, minus those coordinates' terms over the box, plus their terms
    /// over the child, and its rounding is charged as a dot product with two more terms per
    /// differing coordinate (all of whose magnitudes enter the sum of magnitudes).
    var children: [[ChildBox]] = []

    init(model: CheckerModel, state: BoundState, target: ValueID, boxes: [ValueBounds]) {
        self.init(model: model, states: [state], target: target, boxes: boxes)
    }

    init(model: CheckerModel, states: [BoundState], target: ValueID, boxes: [ValueBounds]) {
        self.model = model
        self.states = states
        self.target = target
        self.boxes = boxes
    }

    /// Rows per chunk: a coefficient matrix of the widest value stays within a few megabytes.
    var chunkSize: Int {
        let widest = model.sizes.max() ?? 1
        return max(16, min(384, (1 << 19) / max(1, widest)))
    }

    /// Lower bounds of every row (in row order), computed in parallel chunks (an even
    /// number of them from 64 rows on, for two cores).
    func run(_ rows: [BackwardRow]) -> [RowBound] {
        if rows.isEmpty { return [] }
        var count = (rows.count + chunkSize - 1) / chunkSize
        if rows.count >= 64 && count % 2 == 1 { count += 1 }
        let size = (rows.count + count - 1) / count
        let chunks = (rows.count + size - 1) / size
        let results = ConcurrentResults(count: rows.count, initial: RowBound(lower: -.infinity, failure: "not computed"))
        MatrixProduct.prepare()
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let range = (c * size)..<min(rows.count, (c + 1) * size)
            var chunk = ChunkPass(pass: self, rows: Array(rows[range]))
            let bounds = chunk.run()
            for (k, r) in range.enumerated() { results.set(r, bounds[k]) }
        }
        return results.values
    }
}

/// Results written by concurrent tasks at disjoint indices.
final class ConcurrentResults<T>: @unchecked Sendable {
    private var storage: [T]
    private let lock = NSLock()
    init(count: Int, initial: T) { storage = [T](repeating: initial, count: count) }
    func set(_ i: Int, _ v: T) {
        lock.lock()
        storage[i] = v
        lock.unlock()
    }
    var values: [T] { storage }
}

/// Coefficients of all rows of a chunk on one value.
private enum Slot {
    /// Row `r` has the single coefficient `value[r]` at `element[r]`.
    case unit(element: [Int], value: [Double])
    /// `size × n` element-major; `support[e] == false` means element `e`'s block is all zeros.
    case dense(values: [Double], support: [Bool])
}

/// Consecutive rows of a chunk that share one state.
private struct RowGroup {
    var rows: Range<Int>
    var state: BoundState
}

/// One chunk of rows through the graph.
private struct ChunkPass {
    let pass: BackwardPass
    let rows: [BackwardRow]
    let n: Int
    var model: CheckerModel { pass.model }
    /// Maximal runs of rows with the same `row.state`, and each row's run.
    let groups: [RowGroup]
    let groupOf: [Int]
    /// Per-row sum of constant terms, sum of their magnitudes, and charges.
    var constant: [Double]
    var absoluteConstant: [Double]
    var charge: [Double]
    /// Per group: charges common to all its rows, rounded up.
    var fixed: [Double]
    /// Upper bounds on the number of terms in each row's constant sum and charge sum.
    var constantTerms = 0
    var chargeTerms = 0
    /// Per row: why it failed, if it did.
    var failure: [String?]
    var slots: [Slot?]
    /// Per row, per child box of its box: the constant and the sum of magnitudes after the
    /// child's concretisation (empty until ``concretize(_:)`` runs).
    var childConstant: [[Double]] = []
    var childAbsolute: [[Double]] = []

    init(pass: BackwardPass, rows: [BackwardRow]) {
        self.pass = pass
        self.rows = rows
        n = rows.count
        var groups = [RowGroup](), groupOf = [Int]()
        for (r, row) in rows.enumerated() {
            if let last = groups.last, rows[last.rows.lowerBound].state == row.state {
                groups[groups.count - 1].rows = last.rows.lowerBound..<(r + 1)
            } else {
                groups.append(RowGroup(rows: r..<(r + 1), state: pass.states[row.state]))
            }
            groupOf.append(groups.count - 1)
        }
        self.groups = groups
        self.groupOf = groupOf
        constant = [Double](repeating: 0, count: n)
        absoluteConstant = constant
        charge = constant
        fixed = [Double](repeating: 0, count: groups.count)
        failure = [String?](repeating: nil, count: n)
        slots = [Slot?](repeating: nil, count: pass.model.sizes.count)
    }

    mutating func run() -> [RowBound] {
        let target = pass.target
        // Initial coefficients.
        if rows.allSatisfy({ if case .unit = $0.start { return true } else { return false } }) {
            var element = [Int](), value = [Double]()
            for row in rows { if case let .unit(e, s) = row.start { element.append(e); value.append(s) } }
            slots[target] = .unit(element: element, value: value)
        } else {
            let size = model.sizes[target]
            var a = [Double](repeating: 0, count: size * n), support = [Bool](repeating: false, count: size)
            for (r, row) in rows.enumerated() {
                switch row.start {
                case let .unit(e, s):
                    a[e * n + r] += s
                    support[e] = true
                case .dense(let terms):
                    for t in terms where t.coefficient != 0 {
                        a[t.element * n + r] += t.coefficient
                        support[t.element] = true
                    }
                }
            }
            slots[target] = .dense(values: a, support: support)
        }
        var betas = [ValueID: [(row: Int, term: BetaTerm)]]()
        for (r, row) in rows.enumerated() { for t in row.betas { betas[t.value, default: []].append((r, t)) } }
        if let last = model.producers[target] {
            for index in stride(from: last, through: 0, by: -1) {
                let node = model.graph.nodes[index]
                let v = node.output
                if let terms = betas[v] { addBetas(terms, at: v) }
                guard let slot = slots[v] else { continue }
                slots[v] = nil
                if let offset = model.offsets[index] { addOffset(slot, offset) }
                let contributions = step(index, slot)
                if contributions.count < node.inputs.count { break }
                for (operand, contribution) in zip(node.inputs, contributions) { accumulate(contribution, into: operand) }
            }
        }
        if let terms = betas[model.input] { addBetas(terms, at: model.input) }
        if let slot = slots[model.input] { concretize(slot) }
        return finish()
    }

    // MARK: - Result

    func finish() -> [RowBound] {
        let constantCount = TermCount(constantTerms), chargeCount = TermCount(chargeTerms)
        let widest = pass.children.lazy.flatMap { $0 }.map(\.differing.count).max() ?? 0
        let childTerms = TermCount(constantTerms + 2 * widest)
        /// `down(k − up(dot-product error of m + charges + fixed))`, or `nil` if not finite.
        func bound(_ k: Double, _ m: Double, _ count: TermCount, _ charges: Double, _ r: Int) -> Double? {
            let total = roundedSum(roundedSum(count.dotProductError(absoluteSum: m), charges, upward: true),
                                   fixed[groupOf[r]], upward: true)
            let lower = roundedSum(k, -total, upward: false)
            return lower.isFinite && total.isFinite && k.isFinite ? lower : nil
        }
        return (0..<n).map { r in
            let box = rows[r].box, childBoxes = box < pass.children.count ? pass.children[box].count : 0
            if let failure = failure[r] {
                return RowBound(lower: -.infinity, failure: failure, children: Array(repeating: -.infinity, count: childBoxes))
            }
            let charges = chargeCount.sumUpperBound(charge[r])
            guard let lower = bound(constant[r], absoluteConstant[r], constantCount, charges, r) else {
                return RowBound(lower: -.infinity, failure: "a non-finite number arose in the bound (constant \(constant[r]), "
                                + "rounding charge \(charges))", children: Array(repeating: -.infinity, count: childBoxes))
            }
            var children = [Double]()
            if childBoxes > 0 {
                // No coefficient reached the input: the bound is the same on every child.
                if childConstant.isEmpty { children = Array(repeating: lower, count: childBoxes) }
                else {
                    children = (0..<childBoxes).map { c in
                        bound(childConstant[r][c], childAbsolute[r][c], childTerms, charges, r) ?? -.infinity
                    }
                }
            }
            return RowBound(lower: lower, failure: nil, children: children)
        }
    }

    // MARK: - Helpers

    func densified(_ slot: Slot, size: Int) -> (values: [Double], support: [Bool]) {
        switch slot {
        case let .dense(values, support):
            return (values, support)
        case let .unit(element, value):
            var a = [Double](repeating: 0, count: size * n), support = [Bool](repeating: false, count: size)
            for r in 0..<n {
                a[element[r] * n + r] = value[r]
                support[element[r]] = true
            }
            return (a, support)
        }
    }

    /// Fails every row with a NaN or ±∞ coefficient in a supported block of `a`.
    mutating func checkFinite(_ a: [Double], _ support: [Bool], _ message: @autoclosure () -> String) {
        var probe = [Double](repeating: 0, count: n)
        a.withUnsafeBufferPointer { p in
            probe.withUnsafeMutableBufferPointer { q in
                for e in support.indices where support[e] {
                    let block = p.baseAddress! + e * n
                    for r in 0..<n { q[r] += block[r] * 0 }
                }
            }
        }
        for r in 0..<n where probe[r] != 0 { fail(r, message()) }
    }

    /// Fails row `r` (the first reason is kept).
    mutating func fail(_ r: Int, _ message: String) {
        if failure[r] == nil { failure[r] = message }
    }

    /// Fails every row.
    mutating func failAll(_ message: String) {
        for r in 0..<n { fail(r, message) }
    }

    /// Per group, a table of its state, or `nil` (every row failed) where some state lacks it.
    mutating func perGroup<T>(_ table: (BoundState) -> T?, _ message: @autoclosure () -> String) -> [T]? {
        var result = [T]()
        result.reserveCapacity(groups.count)
        for g in groups {
            guard let t = table(g.state) else {
                failAll(message())
                return nil
            }
            result.append(t)
        }
        return result
    }

    // MARK: - Constants

    mutating func addOffset(_ slot: Slot, _ offset: [Double]) {
        switch slot {
        case let .unit(element, value):
            for r in 0..<n {
                let t = value[r] * offset[element[r]]
                constant[r] += t
                absoluteConstant[r] += Swift.abs(t)
            }
            constantTerms += 1
        case let .dense(values, support):
            var terms = 0
            values.withUnsafeBufferPointer { a in
                constant.withUnsafeMutableBufferPointer { k in
                    absoluteConstant.withUnsafeMutableBufferPointer { m in
                        for e in support.indices where support[e] && offset[e] != 0 {
                            let o = offset[e], block = a.baseAddress! + e * n
                            for r in 0..<n {
                                let t = block[r] * o
                                k[r] += t
                                m[r] += Swift.abs(t)
                            }
                            terms += 1
                        }
                    }
                }
            }
            constantTerms += terms
        }
    }

    /// The final concretisation: `Σ_i Λ_i x*_i` with `x*` the minimising corner of each
    /// row's box, summed into the row constants (its rounding is charged with them).
    mutating func concretize(_ slot: Slot) {
        let size = model.inputSize
        let (a, support) = densified(slot, size: size)
        let boxes = pass.boxes
        // Per group, the box all its rows use, if they share one.
        let single = groups.map { g in g.rows.allSatisfy { rows[$0].box == rows[g.rows.lowerBound].box } ? rows[g.rows.lowerBound].box : nil }
        var terms = 0
        a.withUnsafeBufferPointer { pa in
            constant.withUnsafeMutableBufferPointer { k in
                absoluteConstant.withUnsafeMutableBufferPointer { m in
                    for i in 0..<size where support[i] {
                        let block = pa.baseAddress! + i * n
                        for (g, group) in groups.enumerated() {
                            if let b = single[g] {
                                let (lo, up) = (boxes[b].lower[i], boxes[b].upper[i])
                                for r in group.rows {
                                    let c = block[r]
                                    let t = c * (c >= 0 ? lo : up)
                                    k[r] += t
                                    m[r] += Swift.abs(t)
                                }
                            } else {
                                for r in group.rows {
                                    let c = block[r], box = boxes[rows[r].box]
                                    let t = c * (c >= 0 ? box.lower[i] : box.upper[i])
                                    k[r] += t
                                    m[r] += Swift.abs(t)
                                }
                            }
                        }
                        terms += 1
                    }
                }
            }
        }
        constantTerms += terms
        concretizeChildren(a, support)
    }

    /// Each row's bound over the child boxes of its box (see ``BackwardPass/children``).
    mutating func concretizeChildren(_ a: [Double], _ support: [Bool]) {
        guard !pass.children.isEmpty else { return }
        let boxes = pass.boxes
        childConstant = [[Double]](repeating: [], count: n)
        childAbsolute = childConstant
        for r in 0..<n {
            let b = rows[r].box
            guard b < pass.children.count, !pass.children[b].isEmpty else { continue }
            let base = boxes[b]
            var ks = [Double](), ms = [Double]()
            for child in pass.children[b] {
                let box = boxes[child.box]
                var k = constant[r], m = absoluteConstant[r]
                for i in child.differing where support[i] {
                    let c = a[i * n + r]
                    let old = c * (c >= 0 ? base.lower[i] : base.upper[i])
                    let new = c * (c >= 0 ? box.lower[i] : box.upper[i])
                    k = k - old + new
                    m += Swift.abs(old) + Swift.abs(new)
                }
                ks.append(k)
                ms.append(m)
            }
            childConstant[r] = ks
            childAbsolute[r] = ms
        }
    }

    // MARK: - Fan-out sums and β terms

    mutating func accumulate(_ contribution: Slot, into operand: ValueID) {
        guard let existing = slots[operand] else {
            slots[operand] = contribution
            return
        }
        slots[operand] = nil
        let name = model.graph.values[operand].name
        guard let weights = perGroup({ $0.roundingWeights[operand] }, "internal: no rounding weights for the fan-out value '\(name)'")
        else { return }
        if case let .unit(e1, v1) = existing, case let .unit(e2, v2) = contribution, e1 == e2 {
            var v = v1
            for r in 0..<n {
                v[r] = v1[r] + v2[r]
                charge[r] += Swift.abs(v[r]) * weights[groupOf[r]][e1[r]]
            }
            chargeTerms += 1
            slots[operand] = .unit(element: e1, value: v)
            return
        }
        let size = model.sizes[operand]
        var (sum, support) = densified(existing, size: size)
        let (other, otherSupport) = densified(contribution, size: size)
        var terms = 0
        sum.withUnsafeMutableBufferPointer { s in
            other.withUnsafeBufferPointer { o in
                charge.withUnsafeMutableBufferPointer { ch in
                    for e in 0..<size where otherSupport[e] {
                        let sb = s.baseAddress! + e * n, ob = o.baseAddress! + e * n
                        if support[e] {
                            for (g, group) in groups.enumerated() {
                                let w = weights[g][e]
                                for r in group.rows {
                                    let x = sb[r] + ob[r]
                                    sb[r] = x
                                    ch[r] += Swift.abs(x) * w
                                }
                            }
                            terms += 1
                        } else {
                            sb.update(from: ob, count: n)
                            support[e] = true
                        }
                    }
                }
            }
        }
        chargeTerms += terms
        slots[operand] = .dense(values: sum, support: support)
    }

    mutating func addBetas(_ terms: [(row: Int, term: BetaTerm)], at value: ValueID) {
        let name = model.graph.values[value].name
        guard let weights = perGroup({ $0.roundingWeights[value] }, "internal: no rounding weights for the split value '\(name)'")
        else { return }
        let size = model.sizes[value]
        var (a, support) = slots[value].map { densified($0, size: size) }
            ?? ([Double](repeating: 0, count: size * n), [Bool](repeating: false, count: size))
        slots[value] = nil
        for (r, t) in terms {
            let i = t.element * n + r
            let old = a[i]
            a[i] = old + t.coefficient
            if old != 0 { charge[r] += Swift.abs(a[i]) * weights[groupOf[r]][t.element] }
            support[t.element] = true
        }
        chargeTerms += terms.count
        slots[value] = .dense(values: a, support: support)
    }

    // MARK: - Steps

    mutating func step(_ index: Int, _ slot: Slot) -> [Slot] {
        let node = model.graph.nodes[index]
        switch node.operation {
        case .relu:
            guard let lines = perGroup({ $0.relu[node.output] }, "internal: ReLU '\(node.name)' has no relaxation")
            else { return [] }
            return [reluStep(slot, lines, value: node.output)]
        case .maxPool:
            guard let lines = perGroup({ $0.maxPool[node.output] }, "internal: MaxPool '\(node.name)' has no relaxation")
            else { return [] }
            return [maxPoolStep(slot, lines, operandSize: model.sizes[node.inputs[0]], outSize: model.sizes[node.output])]
        default:
            // Whether the map rounds depends on the operation only: every state has a charge or none does.
            let charges = groups.compactMap { $0.state.charges[index] }
            guard charges.isEmpty || charges.count == groups.count else {
                failAll("internal: some subdomains lack the rounding charge of '\(node.name)'")
                return []
            }
            if !charges.isEmpty { chargeAffine(slot, charges) }
            let results = affineStep(index, slot)
            for (operand, result) in zip(node.inputs, results) where !charges.isEmpty {
                let message = "coefficients overflowed at '\(model.graph.values[operand].name)' (operand of '\(node.name)')"
                switch result {
                case let .dense(values, support): checkFinite(values, support, message)
                case let .unit(_, values): for r in 0..<n where !values[r].isFinite { fail(r, message) }
                }
            }
            return results
        }
    }

    /// Charges the rounding of one affine node's transposed map (see ``AffineCharge``).
    /// `c[g]` is the charge of group `g`'s state.
    mutating func chargeAffine(_ slot: Slot, _ c: [AffineCharge]) {
        switch slot {
        case let .unit(element, value):
            // A product by ±1 is exact: rows starting at a unit only round once scaled.
            var any = false
            for (g, group) in groups.enumerated() {
                var scaled = false
                for r in group.rows where Swift.abs(value[r]) != 1 {
                    charge[r] += Swift.abs(value[r]) * c[g].weight[element[r]]
                    scaled = true
                }
                if scaled { fixed[g] = roundedSum(fixed[g], c[g].fixed, upward: true) }
                any = any || scaled
            }
            if any { chargeTerms += 1 }
        case let .dense(values, support):
            var terms = 0
            values.withUnsafeBufferPointer { a in
                charge.withUnsafeMutableBufferPointer { ch in
                    for o in support.indices where support[o] {
                        let block = a.baseAddress! + o * n
                        for (g, group) in groups.enumerated() {
                            let w = c[g].weight[o]
                            for r in group.rows { ch[r] += Swift.abs(block[r]) * w }
                        }
                        terms += 1
                    }
                }
            }
            chargeTerms += terms
            for g in groups.indices { fixed[g] = roundedSum(fixed[g], c[g].fixed, upward: true) }
        }
    }

    /// Lower line `α ẑ` for non-negative coefficients, upper line `s ẑ + t` (intercept to
    /// the constant) for negative ones; identity or zero for stable neurons.
    /// `lines[g]` is the relaxation of group `g`'s state.
    mutating func reluStep(_ slot: Slot, _ lines: [ReluLines], value: ValueID) -> Slot {
        let positions = pass.layout.position[value]
        let slopeBytes = pass.slopeBytes
        func slope(_ j: Int, _ r: Int, _ lines: ReluLines) -> Double {
            if let positions, positions[j] >= 0, let s = rows[r].slopes {
                return Double(slopeBytes[s][positions[j]]) / 255
            }
            return lines.defaultSlope[j]
        }
        // Per group: whether some coefficient went through an unstable neuron.
        var touched = [Bool](repeating: false, count: groups.count)
        let result: Slot
        switch slot {
        case let .unit(element, value):
            var v = value
            for r in 0..<n {
                let g = groupOf[r], j = element[r], c = v[r]
                switch lines[g].state[j] {
                case .active: continue
                case .inactive: v[r] = 0
                case .unstable:
                    let x: Double
                    if c >= 0 {
                        x = c * slope(j, r, lines[g])
                    } else {
                        x = c * lines[g].upperSlope[j]
                        let t = c * lines[g].upperIntercept[j]
                        constant[r] += t
                        absoluteConstant[r] += Swift.abs(t)
                    }
                    v[r] = x
                    charge[r] += Swift.abs(x) * lines[g].roundingWeight[j]
                    touched[g] = true
                }
            }
            let any = touched.contains(true) ? 1 : 0
            constantTerms += any
            chargeTerms += any
            result = .unit(element: element, value: v)
        case .dense(var a, var support):
            let size = support.count
            var unstable = 0
            let hasSlopes = positions != nil && rows.contains { $0.slopes != nil }
            a.withUnsafeMutableBufferPointer { pa in
                constant.withUnsafeMutableBufferPointer { k in
                    absoluteConstant.withUnsafeMutableBufferPointer { m in
                        charge.withUnsafeMutableBufferPointer { ch in
                            for j in 0..<size where support[j] {
                                let block = pa.baseAddress! + j * n
                                var allInactive = true, anyUnstable = false
                                for (g, group) in groups.enumerated() {
                                    let lines = lines[g]
                                    switch lines.state[j] {
                                    case .active:
                                        allInactive = false
                                    case .inactive:
                                        (block + group.rows.lowerBound).update(repeating: 0, count: group.rows.count)
                                    case .unstable:
                                        allInactive = false
                                        anyUnstable = true
                                        touched[g] = true
                                        let (s, t, w) = (lines.upperSlope[j], lines.upperIntercept[j], lines.roundingWeight[j])
                                        if hasSlopes, positions![j] >= 0 {
                                            for r in group.rows {
                                                let c = block[r]
                                                let x: Double
                                                if c >= 0 { x = c * slope(j, r, lines) } else {
                                                    x = c * s
                                                    let tt = c * t
                                                    k[r] += tt
                                                    m[r] += Swift.abs(tt)
                                                }
                                                block[r] = x
                                                ch[r] += Swift.abs(x) * w
                                            }
                                        } else {
                                            let alpha = lines.defaultSlope[j]
                                            for r in group.rows {
                                                let c = block[r]
                                                let negative = Swift.min(c, 0)
                                                let x = Swift.max(c, 0) * alpha + negative * s
                                                let tt = negative * t
                                                k[r] += tt
                                                m[r] += Swift.abs(tt)
                                                block[r] = x
                                                ch[r] += Swift.abs(x) * w
                                            }
                                        }
                                    }
                                }
                                if allInactive { support[j] = false }
                                if anyUnstable { unstable += 1 }
                            }
                        }
                    }
                }
            }
            constantTerms += unstable
            chargeTerms += unstable
            result = .dense(values: a, support: support)
        }
        for g in groups.indices where touched[g] { fixed[g] = roundedSum(fixed[g], lines[g].underflowCharge, upward: true) }
        return result
    }

    /// MaxPool: non-negative coefficients (and all of a dominated window) move to the
    /// winner; negative ones of other windows multiply the constant upper bound.
    /// `lines[g]` is the relaxation of group `g`'s state.
    mutating func maxPoolStep(_ slot: Slot, _ lines: [MaxPoolLines], operandSize: Int, outSize: Int) -> Slot {
        let (a, support) = densified(slot, size: outSize)
        var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
        var terms = 0
        for o in 0..<outSize where support[o] {
            for (g, group) in groups.enumerated() {
                let lines = lines[g]
                let w = lines.winner[o], weight = lines.chargeWeight[o]
                outSupport[w] = true
                for r in group.rows {
                    let c = a[o * n + r]
                    if c >= 0 || lines.dominated[o] {
                        out[w * n + r] += c
                        charge[r] += Swift.abs(c) * weight
                    } else {
                        let t = c * lines.upperConstant[o]
                        constant[r] += t
                        absoluteConstant[r] += Swift.abs(t)
                    }
                }
            }
            terms += 1
        }
        constantTerms += terms
        chargeTerms += terms
        checkFinite(out, outSupport, "coefficients overflowed at a MaxPool operand")
        return .dense(values: out, support: outSupport)
    }

    /// The transposed linear part of an affine node, per operand.
    mutating func affineStep(_ index: Int, _ slot: Slot) -> [Slot] {
        let node = model.graph.nodes[index]
        let operandSize = model.sizes[node.inputs[0]]
        let outSize = model.sizes[node.output]
        let inShape = model.graph.values[node.inputs[0]].shape
        // Sparse rows through elementwise steps and into the first weight layer.
        if case let .unit(element, value) = slot {
            switch node.operation {
            case .addConstant, .reshape:
                return [slot]
            case .select(let selection):
                return [.unit(element: element.map { selection.sources[$0] }, value: value)]
            case .add:
                return [slot, slot]
            case .subtract:
                return [slot, .unit(element: element, value: value.map { -$0 })]
            case .multiplyConstant(let c):
                return [.unit(element: element, value: (0..<n).map { value[$0] * c.scalars[element[$0]] })]
            case .divideConstant(let c):
                return [.unit(element: element, value: (0..<n).map { value[$0] / c.scalars[element[$0]] })]
            case let .channelAffine(scale, _):
                let inner = inShape[2...].elementCount, channels = inShape[1]
                return [.unit(element: element, value: (0..<n).map { value[$0] * scale[(element[$0] / inner) % channels] })]
            case .convolution(let conv):
                return [unitConvolution(model.convolutions[index]!, conv.weight.scalars, element, value)]
            case .linear(let lin):
                // Row r: value[r] times row `feature` of the weights, placed at its group's inputs.
                var out = [Double](repeating: 0, count: operandSize * n), support = [Bool](repeating: false, count: operandSize)
                let (inFeatures, outFeatures) = (lin.inFeatures, lin.outFeatures)
                let source = element.map { ($0 % outFeatures) * inFeatures }
                let target = element.map { ($0 / outFeatures) * inFeatures * n }
                for t in Set(target) { for k in 0..<inFeatures { support[t / n + k] = true } }
                lin.weight.scalars.withUnsafeBufferPointer { w in
                    out.withUnsafeMutableBufferPointer { o in
                        for k in 0..<inFeatures {
                            for r in 0..<n { o[target[r] + k * n + r] = value[r] * w[source[r] + k] }
                        }
                    }
                }
                return [.dense(values: out, support: support)]
            default:
                break
            }
        }
        let (a, support) = densified(slot, size: outSize)
        switch node.operation {
        case .relu, .maxPool:
            return []
        case .addConstant, .reshape:
            return [.dense(values: a, support: support)]
        case .add:
            return [.dense(values: a, support: support), .dense(values: a, support: support)]
        case .subtract:
            return [.dense(values: a, support: support), .dense(values: a.map { -$0 }, support: support)]
        case .multiplyConstant(let c):
            return [scaled(a, support) { c.scalars[$0] }]
        case .divideConstant(let c):
            var out = a
            for e in support.indices where support[e] {
                let d = c.scalars[e]
                for r in 0..<n { out[e * n + r] = a[e * n + r] / d }
            }
            return [.dense(values: out, support: support)]
        case let .channelAffine(scale, _):
            let inner = inShape[2...].elementCount, channels = inShape[1]
            return [scaled(a, support) { scale[($0 / inner) % channels] }]
        case .transpose(let permutation):
            return [selected(a, support, sources: permutationSources(shape: inShape, permutation: permutation), operandSize: operandSize)]
        case .select(let selection):
            return [selected(a, support, sources: selection.sources, operandSize: operandSize)]
        case .concat(let axis):
            let shapes = node.inputs.map { model.graph.values[$0].shape }
            let targets = concatTargets(shapes: shapes, axis: axis)
            return targets.map { map in
                var out = [Double](repeating: 0, count: map.count * n), outSupport = [Bool](repeating: false, count: map.count)
                for (i, t) in map.enumerated() where support[t] {
                    copyBlock(a, t, to: &out, i)
                    outSupport[i] = true
                }
                return .dense(values: out, support: outSupport)
            }
        case .pad(let pads):
            let map = padTargets(shape: inShape, pads: pads, outputShape: model.graph.values[node.output].shape)
            var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
            for (i, t) in map.enumerated() where support[t] {
                copyBlock(a, t, to: &out, i)
                outSupport[i] = true
            }
            return [.dense(values: out, support: outSupport)]
        case .averagePool:
            let plan = model.pools[index]!
            var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
            for o in 0..<outSize where support[o] {
                let m = plan.divisor[o]
                for c in plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]] {
                    for r in 0..<n { out[c * n + r] += a[o * n + r] / m }
                    outSupport[c] = true
                }
            }
            return [.dense(values: out, support: outSupport)]
        case .globalAveragePool:
            let inner = operandSize / max(outSize, 1), m = Double(inner)
            var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
            for o in 0..<outSize where support[o] {
                for i in (o * inner)..<((o + 1) * inner) {
                    for r in 0..<n { out[i * n + r] = a[o * n + r] / m }
                    outSupport[i] = true
                }
            }
            return [.dense(values: out, support: outSupport)]
        case .convolution:
            return [denseConvolution(model.convolutions[index]!, a, support)]
        case .linear(let lin):
            let groups = operandSize / lin.inFeatures
            var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
            lin.weight.scalars.withUnsafeBufferPointer { w in
                a.withUnsafeBufferPointer { pa in
                    out.withUnsafeMutableBufferPointer { po in
                        for g in 0..<groups {
                            guard support[(g * lin.outFeatures)..<((g + 1) * lin.outFeatures)].contains(true) else { continue }
                            // [in × n] = Wᵀ [in × out] · Λ_g [out × n]
                            MatrixProduct.multiply(transposeA: true, transposeB: false, m: lin.inFeatures, n: n,
                                                   k: lin.outFeatures, a: w.baseAddress!, lda: lin.inFeatures,
                                                   b: pa.baseAddress! + g * lin.outFeatures * n, ldb: n,
                                                   c: po.baseAddress! + g * lin.inFeatures * n, ldc: n)
                            for k in 0..<lin.inFeatures { outSupport[g * lin.inFeatures + k] = true }
                        }
                    }
                }
            }
            return [.dense(values: out, support: outSupport)]
        }
    }

    func scaled(_ a: [Double], _ support: [Bool], _ factor: (Int) -> Double) -> Slot {
        var out = a
        for e in support.indices where support[e] {
            let f = factor(e)
            for r in 0..<n { out[e * n + r] = a[e * n + r] * f }
        }
        return .dense(values: out, support: support)
    }

    /// The transpose of an injective selection (output element `e` is operand element
    /// `sources[e]`): moves each row block back to its source; exact.
    func selected(_ a: [Double], _ support: [Bool], sources: [Int], operandSize: Int) -> Slot {
        var out = [Double](repeating: 0, count: operandSize * n), outSupport = [Bool](repeating: false, count: operandSize)
        for (e, s) in sources.enumerated() where support[e] {
            copyBlock(a, e, to: &out, s)
            outSupport[s] = true
        }
        return .dense(values: out, support: outSupport)
    }

    func copyBlock(_ a: [Double], _ source: Int, to out: inout [Double], _ target: Int) {
        a.withUnsafeBufferPointer { pa in
            out.withUnsafeMutableBufferPointer { po in
                (po.baseAddress! + target * n).update(from: pa.baseAddress! + source * n, count: n)
            }
        }
    }

    /// Unit rows through a convolution: row `r` is one output element; its transpose is the
    /// filter of that channel placed at the element's window, scaled by the row's value
    /// (one product per entry).
    func unitConvolution(_ plan: ConvolutionPlan, _ weight: [Double], _ element: [Int], _ value: [Double]) -> Slot {
        let inSize = plan.images * plan.channels * plan.height * plan.width
        var out = [Double](repeating: 0, count: inSize * n), support = [Bool](repeating: false, count: inSize)
        let (m, oh, ow) = (plan.outChannels, plan.outHeight, plan.outWidth)
        let (cg, mg, kh, kw) = (plan.groupIn, plan.groupOut, plan.kernelHeight, plan.kernelWidth)
        let w = plan.window
        for r in 0..<n {
            let e = element[r], v = value[r]
            let image = e / (m * oh * ow), channel = (e / (oh * ow)) % m
            let oy = (e / ow) % oh, ox = e % ow
            let g = channel / mg
            for ci in 0..<cg {
                for ky in 0..<kh {
                    let y = oy * w.strides.height - w.pads.top + ky * w.dilations.height
                    guard y >= 0 && y < plan.height else { continue }
                    for kx in 0..<kw {
                        let x = ox * w.strides.width - w.pads.left + kx * w.dilations.width
                        guard x >= 0 && x < plan.width else { continue }
                        let input = ((image * plan.channels + g * cg + ci) * plan.height + y) * plan.width + x
                        out[input * n + r] = v * weight[((channel * cg + ci) * kh + ky) * kw + kx]
                        support[input] = true
                    }
                }
            }
        }
        return .dense(values: out, support: support)
    }

    /// The transposed convolution on element-major coefficients. For each input position,
    /// the supported output elements reading it (over kernel offsets and the group's output
    /// channels) are gathered into one block and multiplied by the matching weights in one
    /// product (`[C/g × depth] · [depth × n]`); each entry is a dot product of at most
    /// ``ConvolutionPlan/transposeTerms`` terms. Unsupported elements are all-zero blocks,
    /// so leaving them out changes no result.
    func denseConvolution(_ plan: ConvolutionPlan, _ a: [Double], _ support: [Bool]) -> Slot {
        let (c, h, w) = (plan.channels, plan.height, plan.width)
        let (m, plane) = (plan.outChannels, plan.outHeight * plan.outWidth)
        let (cg, mg, area) = (plan.groupIn, plan.groupOut, plan.kernelArea)
        let inPlane = h * w
        let inSize = plan.images * c * inPlane
        var out = [Double](repeating: 0, count: inSize * n), outSupport = [Bool](repeating: false, count: inSize)
        let maxDepth = area * mg
        var gathered = [Double](repeating: 0, count: maxDepth * n)
        var weights = [Double](repeating: 0, count: maxDepth * cg)
        a.withUnsafeBufferPointer { pa in
            out.withUnsafeMutableBufferPointer { po in
                gathered.withUnsafeMutableBufferPointer { gb in
                    weights.withUnsafeMutableBufferPointer { wb in
                        plan.weightsByOffset.withUnsafeBufferPointer { wsrc in
                            for q in 0..<inPlane {
                                let sources = plan.sourceStart[q]..<plan.sourceStart[q + 1]
                                if sources.isEmpty { continue }
                                for image in 0..<plan.images {
                                    for g in 0..<plan.group {
                                        var depth = 0
                                        for s in sources {
                                            let offset = plan.sourceOffset[s], position = plan.sourcePosition[s]
                                            for mi in 0..<mg {
                                                let e = (image * m + g * mg + mi) * plane + position
                                                guard support[e] else { continue }
                                                (gb.baseAddress! + depth * n).update(from: pa.baseAddress! + e * n, count: n)
                                                (wb.baseAddress! + depth * cg).update(
                                                    from: wsrc.baseAddress! + ((g * area + offset) * mg + mi) * cg, count: cg)
                                                depth += 1
                                            }
                                        }
                                        if depth == 0 { continue }
                                        let first = (image * c + g * cg) * inPlane + q
                                        // [Cg × n] (rows a plane apart) = weightsᵀ [Cg × depth] · gathered [depth × n]
                                        MatrixProduct.multiply(transposeA: true, transposeB: false, m: cg, n: n, k: depth,
                                                               a: wb.baseAddress!, lda: cg, b: gb.baseAddress!, ldb: n,
                                                               c: po.baseAddress! + first * n, ldc: inPlane * n)
                                        for ci in 0..<cg { outSupport[first + ci * inPlane] = true }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return .dense(values: out, support: outSupport)
    }
}
