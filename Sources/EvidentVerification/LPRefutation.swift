import Foundation
import EvidentIR
import EvidentBounds
import EvidentLP
import EvidentCertificate

// LP refutation: where α-CROWN leaves a clause open at a region's root, the exact optimum of
// the triangle relaxation over the same CROWN intermediate bounds (the canonical LP of
// Docs/certificates.md) is at least as tight as any choice of lower slopes, so GLPK can
// refute a constraint that 20 Adam steps did not. The certificate carries GLPK's row duals;
// the checker rebuilds the LP from its own bounds and evaluates the Neumaier–Shcherbina bound
// with sound arithmetic, so nothing GLPK computes is trusted.

extension Verifier {
    /// The canonical LP over a node's bounds (`batch` 1), or nil when it is larger than the
    /// settings allow or the network has an operation LPs do not support.
    func canonicalLP(_ bounds: [IntervalBounds?], lower: [Double], upper: [Double]) -> NetworkLP? {
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
            if columns > settings.lpColumns { return nil }
        }
        return try? NetworkLP(network: network, bounds: values)
    }

    /// Tries to refute `clauses` at `node` (box `lower`/`upper`, its bounds `bounds`, batch 1)
    /// with the LP, appending the refutations to the node; returns the clauses refuted and
    /// their margins. `first[c]`, when given, is the constraint of clause `c` to try first.
    func lpRefute(_ clauses: [Int], region r: Int, rows: RegionRows, lower: [Double], upper: [Double],
                  bounds: [IntervalBounds?], first: [Int: Int] = [:], tree: inout TreeBuilder,
                  node: Int) -> [(clause: Int, margin: Double)] {
        let region = property.regions[r]
        guard !clauses.isEmpty, settings.lpColumns > 0,
              let lp = canonicalLP(bounds, lower: lower, upper: upper) else { return [] }
        let outputs = graph.outputShape.elementCount
        // The stage gets at most a tenth of the run's time limit.
        let stageEnd = min(Double(deadline) / 1e9, Double(DispatchTime.now().uptimeNanoseconds) / 1e9 + settings.timeout / 10)
        var refuted = [(clause: Int, margin: Double)]()
        for c in clauses {
            report("region \(r): LP on clause \(c) (\(lp.program.columnCount) columns, \(lp.program.rowCount) rows)", force: true)
            let constraints = region.clauses[c].constraints.indices
            for k in [first[c]].compactMap({ $0 }) + constraints.filter({ $0 != first[c] }) {
                let remaining = stageEnd - Double(DispatchTime.now().uptimeNanoseconds) / 1e9
                guard remaining > 0.05 else { return refuted }
                let row = rows.offset[c] + k
                let coefficients = Array(rows.spec!.coefficients[(row * outputs)..<((row + 1) * outputs)])
                guard let result = try? lp.solveMinimum(of: coefficients, timeLimit: .milliseconds(Int(remaining * 1000))),
                      let bound = result.dualBound, bound.isFinite else { continue }
                // The checker's bounds differ from these by rounding charges, which move the
                // dual bound by about |r|·δ: demand a little more than the threshold.
                let margin = bound - rows.thresholds[row]
                if margin > 1e-9 * max(1, abs(bound)) {
                    tree.nodes[node].refutations.append(Refutation(clause: UInt32(c), constraint: UInt32(k), lpDual: result.duals))
                    refuted.append((c, margin))
                    break
                }
            }
        }
        return refuted
    }
}
