import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Networks with a counterexample hidden in a tiny region of the input box (SoundnessBench,
/// arXiv 2412.03154, plants them the same way): the only right answers are `sat`, with a
/// witness that violates the property under exact evaluation, or `unknown`/`timeout`.
///
/// The network is a base network (dense, or convolutional with a residual connection) plus a
/// "bump" branch that reads `s` input coordinates (1 to 3), optionally through `depth` layers
/// of ReLU pass-throughs `x = relu(x) − relu(−x)` (unstable neurons, so that the search has
/// to split them), then per coordinate a tent `(relu(x−p+w) − 2 relu(x−p) + relu(x−p−w)) / w`
/// (1 at `p`, 0 outside `[p−w, p+w]`), then `bump = relu(Σ tents − (s − 1))`, which is 1 at
/// the peak `p` and 0 unless every selected coordinate is within `w` of it. The output is
/// `y = base(x) + H · bump(x) · e_o`.
///
/// The property's unsafe set is `y_o − y_j ≥ T` (or `y_o ≥ T`). `T` lies above the base's
/// exact maximum over the box (GLPK's MILP on the network with `H = 0`) by a margin, and `H`
/// lifts the peak above `T` by another margin: everything outside the bump is safe with
/// margin, the peak is a counterexample. Widths `w` run from 1e-6 to 1e-3 of the box's width;
/// peaks lie inside the box, on a face or at a corner.
@Suite("Torture: planted counterexamples")
struct PlantedCounterexampleTests {
    struct Instance {
        var graph: Graph
        var spec: PropertySpec
        var peak: [Double]
        var describe: String
    }

    static let count = Torture.size(ci: 40, full: 800)
    static let baseSeed: UInt64 = 0x9_1A_27_00

    @Test func plantedCounterexamplesAreFoundOrUnknown() throws {
        let start = Date()
        let outcomes = Torture.parallelMap(Self.count) { i -> (verdict: Verdict?, failure: String?, found: Bool, kind: String) in
            do {
                guard let instance = try Self.instance(i) else { return (nil, nil, false, "skipped") }
                let variant = i % 4
                let timeout = Torture.full ? 2.0 : 1.0
                let result = TortureVerifier.run(Torture.network(instance.graph), instance.spec.property,
                                                 settings: TortureVerifier.settings(variant: variant, timeout: timeout))
                let about = "\(instance.describe), \(TortureVerifier.variantName(variant))"
                let concrete = Concrete(instance.graph)
                switch result.verdict {
                case .unsat:
                    return (.unsat, "\(about): wrong unsat (the peak \(instance.peak) is a counterexample)", false, instance.describe)
                case .sat:
                    guard let w = result.counterexample, result.check?.valid == true,
                          concrete.judge(w.input, instance.spec, region: w.region, clause: w.clause) == .counterexample else {
                        return (.sat, "\(about): wrong sat (witness \(result.counterexample?.input ?? []) not confirmed)", false, instance.describe)
                    }
                    return (.sat, nil, true, instance.describe)
                case let other:
                    return (other, nil, false, instance.describe)
                }
            } catch {
                return (nil, "instance \(i): \(error)", false, "error")
            }
        }
        let failures = outcomes.compactMap(\.failure)
        var verdicts = [Verdict: Int]()
        for o in outcomes { if let v = o.verdict { verdicts[v, default: 0] += 1 } }
        let ran = outcomes.filter { $0.verdict != nil }.count
        let wrongUnsat = verdicts[.unsat, default: 0]
        Torture.report("planted: \(ran) instances (\(Verdict.allCases.map { "\($0.rawValue) \(verdicts[$0, default: 0])" }.joined(separator: ", "))), "
                       + "witnesses confirmed \(outcomes.filter(\.found).count), wrong unsat \(wrongUnsat), "
                       + "wrong sat \(failures.count - wrongUnsat), in \(Torture.seconds(since: start)) s")
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
        #expect(ran >= Self.count * 9 / 10, "too many instances could not be built")
        #expect(outcomes.filter(\.found).count >= Self.count / 4, "the planted counterexamples are rarely found: the test is weak")
    }

    /// The planted instance `i`, with its peak confirmed a counterexample by exact evaluation
    /// (nil in the rare case the drawn parameters fail that, e.g. a peak the base alone pushes
    /// over; the test requires 90% of the instances to be built).
    static func instance(_ i: Int) throws -> Instance? {
        let seed = baseSeed &+ UInt64(i)
        var rng = SeededGenerator(seed: seed &* 0xD1B5_4A32_D192_ED03)
        let convolutional = i % 3 == 2
        let depth = rng.int(0..<3)
        let size = rng.int(3..<5), channels = 1
        let n = convolutional ? channels * size * size : [2, 3, 4, 6, 8][rng.int(0..<5)]
        let m = rng.int(2..<4)
        // Box.
        var lower = [Double](), upper = [Double]()
        let eps = rng.logUniform(0.01, 0.1)
        for _ in 0..<n {
            let c = rng.uniform(-1...1), r = convolutional ? eps : rng.logUniform(0.05, 1)
            lower.append(c - r)
            upper.append(c + r)
        }
        // Bump: coordinates, peak (inside, on a face, at a corner), widths.
        let s = min(n, rng.int(1..<4))
        var coordinates = Array(0..<n)
        coordinates.shuffle(using: &rng)
        coordinates = Array(coordinates.prefix(s)).sorted()
        let placement = ["inside", "face", "corner"][rng.int(0..<3)]
        let relative = rng.logUniform(1e-6, 1e-3)
        var peak = zip(lower, upper).map { ($0 + $1) / 2 }
        var widths = [Double]()
        for (q, k) in coordinates.enumerated() {
            let w = relative * (upper[k] - lower[k])
            widths.append(w)
            let onFace = placement == "corner" || (placement == "face" && q == 0)
            peak[k] = onFace ? (Bool.random(using: &rng) ? lower[k] : upper[k]) : rng.uniform((lower[k] + w)...(upper[k] - w))
        }
        for k in 0..<n where !coordinates.contains(k) { peak[k] = rng.uniform(lower[k]...upper[k]) }
        let target = rng.int(0..<m)
        let other = rng.uniform(0...1) < 0.3 ? nil : (target + 1 + rng.int(0..<(m - 1))) % m
        var coefficients = [Double](repeating: 0, count: m)
        coefficients[target] = -1
        if let other { coefficients[other] = 1 }

        func build(height: Double) throws -> Graph {
            var weights = SeededGenerator(seed: seed)
            var b = GraphBuilder(inputName: "x", inputShape: convolutional ? [1, channels, size, size] : [1, n])
            // Base.
            let base: ValueID
            if convolutional {
                base = try Self.convolutionalBase(&b, input: b.inputValue, channels: channels, outputs: m, rng: &weights)
            } else {
                var v = b.inputValue, width = n
                for (l, h) in [rng2(&weights, 4, 9), rng2(&weights, 4, 9), m].enumerated() {
                    let scale = 1.5 / Double(width).squareRoot()
                    v = try b.add(.linear(Linear(weight: weights.tensor([h, width], -scale...scale), bias: weights.tensor([h], -0.5...0.5))),
                                  inputs: [v], name: "base\(l)")
                    if l < 2 { v = try b.add(.relu, inputs: [v], name: "base_relu\(l)") }
                    width = h
                }
                base = v
            }
            // Bump branch.
            var x = convolutional ? try b.add(.reshape([1, n]), inputs: [b.inputValue], name: "flat") : b.inputValue
            for d in 0..<depth {
                var split = [Double](repeating: 0, count: 2 * n * n)
                for k in 0..<n {
                    split[k * n + k] = 1
                    split[(n + k) * n + k] = -1
                }
                var v = try b.add(.linear(Linear(weight: Tensor(shape: [2 * n, n], scalars: split), bias: nil)), inputs: [x], name: "pass\(d)")
                v = try b.add(.relu, inputs: [v], name: "pass_relu\(d)")
                var merge = [Double](repeating: 0, count: 2 * n * n)
                for k in 0..<n {
                    merge[k * 2 * n + k] = 1
                    merge[k * 2 * n + n + k] = -1
                }
                x = try b.add(.linear(Linear(weight: Tensor(shape: [n, 2 * n], scalars: merge), bias: nil)), inputs: [v], name: "merge\(d)")
            }
            var tentWeights = [Double](repeating: 0, count: 3 * s * n), tentBias = [Double]()
            var sumWeights = [Double]()
            for (q, k) in coordinates.enumerated() {
                for (t, offset) in [widths[q], 0, -widths[q]].enumerated() {
                    tentWeights[(3 * q + t) * n + k] = 1
                    tentBias.append(offset - peak[k])
                }
                sumWeights += [1 / widths[q], -2 / widths[q], 1 / widths[q]]
            }
            var t = try b.add(.linear(Linear(weight: Tensor(shape: [3 * s, n], scalars: tentWeights), bias: Tensor(shape: [3 * s], scalars: tentBias))),
                              inputs: [x], name: "tents")
            t = try b.add(.relu, inputs: [t], name: "tent_relu")
            var bump = try b.add(.linear(Linear(weight: Tensor(shape: [1, 3 * s], scalars: sumWeights), bias: Tensor(shape: [1], scalars: [-Double(s - 1)]))),
                                 inputs: [t], name: "bump")
            bump = try b.add(.relu, inputs: [bump], name: "bump_relu")
            var lift = [Double](repeating: 0, count: m)
            lift[target] = height
            let lifted = try b.add(.linear(Linear(weight: Tensor(shape: [m, 1], scalars: lift), bias: nil)), inputs: [bump], name: "lift")
            let y = try b.add(.add, inputs: [base, lifted], name: "y")
            return try b.build(output: y)
        }

        // The base's exact maximum of y_o − y_j (the MILP on the network without the bump),
        // and its spread over samples.
        let flat = try build(height: 0)
        let concreteFlat = Concrete(flat)
        let objective = ClauseSpec(constraints: [(coefficients, 0)])  // value a·y = −(y_o − y_j)
        guard let oracle = MILPOracle(Torture.network(flat), lower: lower, upper: upper),
              let milp = oracle.minimise(objective, lower: lower, upper: upper, seconds: 5),
              milp.status == .optimal, let optimum = milp.objective else { return nil }
        let samples = (0..<64).map { _ in rng.point(lower, upper) }
        let values = samples.compactMap { concreteFlat.outputs($0).map(objective.violation) }
        let spread = max(0.05, (values.max() ?? 1) - (values.min() ?? 0))
        let baseMax = -optimum
        let threshold = baseMax + rng.uniform(0.05...0.5) * spread
        guard let atPeak = concreteFlat.outputs(peak).map({ -objective.violation($0) }) else { return nil }
        let height = threshold - atPeak + rng.uniform(0.05...0.5) * spread
        let graph = try build(height: height)
        // Unsafe: y_o − y_j ≥ T, i.e. a·y ≤ −T.
        let spec = PropertySpec(regions: [(lower, upper, [ClauseSpec(constraints: [(coefficients, -threshold)])])], outputs: m)
        guard Concrete(graph).judge(peak, spec, region: 0, clause: 0) == .counterexample else { return nil }
        let describe = "planted \(i) (seed \(seed), \(convolutional ? "convolutional" : "dense"), \(n) inputs, \(s) coordinates, "
            + "width \(String(format: "%.1e", relative)), \(placement), depth \(depth))"
        return Instance(graph: graph, spec: spec, peak: peak, describe: describe)
    }

    /// A random width in `lo...hi`.
    static func rng2(_ rng: inout SeededGenerator, _ lo: Int, _ hi: Int) -> Int { rng.int(lo..<(hi + 1)) }

    /// A small residual CNN from `input` to `outputs` logits.
    static func convolutionalBase(_ b: inout GraphBuilder, input: ValueID, channels: Int, outputs: Int,
                                  rng: inout SeededGenerator) throws -> ValueID {
        func conv(_ inCh: Int, _ outCh: Int, k: Int, _ window: Window2D) -> GraphOperation {
            let scale = 1.5 / Double(inCh * k * k).squareRoot()
            return .convolution(Convolution(weight: rng.tensor([outCh, inCh, k, k], -scale...scale),
                                            bias: rng.tensor([outCh], -0.3...0.3), window: window, group: 1))
        }
        var v = try b.add(conv(channels, 3, k: 3, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))), inputs: [input], name: "conv0")
        v = try b.add(.relu, inputs: [v], name: "relu0")
        var r = try b.add(conv(3, 3, k: 3, Window2D(kernel: (3, 3), pads: (1, 1, 1, 1))), inputs: [v], name: "conv1")
        r = try b.add(.relu, inputs: [r], name: "relu1")
        v = try b.add(.add, inputs: [v, r], name: "residual")
        let flat = try b.add(.reshape([1, b.shape(of: v).elementCount]), inputs: [v], name: "base_flat")
        var y = try b.add(.linear(Linear(weight: rng.tensor([6, b.shape(of: flat)[1]], -0.5...0.5), bias: rng.tensor([6], -0.3...0.3))),
                          inputs: [flat], name: "fc0")
        y = try b.add(.relu, inputs: [y], name: "relu2")
        return try b.add(.linear(Linear(weight: rng.tensor([outputs, 6]), bias: rng.tensor([outputs]))), inputs: [y], name: "fc1")
    }
}
