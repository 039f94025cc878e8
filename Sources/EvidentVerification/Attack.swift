import Foundation
import EvidentIR
import EvidentVNNLib
import EvidentEval

/// A concrete input that the network maps into a clause's unsafe set, as floating-point
/// evaluation sees it (the certificate checker confirms it with sound arithmetic before any
/// `sat` is reported).
public struct Counterexample: Sendable, Equatable {
    public var region: Int
    public var clause: Int
    /// The input, inside the region's inner box (exactly, not up to a tolerance).
    public var input: [Double]
    /// The network's outputs at `input` (Float64 evaluation).
    public var outputs: [Double]
}

/// Settings of the projected-gradient attack.
public struct AttackSettings: Sendable {
    /// Random starting points per clause (the box centre is always tried as well).
    public var restarts: Int
    /// Signed-gradient steps per start.
    public var steps: Int
    /// First step, as a fraction of each coordinate's half-width; decays geometrically to a
    /// hundredth of it over the steps.
    public var initialStep: Double
    public var seed: UInt64

    public init(restarts: Int = 32, steps: Int = 60, initialStep: Double = 0.5, seed: UInt64 = 0x5EED) {
        self.restarts = restarts
        self.steps = steps
        self.initialStep = initialStep
        self.seed = seed
    }
}

/// Falsification by projected gradient descent (L∞, signed gradients) on the property's
/// clauses, batched through the evaluator's reverse-mode gradients.
///
/// For a clause `∧_k a_k·y ≤ d_k` the attack minimises the largest violation
/// `max_k (a_k·y − d_k)` (a subgradient: the gradient of the currently largest term), from
/// the box centre and from random points, stepping by `η · sign(∇)` scaled to each
/// coordinate's width and projecting back into the region's inner box, so every candidate is
/// inside the true box exactly. A candidate counts only when evaluation puts it in the unsafe
/// set with the inner thresholds.
public struct Attack: Sendable {
    public let evaluator: Evaluator
    public let property: Property

    public init(graph: Graph, property: Property) {
        evaluator = Evaluator(graph: graph)
        self.property = property
    }

    /// The first counterexample found for the given regions and clauses (all when `nil`), or
    /// `nil`; stops at `deadline` (uptime nanoseconds).
    ///
    /// One batch item per region and start: each step follows the clause of the region that is
    /// closest to violated at that item (the disjunction's best branch), so a robustness
    /// property's nine clauses cost no more than one.
    public func run(settings: AttackSettings = AttackSettings(), targets: [(region: Int, clause: Int)]? = nil,
                    within box: (lower: [Double], upper: [Double])? = nil, deadline: UInt64 = .max) -> Counterexample? {
        let all = targets ?? property.regions.indices.flatMap { r in property.regions[r].clauses.indices.map { (r, $0) } }
        var clausesOf = [Int: [Int]]()
        for (r, c) in all { clausesOf[r, default: []].append(c) }
        var random = SplitMix(seed: settings.seed)
        let n = evaluator.inputCount
        // Regions are attacked in groups of at most `itemsPerBatch` batch items, so that a
        // property with 120,000 regions (an nn4sys `lindex` file) never evaluates millions of
        // items at once; the random stream runs on from group to group.
        var items = [Item]()
        for r in clausesOf.keys.sorted() {
            let region = property.regions[r]
            var lower = region.innerLower, upper = region.innerUpper
            if let box {
                for i in 0..<n {
                    lower[i] = max(lower[i], box.lower[i])
                    upper[i] = min(upper[i], box.upper[i])
                }
            }
            guard zip(lower, upper).allSatisfy({ $0 <= $1 }) else { continue }
            if !items.isEmpty && items.count + settings.restarts + 1 > Self.itemsPerBatch {
                if let found = attack(items, settings: settings, random: &random, deadline: deadline) { return found }
                items.removeAll(keepingCapacity: true)
            }
            for _ in 0...settings.restarts { items.append(Item(region: r, clauses: clausesOf[r]!, lower: lower, upper: upper)) }
        }
        guard !items.isEmpty else { return nil }
        return attack(items, settings: settings, random: &random, deadline: deadline)
    }

    /// Most batch items (starts) evaluated together by ``run(settings:targets:within:deadline:)``.
    static let itemsPerBatch = 4096

    /// One start of the attack: its region, the clauses it may follow and its (inner) box.
    struct Item {
        var region: Int
        var clauses: [Int]
        var lower: [Double]
        var upper: [Double]
    }

    /// The signed-gradient steps on one batch of starts (the first of each region at its
    /// box's centre, the others random).
    func attack(_ items: [Item], settings: AttackSettings, random: inout SplitMix, deadline: UInt64) -> Counterexample? {
        let n = evaluator.inputCount, m = evaluator.outputCount
        var x = [Double]()
        x.reserveCapacity(items.count * n)
        for (k, item) in items.enumerated() {
            let first = k == 0 || items[k - 1].region != item.region
            for i in 0..<n {
                let (l, u) = (item.lower[i], item.upper[i])
                x.append(first ? clamp((l + u) / 2, l, u) : clamp(l + (u - l) * random.unit(), l, u))
            }
        }
        let batch = items.count
        for step in 0...settings.steps {
            guard DispatchTime.now().uptimeNanoseconds < deadline else { return nil }
            guard let y = try? evaluator.evaluate(x, batch: batch) else { return nil }
            // Each item's loss gradient row: the largest violation of its closest clause.
            var coefficients = [Double](repeating: 0, count: batch * m)
            for (k, item) in items.enumerated() {
                let outputs = Array(y[(k * m)..<((k + 1) * m)])
                var best: (violation: Double, constraint: LinearConstraint?) = (.infinity, nil)
                for c in item.clauses {
                    let clause = property.regions[item.region].clauses[c]
                    // The clause's largest violation (inner thresholds); `≤ 0` everywhere is a counterexample.
                    var worst: (violation: Double, constraint: LinearConstraint?) = (-.infinity, nil)
                    var satisfied = true
                    for constraint in clause.constraints {
                        let value = constraint.value(outputs: outputs)
                        let violation = value - constraint.innerBound
                        if !(value <= constraint.innerBound) { satisfied = false }
                        if worst.constraint == nil || violation > worst.violation { worst = (violation, constraint) }
                    }
                    if satisfied {
                        let input = Array(x[(k * n)..<((k + 1) * n)])
                        return Counterexample(region: item.region, clause: c, input: input, outputs: outputs)
                    }
                    if worst.violation < best.violation { best = worst }
                }
                for term in best.constraint?.terms ?? [] { coefficients[k * m + term.output] = term.coefficient }
            }
            if step == settings.steps { break }
            guard let (_, gradients) = try? evaluator.gradient(of: coefficients, at: x, batch: batch) else { return nil }
            let fraction = settings.initialStep * pow(0.01, Double(step) / Double(max(1, settings.steps - 1)))
            for (k, item) in items.enumerated() {
                for i in 0..<n {
                    let g = gradients[k * n + i]
                    guard g != 0 else { continue }
                    let width = item.upper[i] - item.lower[i]
                    let moved = x[k * n + i] - (g > 0 ? 1 : -1) * fraction * width / 2
                    x[k * n + i] = clamp(moved, item.lower[i], item.upper[i])
                }
            }
        }
        return nil
    }

    /// Evaluates candidate inputs (any points; each is first projected into the region's inner
    /// box) and returns the first that is a counterexample for the given clause.
    public func confirm(candidates: [[Double]], region r: Int, clause c: Int) -> Counterexample? {
        evaluate(candidates: candidates, region: r, clause: c).counterexample
    }

    /// Evaluates candidate inputs (each projected into the region's inner box first): the first
    /// counterexample among them for the clause, and each candidate's violation
    /// `max_k (a_k·y − d_k)` with the inner thresholds (`≤ 0` for a counterexample; smaller is
    /// closer to one).
    public func evaluate(candidates: [[Double]], region r: Int, clause c: Int) -> (counterexample: Counterexample?, violations: [Double]) {
        guard !candidates.isEmpty else { return (nil, []) }
        let region = property.regions[r]
        let n = evaluator.inputCount, m = evaluator.outputCount
        guard zip(region.innerLower, region.innerUpper).allSatisfy({ $0 <= $1 }) else {
            return (nil, [Double](repeating: .infinity, count: candidates.count))
        }
        var x = [Double]()
        x.reserveCapacity(candidates.count * n)
        for candidate in candidates {
            for i in 0..<n { x.append(clamp(candidate[i], region.innerLower[i], region.innerUpper[i])) }
        }
        guard let y = try? evaluator.evaluate(x, batch: candidates.count) else {
            return (nil, [Double](repeating: .infinity, count: candidates.count))
        }
        let clause = region.clauses[c]
        var found: Counterexample? = nil
        var violations = [Double]()
        for k in candidates.indices {
            let outputs = Array(y[(k * m)..<((k + 1) * m)])
            let violation = clause.constraints.map { $0.value(outputs: outputs) - $0.innerBound }.max() ?? -.infinity
            violations.append(violation.isNaN ? .infinity : violation)
            if found == nil && clause.constraints.allSatisfy({ $0.value(outputs: outputs) <= $0.innerBound }) {
                found = Counterexample(region: r, clause: c, input: Array(x[(k * n)..<((k + 1) * n)]), outputs: outputs)
            }
        }
        return (found, violations)
    }
}

@inline(__always)
func clamp(_ x: Double, _ lower: Double, _ upper: Double) -> Double { min(max(x, lower), upper) }

/// A small seeded generator (SplitMix64) for reproducible attacks.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
