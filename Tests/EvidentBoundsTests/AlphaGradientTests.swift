import Testing
@testable import EvidentBounds
import EvidentIR
import EvidentTestSupport

/// The hand-derived α gradient (a forward pass of the relaxed network, chained through the
/// intermediate bounds) must match central finite differences of the summed final bounds.
@Suite("α-CROWN gradients")
struct AlphaGradientTests {
    /// Dense networks: every gradient. Residual CNNs (through the masked element-major
    /// convolutions of the relaxed forward pass): the final rows' gradients. For their
    /// intermediate rows the gradient leaves out how interval bounds that are tighter than
    /// CROWN's depend on earlier bounds (see `slopeGradients`), so it is not exact there.
    @Test("hand-derived gradient equals finite differences", arguments: 0..<3, [false, true])
    func gradientMatchesFiniteDifferences(seed: Int, convolutional: Bool) throws {
        let graph = convolutional
            ? try RandomNetworks.residual(seed: UInt64(seed))
            : try RandomNetworks.dense(seed: UInt64(seed), inputs: 4, hidden: [10, 10, 10], outputs: 3)
        var rng = SeededGenerator(seed: UInt64(50 + seed))
        let inputs = graph.values[graph.input].count
        let centre = rng.uniforms(inputs)
        let radius = convolutional ? 0.15 : 0.4
        let box = IntervalBounds(lower: centre.map { $0 - radius }, upper: centre.map { $0 + radius })
        let propagator = BoundPropagator(graph: graph)
        let spec = LinearSpecification(rows: 2, coefficients: rng.uniforms(6))
        var initial = [Double](repeating: 0, count: 6)
        for e in 0..<3 { for r in 0..<2 { initial[e * 2 + r] = spec.coefficients[r * 3 + e] } }
        var optimiser = AlphaCrownOptimiser(propagator: propagator, initial: initial, rowBox: [0, 0], box: box, batch: 1,
                                            options: BoundOptions(method: .alphaCrown, iterations: 0))
        let targets = optimiser.start().targets
        // Move the slopes off their 0/1 start so that the loss is smooth around them.
        // (In sorted order: dictionary order differs between runs.)
        for t in optimiser.alpha.keys.sorted() {
            for u in optimiser.alpha[t]!.keys.sorted() {
                optimiser.alpha[t]![u] = optimiser.alpha[t]![u]!.map { _ in rng.uniform(0.2...0.8) }
            }
        }
        let (sweep, _) = optimiser.evaluate(targets: targets)
        let gradients = optimiser.slopeGradients(sweep, straightThrough: false, weightThreshold: 0)
        var checked = 0, intermediateChecked = 0
        for (target, gradient) in gradients where !convolutional || target == graph.output {
            let rows = target == graph.output ? 2 : 2 * targets[target]!.count
            for u in gradient.relus.sorted() {
                let g = gradient.values(u, size: graph.values[u].count)
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
        #expect(convolutional || intermediateChecked > 0)
    }

    /// The chunks of rows run on both cores; their gradients must be combined in a fixed
    /// order, or the thread that finishes first changes the last bits of every later step.
    @Test("α-CROWN gives the same bounds and slopes bit for bit on every run")
    func deterministic() throws {
        let graph = try RandomNetworks.residual(seed: 3, channels: 4, size: 8)
        var rng = SeededGenerator(seed: 77)
        let centre = rng.uniforms(graph.values[graph.input].count)
        let propagator = BoundPropagator(graph: graph)
        func run() -> BoundResult {
            propagator.bounds(of: .identity(outputs: propagator.outputSize), lower: centre.map { $0 - 0.2 },
                              upper: centre.map { $0 + 0.2 }, batch: 1,
                              options: BoundOptions(method: .alphaCrown, iterations: 8))
        }
        let first = run()
        // CROWN rows per pre-activation: two per unstable neuron.
        let rows = first.intermediate.compactMap { $0 }.map { b in 2 * zip(b.lower, b.upper).filter { $0 < 0 && $1 > 0 }.count }
        #expect(propagator.chunking(rows.max() ?? 0).count > 1, "the test needs rows in more than one chunk: \(rows)")
        for _ in 0..<4 {
            let again = run()
            #expect(again.lower.map(\.bitPattern) == first.lower.map(\.bitPattern))
            let same = again.slopes.keys == first.slopes.keys && first.slopes.allSatisfy { relu, slopes in
                again.slopes[relu]!.map(\.bitPattern) == slopes.map(\.bitPattern)
            }
            #expect(same, "the final rows' slopes differ between runs")
        }
    }
}
