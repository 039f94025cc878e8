import BigInt
import Evident
import EvidentTestSupport
import Foundation
import Testing
@testable import EvidentChecker

/// Networks on which a naive round-to-nearest bound exceeds the truth. Each test shows the
/// naive computation is fooled, that the checker does not certify the false claim, and that
/// it certifies a true claim nearby where its charges allow.
@Suite("Floating-point traps")
struct FloatingPointTrapTests {
    /// A root refutation of the single constraint `Σ terms·y ≤ bound` over the box.
    func verdict(_ network: Network, lower: [Double], upper: [Double], terms: [(Int, Double)], bound: Double,
                 outputs: Int = 1) -> EvidentChecker.CheckReport {
        let property = Factory.property(lower: lower, upper: upper, clauses: [[(terms: terms, bound: bound)]], outputs: outputs)
        let proof = UnsatProof(regions: [RegionProof(trees: [ProofTree(slopeLayers: [], nodes: [
            ProofNode(refutations: [Refutation(clause: 0, constraint: 0)])])])])
        return Factory.check(Factory.certificate(.unsat(proof)), network, property)
    }

    /// `y = 1 − Σ 2⁻⁵⁴ x_i` at x = 1 (1000 inputs): each tiny term is absorbed by the bias in a
    /// running sum, so the naive value is 1; the truth is 1 − 1000·2⁻⁵⁴.
    @Test func largeBiasAbsorbsTinyTerms() throws {
        let n = 1000, tiny = 0x1p-54
        let network = try Factory.linear([(weights: [Double](repeating: -tiny, count: n), out: 1, bias: [1])], inputs: n)
        var naive = 1.0
        for _ in 0..<n { naive += -tiny }
        #expect(naive == 1)
        // Unsafe y ≤ 1 − 2⁻⁴⁸ holds at the (only) input: the naive bound 1 would "refute" it.
        let threshold = 1 - 0x1p-48
        #expect(1000 * tiny > 0x1p-48)  // the truth lies below the threshold
        let one = [Double](repeating: 1, count: n)
        #expect(!verdict(network, lower: one, upper: one, terms: [(0, 1)], bound: threshold).valid)
        #expect(verdict(network, lower: one, upper: one, terms: [(0, 1)], bound: 1 - 1e-12).valid)
    }

    /// `h = 2⁶⁰ − x`, `y = h − 2⁶⁰` at x = 1: `fl(2⁶⁰ − 1) = 2⁶⁰`, so naively y = 0; truly y = −1.
    @Test func constantThatRoundsToZero() throws {
        let big = 0x1p60
        let network = try Factory.linear([(weights: [-1], out: 1, bias: [big]), (weights: [1], out: 1, bias: [-big])], inputs: 1)
        #expect((big - 1) - big == 0)
        #expect(!verdict(network, lower: [1], upper: [1], terms: [(0, 1)], bound: -0.5).valid)
        #expect(verdict(network, lower: [1], upper: [1], terms: [(0, 1)], bound: -1e4).valid)
    }

    /// The same cancellation in front of a ReLU: the pre-activation `h − 2⁶⁰` lies in [0, 1] for
    /// x ∈ [0, 1], but its naive interval is [0, 0], a ReLU that looks dead.
    @Test func roundedIntervalMakesALiveReluLookDead() throws {
        let big = 0x1p60
        let network = try Factory.linear([(weights: [1], out: 1, bias: [big]), (weights: [1], out: 1, bias: [-big]),
                                  (weights: [1], out: 1, bias: [0])], inputs: 1, relu: true)
        #expect((1 + big) - big == 0 && (0 + big) - big == 0)
        // Unsafe y ≥ 0.5 (−y ≤ −0.5): true at x = 1.
        #expect(!verdict(network, lower: [0], upper: [1], terms: [(0, -1)], bound: -0.5).valid)
        #expect(verdict(network, lower: [0], upper: [1], terms: [(0, -1)], bound: -1e4).valid)
    }

    /// Back-substitution: the coefficient of x is `1 − 2⁻⁶⁰ − 1` summed in that order, 0 in
    /// floating point, −2⁻⁶⁰ exactly, so min y over x ∈ [0, 1] is −2⁻⁶⁰, not 0.
    @Test func coefficientsCancelToZero() throws {
        let network = try Factory.linear([(weights: [1, 1, 1], out: 3, bias: [0, 0, 0]), (weights: [1, -0x1p-60, -1], out: 1, bias: [0])],
                                 inputs: 1)
        #expect([1, -0x1p-60, -1].reduce(0.0, +) == 0)
        #expect(!verdict(network, lower: [0], upper: [1], terms: [(0, 1)], bound: -0x1p-61).valid)
        #expect(verdict(network, lower: [0], upper: [1], terms: [(0, 1)], bound: -1e-10).valid)
    }

    /// `y = x1 + x2 − x3` with x = (1e308, 1e308, 1.5e308): `x1 + x2` overflows, the naive
    /// value is +∞; truly y = 5e307, so `y ≤ 1e308` is unsafe.
    @Test func sumThatOverflows() throws {
        let network = try Factory.linear([(weights: [1, 1, -1], out: 1, bias: [0])], inputs: 3)
        #expect((1e308 + 1e308) - 1.5e308 == .infinity)
        let x = [1e308, 1e308, 1.5e308]
        let report = verdict(network, lower: x, upper: x, terms: [(0, 1)], bound: 1e308)
        #expect(!report.valid)
    }

    /// Knife edge: the exact minimum of a small random network over a 1-D box, computed with
    /// rational arithmetic; no certificate may claim a threshold at (or above) it, while a
    /// bisection tree certifies one slightly below.
    @Test(arguments: [5, 6, 7] as [UInt64])
    func thresholdAtTheExactMinimum(seed: UInt64) throws {
        let graph = try RandomNetworks.dense(seed: seed, inputs: 1, hidden: [5, 5], outputs: 1)
        let network = Factory.network(graph)
        let minimum = try ExactPiecewiseLinear.minimum(graph, lower: -1, upper: 1)
        // The largest double ≤ the exact minimum.
        var d = minimum.approximate
        while Rational(d) > minimum { d = d.nextDown }
        while Rational(d.nextUp) <= minimum { d = d.nextUp }
        let property = { (t: Double) in Factory.property(lower: [-1], upper: [1], clauses: [[(terms: [(0, -1)], bound: -t)]], outputs: 1) }
        // Unsafe: −y ≤ −t, i.e. y ≥ t... we bound y from below instead: unsafe y ≤ t, refuted when min y > t.
        let below = Factory.property(lower: [-1], upper: [1], clauses: [[(terms: [(0, 1)], bound: d - 0.02)]], outputs: 1)
        _ = property
        let tree = try #require(try Factory.bisectionTree(network, below.regions[0], maxNodes: 4000))
        let proof = UnsatProof(regions: [RegionProof(trees: [tree])])
        #expect(Factory.check(Factory.certificate(.unsat(proof)), network, below).valid)
        let edge = Factory.property(lower: [-1], upper: [1], clauses: [[(terms: [(0, 1)], bound: d)]], outputs: 1)
        let report = Factory.check(Factory.certificate(.unsat(proof)), network, edge)
        #expect(!report.valid, "a threshold at the exact minimum \(d) must not be certified")
        // Nor any tree refuting at the edge: deep bisection still fails.
        if let deep = try Factory.bisectionTree(network, edge.regions[0], maxNodes: 300) {
            #expect(!Factory.check(Factory.certificate(.unsat(UnsatProof(regions: [RegionProof(trees: [deep])]))), network, edge).valid)
        }
    }

    /// `X_0 >= 0.1` in the property text: the real box starts at 1/10, below fl(0.1). The
    /// checker's box must contain 1/10 (the outer box); nearest rounding shrinks it.
    @Test func decimalBoxBoundIsRoundedOutward() throws {
        let text = """
        (declare-const X_0 Real)
        (declare-const Y_0 Real)
        (assert (>= X_0 0.1))
        (assert (<= X_0 1))
        (assert (<= Y_0 0.1))
        """
        let property = try VNNLibParser.parse(text: text, source: "trap.vnnlib")
        let lower = PropertyRounding.outerLower(property.regions[0])[0]
        // lower ≤ 1/10 exactly ⟺ 10·lower ≤ 1 in exact arithmetic.
        #expect(Dyadic(lower) * Dyadic(10) < Dyadic(1))
        #expect(Dyadic(Double("0.1")!) * Dyadic(10) > Dyadic(1))  // nearest rounding would shrink the box
        // y = x: the unsafe point x = 1/10 (y = 1/10 ≤ 0.1) exists; never certified.
        let network = try Factory.linear([(weights: [1], out: 1, bias: [0])], inputs: 1)
        let proof = UnsatProof(regions: [RegionProof(trees: [ProofTree(slopeLayers: [], nodes: [
            ProofNode(refutations: [Refutation(clause: 0, constraint: 0)])])])])
        #expect(!Factory.check(Factory.certificate(.unsat(proof)), network, property).valid)
    }
}

/// Exact rationals for the knife-edge test.
struct Rational: Comparable {
    var n: BigInt
    var d: BigInt  // > 0

    init(_ n: BigInt, _ d: BigInt) {
        let g = n.greatestCommonDivisor(with: d)
        let s: BigInt = d < 0 ? -1 : 1
        self.n = g == 0 ? n : s * n / g
        self.d = g == 0 ? d : s * d / g
    }

    init(_ x: Double) {
        let dy = Dyadic(x)
        if dy.e >= 0 { self.init(dy.m << dy.e, 1) } else { self.init(dy.m, BigInt(1) << (-dy.e)) }
    }

    static func + (a: Rational, b: Rational) -> Rational { Rational(a.n * b.d + b.n * a.d, a.d * b.d) }
    static func - (a: Rational, b: Rational) -> Rational { Rational(a.n * b.d - b.n * a.d, a.d * b.d) }
    static func * (a: Rational, b: Rational) -> Rational { Rational(a.n * b.n, a.d * b.d) }
    static func / (a: Rational, b: Rational) -> Rational { Rational(a.n * b.d, a.d * b.n) }
    static func < (a: Rational, b: Rational) -> Bool { a.n * b.d < b.n * a.d }
    static func == (a: Rational, b: Rational) -> Bool { a.n * b.d == b.n * a.d }
    var approximate: Double { Double(n) / Double(d) }
    var signum: Int { n > 0 ? 1 : (n < 0 ? -1 : 0) }
}

/// The exact minimum of a dense ReLU network with one input over an interval: the network is
/// piecewise linear; its pieces are found layer by layer (each neuron's zero crossings inside
/// the current pieces) and the minimum is attained at a piece endpoint.
enum ExactPiecewiseLinear {
    static func minimum(_ graph: Graph, lower: Double, upper: Double) throws -> Rational {
        var points = [Rational(lower), Rational(upper)]
        // Evaluate every value exactly at a point: returns per node output values.
        func evaluate(_ x: Rational) -> [[Rational]] {
            var values = [[x]]
            for node in graph.nodes {
                let input = values[node.inputs[0]]
                switch node.operation {
                case .linear(let lin):
                    values.append((0..<lin.outFeatures).map { n in
                        var s = Rational(lin.bias.scalars[n])
                        for k in 0..<lin.inFeatures { s = s + Rational(lin.weight.scalars[n * lin.inFeatures + k]) * input[k] }
                        return s
                    })
                case .relu:
                    values.append(input.map { $0.signum > 0 ? $0 : Rational(0, 1) })
                default:
                    fatalError("ExactPiecewiseLinear: only linear and relu")
                }
            }
            return values
        }
        for (index, node) in graph.nodes.enumerated() where node.operation == .relu {
            _ = index
            let pre = node.inputs[0]
            var added = [Rational]()
            points.sort()
            for (a, b) in zip(points, points.dropFirst()) where a < b {
                let (va, vb) = (evaluate(a)[pre], evaluate(b)[pre])
                for j in va.indices where va[j].signum * vb[j].signum < 0 {
                    // Linear on [a, b]: zero at a + (b − a)·va/(va − vb).
                    added.append(a + (b - a) * (va[j] / (va[j] - vb[j])))
                }
            }
            points += added
        }
        return points.map { evaluate($0)[graph.output][0] }.min()!
    }
}
