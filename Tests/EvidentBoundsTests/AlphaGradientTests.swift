import Testing
@testable import EvidentBounds
import EvidentIR
import EvidentTestSupport

/// The hand-derived α gradient (a forward pass of the relaxed network, chained through the
/// intermediate bounds) must match central finite differences of the summed final bounds.
@Suite("α-CROWN gradients")
struct AlphaGradientTests {
    @Test("hand-derived gradient equals finite differences", arguments: 0..<3)
    func gradientMatchesFiniteDifferences(seed: Int) throws {
        let graph = try RandomNetworks.dense(seed: UInt64(seed), inputs: 4, hidden: [10, 10, 10], outputs: 3)
        var rng = SeededGenerator(seed: UInt64(50 + seed))
        let centre = rng.uniforms(4)
        let box = IntervalBounds(lower: centre.map { $0 - 0.4 }, upper: centre.map { $0 + 0.4 })
        let propagator = BoundPropagator(graph: graph)
        let spec = LinearSpecification(rows: 2, coefficients: rng.uniforms(6))
        var initial = [Double](repeating: 0, count: 6)
        for e in 0..<3 { for r in 0..<2 { initial[e * 2 + r] = spec.coefficients[r * 3 + e] } }
        var optimiser = AlphaCrownOptimiser(propagator: propagator, initial: initial, rowBox: [0, 0], box: box, batch: 1,
                                            useCrown: true, options: BoundOptions(method: .alphaCrown, iterations: 0))
        let targets = optimiser.start().targets
        // Move the slopes off their 0/1 start so that the loss is smooth around them.
        for (t, slopes) in optimiser.alpha { for (u, a) in slopes { optimiser.alpha[t]![u] = a.map { _ in rng.uniform(0.2...0.8) } } }
        let (sweep, _) = optimiser.evaluate(targets: targets)
        let gradients = optimiser.slopeGradients(sweep, straightThrough: false, weightThreshold: 0)
        var checked = 0, intermediateChecked = 0
        for (target, gradient) in gradients {
            let rows = target == graph.output ? 2 : 2 * targets[target]!.count
            for (u, g) in gradient.values {
                let size = g.count / gradient.rows.count
                for (k, row) in gradient.rows.enumerated() {
                    for e in 0..<size where g[e * gradient.rows.count + k] != 0 {
                        let i = e * rows + row
                        let h = 1e-6
                        var plus = optimiser, minus = optimiser
                        plus.alpha[target]![u]![i] += h
                        minus.alpha[target]![u]![i] -= h
                        let lp = plus.evaluate(targets: targets).final.reduce(0, +)
                        let lm = minus.evaluate(targets: targets).final.reduce(0, +)
                        let difference = (lp - lm) / (2 * h)
                        let analytic = g[e * gradient.rows.count + k]
                        #expect(abs(difference - analytic) <= 1e-5 * max(1, abs(analytic)),
                                "target \(target) relu \(u) row \(row) neuron \(e): finite difference \(difference), gradient \(analytic)")
                        checked += 1
                        if target != graph.output { intermediateChecked += 1 }
                    }
                }
            }
        }
        #expect(checked >= 5)
        #expect(intermediateChecked > 0)
    }
}
