import Testing
import EvidentIR
@testable import EvidentBounds
import EvidentTestSupport

/// α-CROWN's early stops: exact evaluation counts where the optimisation cannot improve, and
/// a target reached before the iteration count.
@Suite("alpha-CROWN early stopping")
struct EarlyStopTests {
    static let spec = LinearSpecification(rows: 2, coefficients: [1, -1, 0, 0, 1, -1])

    static func box(_ n: Int, radius: Double, seed: UInt64) -> (lower: [Double], upper: [Double]) {
        var rng = SeededGenerator(seed: seed)
        let centre = rng.uniforms(n)
        return (centre.map { $0 - radius }, centre.map { $0 + radius })
    }

    /// In a box of radius 1e-9 every ReLU is stable (no pre-activation of these networks is
    /// that close to 0), so no step changes a bound: the first evaluation improves on −∞ and
    /// each later one improves nothing, and the optimisation stops after exactly
    /// `1 + patience` evaluations, in both scopes.
    @Test("patience: exactly 1 + patience evaluations when nothing can improve", arguments: [AlphaScope.all, .final])
    func patienceCount(scope: AlphaScope) throws {
        for seed in UInt64(0)..<3 {
            let graph = try RandomNetworks.dense(seed: seed, inputs: 5, hidden: [12, 10], outputs: 3)
            let (lower, upper) = Self.box(5, radius: 1e-9, seed: 50 + seed)
            let propagator = BoundPropagator(graph: graph)
            let bounds = propagator.intermediateBounds(lower: lower, upper: upper, batch: 1)
            var unstable = 0
            for node in graph.nodes where node.operation == .relu {
                let b = bounds[node.inputs[0]]!
                for (l, u) in zip(b.lower, b.upper) where l < 0 && u > 0 { unstable += 1 }
            }
            try #require(unstable == 0, "seed \(seed): \(unstable) unstable neurons")
            for patience in [1, 3] {
                let result = propagator.bounds(of: Self.spec, lower: lower, upper: upper, batch: 1,
                                               options: BoundOptions(method: .alphaCrown, iterations: 20,
                                                                     earlyStop: EarlyStop(patience: patience), alphaScope: scope))
                #expect(result.evaluations == 1 + patience, "seed \(seed), patience \(patience): \(result.evaluations)")
            }
        }
    }

    /// With a target a third of the way from CROWN's bound to 20 iterations' bound, the
    /// optimisation stops before the 20th evaluation with every row at the target or above.
    @Test("satisfied: stops once every row reaches its target", arguments: [AlphaScope.all, .final])
    func target(scope: AlphaScope) throws {
        var stoppedEarly = 0, cases = 0
        for seed in UInt64(0)..<4 {
            let graph = try RandomNetworks.dense(seed: 10 + seed, inputs: 5, hidden: [16, 12], outputs: 3)
            let (lower, upper) = Self.box(5, radius: 0.4, seed: 60 + seed)
            let propagator = BoundPropagator(graph: graph)
            let crown = propagator.bounds(of: Self.spec, lower: lower, upper: upper, batch: 1, options: BoundOptions(method: .crown))
            let full = propagator.bounds(of: Self.spec, lower: lower, upper: upper, batch: 1,
                                         options: BoundOptions(method: .alphaCrown, iterations: 20, alphaScope: scope))
            #expect(full.evaluations == 20)
            let gain = zip(full.lower, crown.lower).map { $0 - $1 }
            guard gain.allSatisfy({ $0 > 1e-6 }) else { continue }
            cases += 1
            let target = zip(crown.lower, gain).map { $0 + $1 / 3 }
            let options = BoundOptions(method: .alphaCrown, iterations: 20,
                                       earlyStop: EarlyStop(satisfied: { best in zip(best, target).allSatisfy { $0 >= $1 } }),
                                       alphaScope: scope)
            let stopped = propagator.bounds(of: Self.spec, lower: lower, upper: upper, batch: 1, options: options)
            if stopped.evaluations < 20 { stoppedEarly += 1 }
            if scope == .all {
                // The result is the best bound seen, so it is at the target.
                for (b, t) in zip(stopped.lower, target) { #expect(b >= t, "seed \(seed): \(b) < target \(t)") }
            } else {
                // The final scope reports its clean pass with byte-quantised slopes: at the target up to that rounding.
                for (b, t) in zip(stopped.lower, target) { #expect(b >= t - 1e-2 * max(1, abs(t)), "seed \(seed): \(b) < target \(t)") }
            }
        }
        #expect(cases >= 2, "only \(cases) networks where alpha-CROWN improves every row")
        #expect(stoppedEarly == cases, "\(stoppedEarly) of \(cases) stopped before 20 evaluations")
    }
}
