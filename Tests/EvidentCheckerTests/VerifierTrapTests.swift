import Evident
import EvidentTestSupport
import Foundation
import Testing

/// `evident verify` on the floating-point traps: networks where the engine's own
/// round-to-nearest bound claims a positive margin although a counterexample exists in exact
/// arithmetic. The verifier must never answer `unsat` on them (its proofs go through the
/// checker, which charges every rounding).
@Suite("Verifier on floating-point traps")
struct VerifierTrapTests {
    /// The engine's plain (round-to-nearest) margin with `method`, and the verifier's verdict.
    func run(_ network: Network, _ property: Property, method: BoundMethod = .crown) -> (margin: Double, verdict: Verdict) {
        let margins = propertyMargins(network: network, property: property, options: BoundOptions(method: method))
        let verifier = Verifier(network: network, property: property,
                                modelBinding: FileBinding(path: "model.onnx", sha256: Factory.modelDigest),
                                propertyBinding: FileBinding(path: "property.vnnlib", sha256: Factory.propertyDigest),
                                settings: VerifierSettings(timeout: 10))
        return (margins.minMargin, verifier.run().verdict)
    }

    @Test func largeBiasAbsorbsTinyTerms() throws {
        let n = 1000, tiny = 0x1p-54
        let net = try Factory.linear([(weights: [Double](repeating: -tiny, count: n), out: 1, bias: [1])], inputs: n)
        let one = [Double](repeating: 1, count: n)
        // Unsafe: y ≤ 1 − 2⁻⁴⁸, true at the only input (y = 1 − 1000·2⁻⁵⁴).
        let outcome = run(net, Factory.property(lower: one, upper: one, clauses: [[(terms: [(0, 1)], bound: 1 - 0x1p-48)]], outputs: 1))
        #expect(outcome.margin > 0, "the naive bound is fooled")
        #expect(outcome.verdict != .unsat)
    }

    @Test func constantThatRoundsToZero() throws {
        let big = 0x1p60
        let net = try Factory.linear([(weights: [-1], out: 1, bias: [big]), (weights: [1], out: 1, bias: [-big])], inputs: 1)
        // y = (2⁶⁰ − x) − 2⁶⁰ = −1 at x = 1; unsafe: y ≤ −0.5.
        let outcome = run(net, Factory.property(lower: [1], upper: [1], clauses: [[(terms: [(0, 1)], bound: -0.5)]], outputs: 1),
                          method: .ibp)
        // (The engine's backward composition happens to be exact here; interval evaluation of
        // the graph is what this constant fools, and the checker's own tests cover that.)
        #expect(outcome.verdict != .unsat)
    }

    @Test func roundedIntervalMakesALiveReluLookDead() throws {
        let big = 0x1p60
        let net = try Factory.linear([(weights: [1], out: 1, bias: [big]), (weights: [1], out: 1, bias: [-big]),
                               (weights: [1], out: 1, bias: [0])], inputs: 1, relu: true)
        // Truly y = relu(x) ∈ [0, 1] on [0, 1]; unsafe: y ≥ 0.5.
        let outcome = run(net, Factory.property(lower: [0], upper: [1], clauses: [[(terms: [(0, -1)], bound: -0.5)]], outputs: 1),
                          method: .ibp)
        #expect(outcome.margin > 0, "the naive interval bound is fooled")
        #expect(outcome.verdict != .unsat)
    }

    @Test func coefficientsCancelToZero() throws {
        let net = try Factory.linear([(weights: [1, 1, 1], out: 3, bias: [0, 0, 0]), (weights: [1, -0x1p-60, -1], out: 1, bias: [0])],
                              inputs: 1)
        // Truly min y = −2⁻⁶⁰ at x = 1; unsafe: y ≤ −2⁻⁶¹.
        let outcome = run(net, Factory.property(lower: [0], upper: [1], clauses: [[(terms: [(0, 1)], bound: -0x1p-61)]], outputs: 1))
        #expect(outcome.margin > 0, "the naive bound is fooled")
        #expect(outcome.verdict != .unsat)
    }

    @Test func decimalBoxBoundShrunkByNearestRounding() throws {
        // y = x on [0.1, 1]: the point x = 1/10 gives y = 1/10 ≤ 0.1 (unsafe); fl(0.1) > 1/10.
        let net = try Factory.linear([(weights: [1], out: 1, bias: [0])], inputs: 1)
        let property = try VNNLibParser.parse(text: """
            (declare-const X_0 Real)
            (declare-const Y_0 Real)
            (assert (>= X_0 0.1))
            (assert (<= X_0 1))
            (assert (<= Y_0 0.1))
            """, source: "trap.vnnlib")
        #expect(run(net, property).verdict != .unsat)
    }

    /// Non-finite weights reach the verifier only through the library (the loaders refuse
    /// them). y = relu(w·x) − relu(x) with x ∈ [0, 1] and unsafe y ≥ 0: with w = NaN the
    /// network is undefined everywhere, with w = ±∞ it is infinite or NaN; neither may be
    /// proved safe.
    @Test("non-finite weights are never proved safe", arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteWeights(_ w: Double) throws {
        let net = try Factory.linear([(weights: [w, 1], out: 2, bias: [0, 0]), (weights: [1, -1], out: 1, bias: [0])],
                                     inputs: 1, relu: true)
        let property = Factory.property(lower: [0], upper: [1], clauses: [[(terms: [(0, -1)], bound: 0)]], outputs: 1)
        #expect(run(net, property).verdict != .unsat)
    }
}
