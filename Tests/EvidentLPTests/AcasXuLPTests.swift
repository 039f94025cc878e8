import Evident
import EvidentTestSupport
import Foundation
import Testing

/// The canonical LP on ACAS Xu boxes, against sampled outputs and CROWN.
///
/// With the same intermediate bounds, the triangle LP's feasible set lies inside CROWN's
/// relaxation (CROWN keeps one lower line `z ≥ α ẑ` where the LP keeps both `z ≥ ẑ` and
/// `z ≥ 0`, and the same upper line), so in real arithmetic the LP minimum is at least the
/// CROWN bound; both are computed in floating point, hence the 1e-9 slack. Every sampled
/// input is feasible for the LP (its values satisfy every row, given valid bounds), so the
/// LP minimum is at most every sampled output.
@Suite("Canonical LP on ACAS Xu",
       .enabled(if: SharedBenchmarks.available, Comment(rawValue: SharedBenchmarks.missingMessage)))
struct AcasXuLPTests {
    @Test("output bounds: below every sample, above CROWN, dual bound = optimum")
    func outputBounds() throws {
        let bounded = try acasXu(network: 1, property: 1)
        let graph = bounded.graph
        let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let outputs = graph.values[graph.output].count
        let points = bounded.samples(4000, seed: 11)
        let values = try Evaluator(graph: graph).evaluate(points, batch: 4000)
        for k in 0..<outputs {
            var c = [Double](repeating: 0, count: outputs)
            c[k] = 1
            let result = try lp.solveMinimum(of: c)
            #expect(result.status == .optimal)
            let optimum = try #require(result.optimum), dual = try #require(result.dualBound)
            #expect(relativelyClose(dual, optimum, 1e-7), "output \(k): dual bound \(dual), optimum \(optimum)")
            let sampledMinimum = (0..<4000).map { values[$0 * outputs + k] }.min()!
            #expect(optimum <= sampledMinimum + 1e-9, "output \(k): LP \(optimum) above a sample \(sampledMinimum)")
            #expect(dual <= sampledMinimum + 1e-9)
            #expect(optimum >= bounded.crownLower[k] - 1e-9, "output \(k): LP \(optimum) below CROWN \(bounded.crownLower[k])")
            #expect(dual >= bounded.crownLower[k] - 1e-9, "output \(k): dual \(dual) below CROWN \(bounded.crownLower[k])")

            // The upper side: −min(−y_k) is at least every sample and at most CROWN's upper bound.
            let upper = try lp.solveBound(of: graph.output, neuron: k, side: .upper)
            let upperBound = try #require(upper.bound)
            let sampledMaximum = (0..<4000).map { values[$0 * outputs + k] }.max()!
            #expect(upperBound >= sampledMaximum - 1e-9)
            #expect(upperBound <= bounded.crownUpper[k] + 1e-9)
        }
    }

    @Test("tightening pre-activations: valid on samples, inside CROWN's bounds")
    func tightening() throws {
        let bounded = try acasXu(network: 1, property: 1)
        let graph = bounded.graph
        let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let preActivations = graph.nodes.filter { $0.operation == .relu }.map { $0.inputs[0] }
        let points = bounded.samples(2000, seed: 12)
        let all = try Evaluator(graph: graph).evaluateAll(points, batch: 2000)
        var improved = 0, checked = 0
        // The second and the last ReLU layers: their first eight unstable neurons.
        for pre in [preActivations[1], preActivations[preActivations.count - 1]] {
            let (l, u) = bounded.bounds[pre]
            let unstable = l.indices.filter { l[$0] < 0 && u[$0] > 0 }.prefix(8)
            let requests = unstable.flatMap { j in [(value: pre, neuron: j, side: NetworkLP.Side.lower), (pre, j, .upper)] }
            let results = try lp.solveBounds(requests)
            let size = graph.values[pre].count
            for (request, result) in zip(requests, results) {
                #expect(result.status == .optimal)
                let bound = try #require(result.bound), optimum = try #require(result.optimum)
                #expect(relativelyClose(bound, optimum, 1e-7))
                let j = request.neuron
                let sampled = (0..<2000).map { all[pre][$0 * size + j] }
                if request.side == .lower {
                    #expect(bound <= sampled.min()! + 1e-9)
                    #expect(bound >= l[j] - 1e-9)
                    if bound > l[j] + 1e-9 { improved += 1 }
                } else {
                    #expect(bound >= sampled.max()! - 1e-9)
                    #expect(bound <= u[j] + 1e-9)
                    if bound < u[j] - 1e-9 { improved += 1 }
                }
                checked += 1
                // The same bound from a single solve.
                let single = try lp.solveBound(of: pre, neuron: j, side: request.side)
                #expect(relativelyClose(try #require(single.bound), bound, 1e-7))
            }
        }
        #expect(checked > 0)
        // With CROWN intermediate bounds, the LP is strictly tighter on some deeper neurons.
        #expect(improved > 0, "no LP bound improved on CROWN (\(checked) checked)")
    }

    @Test("dual bounds of GLPK's duals equal the LP optimum on every ACAS Xu network", arguments: 1...9)
    func dualBoundsMatchOptimum(_ n: Int) throws {
        let bounded = try acasXu(network: n, property: 1)
        let graph = bounded.graph
        let lp = try NetworkLP(network: bounded.network, bounds: bounded.bounds)
        let outputs = graph.values[graph.output].count
        var objectives: [NetworkLP.Objective] = (0..<outputs).map { k in .element(value: graph.output, element: k, side: .lower) }
        // A property-style objective: Y_0 − Y_1.
        objectives.append(.outputs([1, -1] + [Double](repeating: 0, count: outputs - 2)))
        let last = graph.nodes.last(where: { $0.operation == .relu })!.inputs[0]
        objectives += [.element(value: last, element: 0, side: .lower), .element(value: last, element: 0, side: .upper)]
        for objective in objectives {
            let result = try lp.solve(objective)
            #expect(result.status == .optimal)
            let optimum = try #require(result.optimum), dual = try #require(result.dualBound)
            #expect(relativelyClose(dual, optimum, 1e-7), "\(objective): dual \(dual), optimum \(optimum)")
            // Independently evaluated from the program's rows and bounds.
            let reference = referenceDualBound(lp.program, y: result.duals, c: try lp.objectiveVector(objective))
            #expect(relativelyClose(reference, dual, 1e-12))
        }
    }
}
