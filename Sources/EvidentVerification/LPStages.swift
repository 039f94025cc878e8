import Foundation
import EvidentIR
import EvidentBounds
import EvidentLP
import EvidentCertificate

// The LP layer of the verifier: the canonical LP of a node (Docs/certificates.md) over the
// node's own bounds, solved by GLPK. Three uses, all certified by GLPK's row duals, which the
// checker re-evaluates with sound arithmetic over an LP it rebuilds from its own bounds
// (Neumaier–Shcherbina), so nothing GLPK computes is trusted:
//
// - refutations at a region's root, where α-CROWN leaves a clause open: the LP optimum over
//   the same intermediate bounds is at least as tight as any choice of lower slopes;
// - tightenings of the pre-activation bounds of the unstable neurons that matter most, at
//   the root of a ReLU-split search, which every subdomain inherits;
// - decisions of ReLU-split leaves with every neuron fixed, where the LP is the exact
//   problem: a refutation, a proof that the leaf is empty (Farkas), or the LP's optimum as a
//   counterexample, confirmed by concrete evaluation.
//
// And the MILP (big-M over the same bounds, GLPK's branch and cut) decides small networks at
// a region's root: its optimum is a counterexample when one exists. Its `infeasible` cannot
// be certified (GLPK's search tree is not exported), so it never makes an `unsat`: the
// certificate then comes from branch and bound, complete with LP leaves; the MILP's answer
// only goes into the progress report and the reason of an open verdict.
//
// The root stages share a budget of a fifth of the run's time limit (the MILP at most a
// fiftieth); leaf decisions run until the deadline, as they are what makes the search
// complete.

extension Verifier {
    /// Seconds left for the LP stages: a fifth of the time limit in all, and never past the deadline.
    var lpTimeLeft: Double {
        min(settings.timeout / 5 - lpSeconds, secondsToDeadline)
    }

    var secondsToDeadline: Double { Double(Int64(deadline) - Int64(DispatchTime.now().uptimeNanoseconds)) / 1e9 }

    /// Runs one GLPK solve given at most `seconds`, counting its time against the LP budget.
    func timedSolve<T>(seconds: Double, _ solve: (Duration) throws -> T) -> T? {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { lpSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
        return try? solve(.milliseconds(max(1, Int(seconds * 1000))))
    }

    /// The canonical LP over a node's bounds (`batch` 1), or nil when it has more than
    /// `columnLimit` columns or the network has an operation LPs do not support.
    func canonicalLP(_ bounds: [IntervalBounds?], lower: [Double], upper: [Double], columnLimit: Int) -> NetworkLP? {
        var values = [(lower: [Double], upper: [Double])]()
        var columns = 0
        for v in graph.values.indices {
            if v == graph.input {
                values.append((lower, upper))
            } else {
                guard let b = bounds[v], b.lower.count == graph.values[v].count else { return nil }
                values.append((b.lower, b.upper))
            }
            columns += graph.values[v].count
            if columns > columnLimit { return nil }
        }
        return try? NetworkLP(network: network, bounds: values)
    }

    /// Whether an LP bound `bound` refutes `a · y ≤ threshold` with room to spare: the
    /// checker's bounds differ from the verifier's by rounding charges, which move the dual
    /// bound by about |r|·δ, so a little more than the threshold is demanded.
    func lpRefutes(_ bound: Double, threshold: Double) -> Bool {
        bound - threshold > 1e-9 * max(1, abs(bound))
    }

    /// Tries to refute `clauses` at `node` (box `lower`/`upper`, its bounds `bounds`, batch 1)
    /// with the LP, appending the refutations to the node; returns the clauses refuted and
    /// their margins. `first[c]`, when given, is the constraint of clause `c` to try first.
    func lpRefute(_ clauses: [Int], region r: Int, rows: RegionRows, lower: [Double], upper: [Double],
                  bounds: [IntervalBounds?], first: [Int: Int] = [:], tree: inout TreeBuilder,
                  node: Int) -> [(clause: Int, margin: Double)] {
        let region = property.regions[r]
        guard !clauses.isEmpty, settings.lpColumns > 0, lpTimeLeft > 0.05,
              let lp = canonicalLP(bounds, lower: lower, upper: upper, columnLimit: settings.lpColumns) else { return [] }
        var refuted = [(clause: Int, margin: Double)]()
        for c in clauses {
            report("region \(r): LP on clause \(c) (\(lp.program.columnCount) columns, \(lp.program.rowCount) rows)", force: true)
            let constraints = region.clauses[c].constraints.indices
            for k in [first[c]].compactMap({ $0 }) + constraints.filter({ $0 != first[c] }) {
                let remaining = lpTimeLeft
                guard remaining > 0.05 else { return refuted }
                let row = rows.offset[c] + k
                guard let result = timedSolve(seconds: remaining, { try lp.solveMinimum(of: rows.coefficients(row), timeLimit: $0) }),
                      let bound = result.dualBound, bound.isFinite else { continue }
                if lpRefutes(bound, threshold: rows.thresholds[row]) {
                    tree.nodes[node].refutations.append(Refutation(clause: UInt32(c), constraint: UInt32(k), lpDual: result.duals))
                    refuted.append((c, bound - rows.thresholds[row]))
                    break
                }
            }
        }
        return refuted
    }

    /// Tightens the pre-activation bounds of `targets` (unstable neurons, in graph order) at
    /// `node` by the LP, lower side then upper side: each tightening is appended to the node
    /// and narrows `bounds` before the next LP is built, exactly as the checker replays them.
    /// Returns how many bounds were tightened.
    func lpTighten(_ targets: [NeuronSplit], bounds: inout [IntervalBounds?], lower: [Double], upper: [Double],
                   layout: SlopeLayout, tree: inout TreeBuilder, node: Int) -> Int {
        guard settings.lpColumns > 0, !targets.isEmpty else { return 0 }
        let layers = Dictionary(uniqueKeysWithValues: layout.layers.map { ($0.relu, (pre: $0.pre, name: $0.name)) })
        var tightened = 0
        var basis: LPBasis? = nil
        for target in targets {
            guard let layer = layers[target.relu] else { continue }
            let j = target.neuron
            for side in [NetworkLP.Side.lower, .upper] {
                let remaining = lpTimeLeft
                guard remaining > 0.05 else { return tightened }
                let (l, u) = (bounds[layer.pre]!.lower[j], bounds[layer.pre]!.upper[j])
                guard l < 0 && u > 0,
                      let lp = canonicalLP(bounds, lower: lower, upper: upper, columnLimit: settings.lpColumns) else { break }
                guard let result = timedSolve(seconds: remaining, {
                    try lp.solveBound(of: layer.pre, neuron: j, side: side, timeLimit: $0, warmStart: basis)
                }) else { continue }
                basis = result.solution.basis
                guard let b = result.bound, b.isFinite else { continue }
                // Claim a little less than the LP gives (the checker's bounds differ by
                // rounding), and only a real gain that leaves the interval non-empty.
                let slack = 1e-7 * max(1, abs(b))
                let value = side == .lower ? b - slack : b + slack
                guard value > l && value < u, (side == .lower ? value - l : u - value) > 1e-3 * (u - l) else { continue }
                tree.nodes[node].tightenings.append(Tightening(layer: layer.name, neuron: UInt32(j),
                                                               side: side == .lower ? .lower : .upper, value: value,
                                                               dual: result.duals))
                if side == .lower { bounds[layer.pre]!.lower[j] = value } else { bounds[layer.pre]!.upper[j] = value }
                tightened += 1
            }
        }
        return tightened
    }

    /// The MILP on the clauses `clauses` at a region's root, when the network's LP is small
    /// enough and has at most `milpBinaries` unstable neurons: a counterexample if the
    /// optimum of one clause violates it (confirmed concretely), and the clauses whose
    /// optimum shows they hold (not certified).
    func milpSearch(_ clauses: [Int], region r: Int, rows: RegionRows, bounds: [IntervalBounds?])
        -> (counterexample: Counterexample?, holds: [Int]) {
        let region = property.regions[r]
        guard settings.milpBinaries > 0, settings.lpColumns > 0 else { return (nil, []) }
        let unstable = unstableReluNeurons(graph, bounds).unstable
        guard unstable <= settings.milpBinaries, lpTimeLeft > 0.05,
              let lp = canonicalLP(bounds, lower: region.lower, upper: region.upper, columnLimit: settings.lpColumns) else {
            return (nil, [])
        }
        var holds = [Int]()
        for c in clauses {
            let remaining = min(lpTimeLeft, settings.timeout / 50 - milpSeconds)
            guard remaining > 0.05 else { break }
            report("region \(r): MILP on clause \(c) (\(unstable) binaries)", force: true)
            let constraints = region.clauses[c].constraints.indices.map { k in
                (coefficients: rows.coefficients(rows.offset[c] + k), bound: rows.thresholds[rows.offset[c] + k])
            }
            let t0 = lpSeconds
            let result = timedSolve(seconds: remaining, { try lp.milp(minimisingWorstOf: constraints, timeLimit: $0) })
            milpSeconds += lpSeconds - t0
            guard let result else { continue }
            if let x = result.input, let found = attack.confirm(candidates: [x], region: r, clause: c) { return (found, holds) }
            if result.status == .optimal, let worst = result.objective, worst > 0 { holds.append(c) }
        }
        return (nil, holds)
    }

    /// How the LP decided a ReLU-split leaf.
    enum LeafDecision {
        case refuted(Refutation)
        case counterexample(Counterexample)
        case open
    }

    /// Decides constraint `k` of clause `c` on a subdomain with every ReLU fixed: `bounds`
    /// are the root's (after tightenings), clipped here by `splits` as the checker clips them.
    /// The LP is then the exact problem over the subdomain, whatever its size; it runs until
    /// the deadline.
    func lpDecideLeaf(region r: Int, clause c: Int, constraint k: Int, rows: RegionRows, bounds: [IntervalBounds?],
                      splits: [NeuronSplit], preOf: [ValueID: ValueID]) -> LeafDecision {
        let region = property.regions[r]
        var clipped = bounds
        for split in splits {
            let v = preOf[split.relu]!
            if split.active {
                clipped[v]!.lower[split.neuron] = max(clipped[v]!.lower[split.neuron], 0)
            } else {
                clipped[v]!.upper[split.neuron] = min(clipped[v]!.upper[split.neuron], 0)
            }
        }
        let remaining = secondsToDeadline
        guard settings.lpColumns > 0, remaining > 0.05,
              let lp = canonicalLP(clipped, lower: region.lower, upper: region.upper, columnLimit: .max) else { return .open }
        let row = rows.offset[c] + k
        let coefficients = rows.coefficients(row), threshold = rows.thresholds[row]
        guard let result = timedSolve(seconds: remaining, { try lp.solveMinimum(of: coefficients, timeLimit: $0) }) else { return .open }
        switch result.status {
        case .optimal:
            if let bound = result.dualBound, bound.isFinite, lpRefutes(bound, threshold: threshold) {
                return .refuted(Refutation(clause: UInt32(c), constraint: UInt32(k), lpDual: result.duals))
            }
            // The optimum is a point of the subdomain (up to GLPK's tolerances) where the
            // linear network, and so the network, violates the constraint: confirm it.
            let start = lp.columnStart[graph.input], n = graph.values[graph.input].count
            let x = Array(result.solution.columnValues[start..<(start + n)])
            if let found = attack.confirm(candidates: [x], region: r, clause: c) { return .counterexample(found) }
            return .open
        case .infeasible:
            // The subdomain is empty: scaled Farkas multipliers bound the objective above any threshold.
            let target = threshold + 1 + abs(threshold)
            guard let ray = timedSolve(seconds: max(0.05, secondsToDeadline), { try lp.farkasCertificate(timeLimit: $0) }),
                  let certificate = ray,
                  let y = try? lp.infeasibilityMultipliers(certificate, objective: .outputs(coefficients), reaching: target) else {
                return .open
            }
            return .refuted(Refutation(clause: UInt32(c), constraint: UInt32(k), lpDual: y))
        default:
            return .open
        }
    }
}
