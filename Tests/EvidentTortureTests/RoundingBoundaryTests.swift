import BigInt
import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Floating-point cancellation through `verify`, at random: the hand-made traps of
/// `Tests/EvidentCheckerTests/VerifierTrapTests.swift` (a large bias absorbing tiny terms, a
/// constant that rounds to zero, a live ReLU that rounding makes look dead, coefficients
/// cancelling to zero, a decimal bound shrunk by rounding) generalised to seeded networks
/// whose exact answer is known and lies within one ulp of the threshold.
///
/// Two families, both evaluated exactly in dyadic rationals:
/// - dense ReLU networks with large offsets `B` added in one layer and subtracted in the
///   next (`relu(W x + b + B)` keeps every neuron active, the next layer's bias removes
///   `W·B`, rounded), weights spread over 2^±20, on a point box: the exact output is computed
///   exactly; rounding loses most of its low bits;
/// - chains of linear layers (no ReLU) with weights from 2^-60 to 2^10 and offsets up to
///   2^60 over a box: the exact minimum of `a·y` is `a·c + Σ min(g_i l_i, g_i u_i)` with
///   `g = aᵀ A` composed exactly.
///
/// With `E` the exact minimum over the box, the threshold is `d = E` rounded up (the minimiser
/// is a counterexample: `unsat` is wrong) or rounded down (every point has `a·y ≥ E > d`:
/// `sat` is wrong), for half the instances; the other half move it up to 2^30 ulps further
/// on the same side. Every answer but those two is fine (`unknown` is expected within an
/// ulp). The summary counts the proofs and witnesses the checker refused: the engine's
/// round-to-nearest search claimed them, the sound check did not accept them.
@Suite("Torture: rounding at the boundary")
struct RoundingBoundaryTests {
    static let count = Torture.size(ci: 120, full: 2000)
    static let baseSeed: UInt64 = 0xF1_0A_70_00

    @Test func verdictsWithinOneUlpOfTheThreshold() throws {
        let start = Date()
        let outcomes = Torture.parallelMap(Self.count) { i -> (verdict: Verdict, falseInstance: Bool, failure: String?, refused: Bool) in
            do { return try Self.run(i) } catch { return (.unknown, false, "instance \(i): \(error)", false) }
        }
        let failures = outcomes.compactMap(\.failure)
        var verdicts = [String: Int]()
        for o in outcomes { verdicts["\(o.falseInstance ? "false" : "true")/\(o.verdict.rawValue)", default: 0] += 1 }
        Torture.report("rounding boundary: \(outcomes.count) instances (truth/verdict "
                       + verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                       + "), proofs or witnesses the checker refused \(outcomes.filter(\.refused).count), wrong answers \(failures.count), "
                       + "in \(Torture.seconds(since: start)) s")
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    /// A network of family `linear` (linear chain over a box) or dense ReLU (point box), an
    /// objective row `a`, the box, the exact minimiser and the exact minimum of `a·y`.
    struct Problem {
        var graph: Graph, a: [Double], lower: [Double], upper: [Double], x: [Double], exact: Dyadic, linear: Bool
    }

    static func problem(_ i: Int, _ rng: inout SeededGenerator, differences: Bool = false) throws -> Problem? {
        let linear = i % 2 == 1
        let n = linear ? rng.int(1..<20) : rng.int(1..<5)
        let m = rng.int(1..<4)
        var b = GraphBuilder(inputName: "x", inputShape: [1, n])
        var v = b.inputValue, width = n
        var layers = [Linear]()
        let depth = rng.int(1..<4)
        var pending: [Double]? = nil  // the offset B added by the previous layer, to remove
        for l in 0..<depth {
            let out = l == depth - 1 ? m : rng.int(2..<6)
            let spread = linear ? -rng.uniform(0...60) : rng.uniform(-20...20)
            var w = (0..<(out * width)).map { _ in rng.uniform(-1...1) * pow(2, (spread + rng.uniform(-4...4)).rounded()) }
            if linear && rng.uniform(0...1) < 0.5 { w = w.map { $0 * pow(2, 40) } }
            var bias = (0..<out).map { _ in rng.uniform(-1...1) }
            if let big = pending {
                // Remove W·B (rounded: the exact function keeps the rounding's residue).
                for o in 0..<out { bias[o] -= (0..<width).reduce(0) { $0 + w[o * width + $1] * big[$1] } }
                pending = nil
            }
            if l < depth - 1 && rng.uniform(0...1) < 0.7 {
                let big = (0..<out).map { _ in pow(2, rng.uniform(linear ? 0...60 : 20...55).rounded()) }
                for o in 0..<out { bias[o] += big[o] }
                pending = big
            }
            let layer = Linear(weight: Tensor(shape: [out, width], scalars: w), bias: Tensor(shape: [out], scalars: bias))
            layers.append(layer)
            v = try b.add(.linear(layer), inputs: [v], name: "fc\(l)")
            if !linear && l < depth - 1 { v = try b.add(.relu, inputs: [v], name: "relu\(l)") }
            width = out
        }
        let graph = try b.build(output: v)
        let concrete = Concrete(graph)
        var a = [Double](repeating: 0, count: m)
        if differences {
            // One output, or the difference of two (the forms the decimal properties write).
            let j = rng.int(0..<m)
            a[j] = Bool.random(using: &rng) ? 1 : -1
            if m > 1 && Bool.random(using: &rng) { a[(j + 1 + rng.int(0..<(m - 1))) % m] = -a[j] }
        } else {
            for j in 0..<m where rng.uniform(0...1) < 0.7 { a[j] = Bool.random(using: &rng) ? 1 : -1 }
            if a.allSatisfy({ $0 == 0 }) { a[rng.int(0..<m)] = 1 }
        }

        // The box and the exact minimiser.
        var lower = [Double](), upper = [Double]()
        for _ in 0..<n {
            let c = rng.uniform(-1...1), r = linear ? rng.uniform(0...1) : 0
            lower.append(c - r)
            upper.append(c + r)
        }
        var x = lower
        if linear {
            // g = aᵀ A_L ⋯ A_1, exactly.
            var g = a.map { Dyadic($0) }
            for layer in layers.reversed() {
                let (out, inFeatures) = (layer.outFeatures, layer.inFeatures)
                g = (0..<inFeatures).map { k in
                    (0..<out).reduce(Dyadic.zero) { $0 + g[$1] * Dyadic(layer.weight.scalars[$1 * inFeatures + k]) }
                }
            }
            x = (0..<n).map { g[$0].signum >= 0 ? lower[$0] : upper[$0] }
        }
        guard let y = concrete.exactOutputs(x) else { return nil }
        let exact = zip(a, y).reduce(Dyadic.zero) { $0 + Dyadic($1.0) * $1.1 }
        return Problem(graph: graph, a: a, lower: lower, upper: upper, x: x, exact: exact, linear: linear)
    }

    static func run(_ i: Int) throws -> (verdict: Verdict, falseInstance: Bool, failure: String?, refused: Bool) {
        let seed = baseSeed &+ UInt64(i)
        var rng = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D)
        guard let problem = try problem(i, &rng) else { return (.unknown, false, "instance \(i): no exact evaluation", false) }
        let (graph, a, lower, upper, x, exact, linear) = (problem.graph, problem.a, problem.lower, problem.upper, problem.x,
                                                          problem.exact, problem.linear)
        let concrete = Concrete(graph)
        let (n, m) = (lower.count, a.count)
        _ = (n, m)
        let falseInstance = rng.uniform(0...1) < 0.5
        var threshold = falseInstance ? exact.roundedUp : exact.roundedDown
        if !falseInstance && !(Dyadic(threshold) < exact) { threshold = threshold.nextDown }
        // Half the instances sit within one ulp; the others up to 2^30 ulps further away on
        // the same side, where the verifier can sometimes decide them.
        if rng.uniform(0...1) < 0.5 {
            let k = pow(2, rng.uniform(0...30)).rounded()
            threshold = falseInstance ? threshold + k * threshold.ulp : threshold - k * threshold.ulp
        }
        guard threshold.isFinite, falseInstance ? !(Dyadic(threshold) < exact) : Dyadic(threshold) < exact else {
            return (.unknown, falseInstance, "instance \(i): the threshold is on the wrong side", false)
        }
        let spec = PropertySpec(regions: [(lower, upper, [ClauseSpec(constraints: [(a, threshold)])])], outputs: m)
        let result = TortureVerifier.run(Torture.network(graph), spec.property,
                                         settings: TortureVerifier.settings(variant: i / 2 % 4, timeout: 1))
        let about = "instance \(i) (seed \(seed), \(linear ? "linear" : "dense ReLU"), \(n) inputs, "
            + "\(falseInstance ? "false" : "true") by less than an ulp: exact minimum \(exact), threshold \(threshold))"
        let refused = result.reason.map { $0.contains("checker rejected") || $0.contains("did not confirm") } ?? false
        switch result.verdict {
        case .unsat where falseInstance:
            return (.unsat, true, "\(about): wrong unsat (\(x) is an exact counterexample)", refused)
        case .sat:
            guard let w = result.counterexample, concrete.judge(w.input, spec, region: 0, clause: 0) == .counterexample else {
                return (.sat, falseInstance, "\(about): wrong sat (witness \(result.counterexample?.input ?? []) is not an exact counterexample)",
                        refused)
            }
            return (.sat, falseInstance, falseInstance ? nil : "\(about): wrong sat on a true property", refused)
        case let verdict:
            return (verdict, falseInstance, nil, refused)
        }
    }

    // MARK: - Decimal thresholds through the VNN-LIB parser

    static let decimalCount = Torture.size(ci: 40, full: 1000)

    /// The same problems written as VNN-LIB text, with the threshold a decimal of 6 to 28
    /// significant digits just above or just below the exact minimum (usually not a double:
    /// the parser encloses it, rounding the proof's threshold up and the witness's down), and
    /// the box's bounds written as the exact decimals of their doubles. The truth is decided in
    /// exact rational arithmetic; `unsat` on a false instance and `sat` on a true one fail.
    @Test func decimalThresholdsThroughTheParser() throws {
        let start = Date()
        let outcomes = Torture.parallelMap(Self.decimalCount) { i -> (verdict: Verdict, falseInstance: Bool, failure: String?) in
            do { return try Self.runDecimal(i) } catch { return (.unknown, false, "decimal instance \(i): \(error)") }
        }
        let failures = outcomes.compactMap(\.failure)
        var verdicts = [String: Int]()
        for o in outcomes { verdicts["\(o.falseInstance ? "false" : "true")/\(o.verdict.rawValue)", default: 0] += 1 }
        Torture.report("decimal thresholds: \(outcomes.count) instances (truth/verdict "
                       + verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                       + "), wrong answers \(failures.count), in \(Torture.seconds(since: start)) s")
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    /// An exact rational `numerator / denominator` (denominator > 0).
    struct Rational {
        var numerator: BigInt, denominator: BigInt
        init(_ d: Dyadic) {
            if d.e >= 0 { (numerator, denominator) = (d.m << d.e, 1) } else { (numerator, denominator) = (d.m, BigInt(1) << -d.e) }
        }
        init(decimal n: BigInt, exponent p: Int) {
            if p >= 0 { (numerator, denominator) = (n * BigInt(10).power(p), 1) } else { (numerator, denominator) = (n, BigInt(10).power(-p)) }
        }
        static func <= (a: Rational, b: Rational) -> Bool { a.numerator * b.denominator <= b.numerator * a.denominator }
    }

    /// The exact decimal of a double, in scientific notation (`m·5^k e−k`).
    static func exactDecimal(_ x: Double) -> String {
        let d = Dyadic(x)
        if d.e >= 0 { return "\(d.m << d.e)" }
        return "\(d.m * BigInt(5).power(-d.e))e\(d.e)"
    }

    static func runDecimal(_ i: Int) throws -> (verdict: Verdict, falseInstance: Bool, failure: String?) {
        let seed = baseSeed &+ 0x10_0000 &+ UInt64(i)
        var rng = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D)
        guard let problem = try problem(i, &rng, differences: true) else { return (.unknown, false, "decimal instance \(i): no exact evaluation") }
        let exact = Rational(problem.exact)
        // T = N·10^p with k significant digits, on the chosen side of the exact minimum E.
        let digits = rng.int(6..<29)
        let magnitude = max(1e-300, abs(Double(problem.exact.roundedUp)))
        let p = Int(log10(magnitude).rounded(.down)) - digits + 1
        let scaled = Rational(decimal: 1, exponent: p)
        // floor(E / 10^p)
        let num = exact.numerator * scaled.denominator, den = exact.denominator * scaled.numerator
        var n = num / den
        if num % den != 0 && num < 0 { n -= 1 }
        let falseInstance = rng.uniform(0...1) < 0.5
        if falseInstance {
            if !(exact <= Rational(decimal: n, exponent: p)) { n += 1 }   // E ≤ T
        } else {
            if !(Rational(decimal: n, exponent: p) <= exact) || exact <= Rational(decimal: n, exponent: p) { n -= 1 }   // T < E
        }
        let threshold = Rational(decimal: n, exponent: p)
        guard falseInstance ? exact <= threshold : !(exact <= threshold) else {
            return (.unknown, falseInstance, "decimal instance \(i): the threshold is on the wrong side")
        }
        // a·y ≤ T as VNN-LIB: `(<= Y_j T)`, `(>= Y_j −T)` for −Y_j, `(<= (- Y_j Y_k) T)`.
        let m = problem.a.count
        let terms = problem.a.indices.filter { problem.a[$0] != 0 }
        let text = "\(n)e\(p)", negated = "\(-n)e\(p)"
        let comparison: String
        if terms.count == 1 {
            comparison = problem.a[terms[0]] > 0 ? "(<= Y_\(terms[0]) \(text))" : "(>= Y_\(terms[0]) \(negated))"
        } else {
            let (plus, minus) = problem.a[terms[0]] > 0 ? (terms[0], terms[1]) : (terms[1], terms[0])
            comparison = "(<= (- Y_\(plus) Y_\(minus)) \(text))"
        }
        var lines = (0..<problem.lower.count).map { "(declare-const X_\($0) Real)" } + (0..<m).map { "(declare-const Y_\($0) Real)" }
        for k in problem.lower.indices {
            lines.append("(assert (>= X_\(k) \(exactDecimal(problem.lower[k]))))")
            lines.append("(assert (<= X_\(k) \(exactDecimal(problem.upper[k]))))")
        }
        lines.append("(assert \(comparison))")
        let property = try VNNLibParser.parse(text: lines.joined(separator: "\n"), source: "decimal\(i).vnnlib")
        guard property.regions.count == 1, property.regions[0].lower == problem.lower, property.regions[0].upper == problem.upper else {
            return (.unknown, falseInstance, "decimal instance \(i): the box did not parse to its doubles")
        }
        let result = TortureVerifier.run(Torture.network(problem.graph), property,
                                         settings: TortureVerifier.settings(variant: i / 2 % 4, timeout: 1))
        let about = "decimal instance \(i) (seed \(seed), \(problem.linear ? "linear" : "dense ReLU"), "
            + "\(falseInstance ? "false" : "true"): exact minimum \(problem.exact), threshold \(text))"
        switch result.verdict {
        case .unsat where falseInstance:
            return (.unsat, true, "\(about): wrong unsat (\(problem.x) is an exact counterexample)")
        case .sat:
            // The witness must satisfy a·y ≤ T exactly.
            guard let w = result.counterexample, property.regions[0].contains(w.input),
                  let y = Concrete(problem.graph).exactOutputs(w.input) else {
                return (.sat, falseInstance, "\(about): wrong sat (no exactly evaluable witness in the box)")
            }
            let value = zip(problem.a, y).reduce(Dyadic.zero) { $0 + Dyadic($1.0) * $1.1 }
            guard Rational(value) <= threshold else { return (.sat, falseInstance, "\(about): wrong sat (the witness gives \(value))") }
            return (.sat, falseInstance, falseInstance ? nil : "\(about): wrong sat on a true property")
        case let verdict:
            return (verdict, falseInstance, nil)
        }
    }
}
