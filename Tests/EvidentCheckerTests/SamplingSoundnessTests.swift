import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// The checker's bounds contain values computed at sampled inputs: exactly (dyadic
/// rationals) for small dense networks, in floating point with a margin for convolutional
/// and residual ones.
@Suite("Sampled soundness of the checker's bounds")
struct SamplingSoundnessTests {
    /// Exact evaluation of a dense ReLU network (linear and relu nodes only) at a float input.
    func exactValues(_ graph: Graph, _ x: [Double]) -> [[Dyadic]] {
        var values = [x.map { Dyadic($0) }]
        for node in graph.nodes {
            let input = values[node.inputs[0]]
            switch node.operation {
            case .linear(let lin):
                values.append((0..<lin.outFeatures).map { n in
                    var s = Dyadic(lin.bias.scalars[n])
                    for k in 0..<lin.inFeatures { s = s + Dyadic(lin.weight.scalars[n * lin.inFeatures + k]) * input[k] }
                    return s
                })
            case .relu:
                values.append(input.map { $0.signum > 0 ? $0 : .zero })
            default:
                fatalError("exactValues: dense networks only")
            }
        }
        return values
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func denseNetworksExactly(seed: UInt64) throws {
        let graph = try RandomNetworks.dense(seed: seed, inputs: 3, hidden: [6, 6], outputs: 2)
        let model = try CheckerModel(network: Factory.network(graph))
        var rng = SeededGenerator(seed: seed * 77)
        var checked = 0
        for _ in 0..<4 {
            let centre = rng.uniforms(3, -1...1), radius = rng.uniform(0.05...0.8)
            let box = ValueBounds(lower: centre.map { $0 - radius }, upper: centre.map { $0 + radius })
            var work = NodeBounds.Work()
            let state = NodeBounds.compute(model, box: box, splits: [], work: &work)
            #expect(state.empty == nil && state.nonFinite == nil)
            // A backward bound of each output and its negation.
            let rows = (0..<2).flatMap { [BackwardRow(start: .unit(element: $0, sign: 1)), BackwardRow(start: .unit(element: $0, sign: -1))] }
            let final = BackwardPass(model: model, state: state, target: model.output, boxes: [box]).run(rows)
            for _ in 0..<250 {
                let x = (0..<3).map { rng.uniform(box.lower[$0]...box.upper[$0]) }
                let values = exactValues(graph, x)
                for (v, value) in values.enumerated() {
                    let b = state.bounds[v]!
                    for j in value.indices {
                        #expect(Dyadic(b.lower[j]) <= value[j] && value[j] <= Dyadic(b.upper[j]), "value \(v) element \(j)")
                        checked += 1
                    }
                }
                for k in 0..<2 {
                    let y = values[graph.output][k]
                    #expect(Dyadic(final[2 * k].lower) <= y && y <= -Dyadic(final[2 * k + 1].lower))
                }
            }
        }
        #expect(checked > 10000)
    }

    @Test(arguments: [("convolutional", 1 as UInt64), ("convolutional", 2), ("residual", 3), ("residual", 4)])
    func convolutionalNetworksWithMargin(kind: String, seed: UInt64) throws {
        let graph = kind == "residual" ? try RandomNetworks.residual(seed: seed) : try RandomNetworks.convolutional(seed: seed)
        let model = try CheckerModel(network: Factory.network(graph))
        let evaluator = Evaluator(graph: graph)
        var rng = SeededGenerator(seed: seed)
        let n = model.inputSize
        let centre = rng.uniforms(n, -1...1)
        let box = ValueBounds(lower: centre.map { $0 - 0.1 }, upper: centre.map { $0 + 0.1 })
        var work = NodeBounds.Work()
        let state = NodeBounds.compute(model, box: box, splits: [], work: &work)
        #expect(state.nonFinite == nil && state.empty == nil)
        #expect(work.crownRows > 0)
        var violations = 0
        for _ in 0..<300 {
            let x = (0..<n).map { rng.uniform(box.lower[$0]...box.upper[$0]) }
            let values = try evaluator.evaluateAll(x, batch: 1)
            for (v, value) in values.enumerated() {
                guard let b = state.bounds[v] else { continue }
                for j in value.indices {
                    let margin = 1e-9 * max(1, abs(value[j]))
                    if !(b.lower[j] - margin <= value[j] && value[j] <= b.upper[j] + margin) { violations += 1 }
                }
            }
        }
        #expect(violations == 0)
    }
}
