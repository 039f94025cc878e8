import Evident
import EvidentTestSupport
import Foundation
import Testing

/// Differential testing of `verify` on seeded random networks and properties against an
/// exact MILP decision (GLPK) and dense sampling.
///
/// Each instance draws a network (dense, convolutional, residual, or convolutional with
/// pooling), a box (or two boxes: a property with two regions) and a property of one of
/// four forms (robustness `y_c − y_j ≤ d_j` over `j ≠ c`, one constraint, a conjunction,
/// two clauses of up to two constraints). Thresholds are placed from the clause's minimum,
/// found by the MILP (by sampling for pooled networks), so that every category occurs:
/// clearly false, false by a hair (1e-9 to 1e-3 of the clause's spread), true by a hair, and
/// clearly true. A "false" instance is false by construction: the minimiser found, evaluated
/// concretely (exactly, in dyadic rationals, where the network allows it), violates the
/// property by `δ`.
///
/// Failures, each with the instance's seed:
/// - an `unsat` contradicted by a concrete counterexample (the planted minimiser, the MILP's
///   incumbent, any of the sampled points or a fresh PGD attack), judged exactly or with a
///   margin far above Float64 rounding;
/// - a `sat` whose witness does not violate the property concretely;
/// - an accepted certificate for a false property: every `unsat` certificate is checked
///   again against its "false twin", the property with one clause's thresholds moved just
///   past the best point known (exactly onto it, in exact arithmetic, where possible), where
///   that point is a counterexample; the checker must reject it.
@Suite("Torture: differential runs against MILP and sampling")
struct DifferentialTests {
    /// The category an instance's thresholds were drawn for.
    enum Target: String, CaseIterable {
        case clearlyFalse = "false", nearFalse = "false by a hair", nearTrue = "true by a hair", clearlyTrue = "true"

        /// Drawn 25% clearly false, 20% false by a hair, 20% true by a hair, 35% clearly true.
        static func draw(_ rng: inout SeededGenerator) -> Target {
            let u = rng.uniform(0...1)
            return u < 0.25 ? .clearlyFalse : u < 0.45 ? .nearFalse : u < 0.65 ? .nearTrue : .clearlyTrue
        }
    }

    /// What the oracles say about an instance.
    enum Truth: String { case `false`, `true`, undecided }

    struct Outcome {
        var kind: TortureNetworks.Kind
        var target: Target
        var truth: Truth
        var verdict: Verdict
        var failures: [String] = []
        var wrongUnsat = false, wrongSat = false, acceptedFalse = false
        var twinsRejected = 0
        var twins = 0
        var ambiguous = 0
        var oracleDisagreement: String? = nil
        var seconds = 0.0
        var verifySeconds = 0.0
    }

    static let count = Torture.size(ci: 160, full: 6000)
    static let baseSeed: UInt64 = 0x70_27_00_00

    @Test func differentialAgainstMILPAndSampling() throws {
        let start = Date()
        let outcomes = Torture.parallelMap(Self.count) { i in Self.instance(i) }
        var failures = [String]()
        var verdicts = [Verdict: Int](), truths = [Truth: Int](), byKind = [String: [Verdict: Int]]()
        var agree = 0, decided = 0, twins = 0, twinsRejected = 0, ambiguous = 0, disagreements = [String]()
        var matrix = [String: Int]()
        for o in outcomes {
            failures += o.failures
            verdicts[o.verdict, default: 0] += 1
            truths[o.truth, default: 0] += 1
            byKind[o.kind.rawValue, default: [:]][o.verdict, default: 0] += 1
            matrix["\(o.truth.rawValue)/\(o.verdict.rawValue)", default: 0] += 1
            if o.truth != .undecided && (o.verdict == .sat || o.verdict == .unsat) {
                decided += 1
                if (o.truth == .false) == (o.verdict == .sat) { agree += 1 }
            }
            twins += o.twins
            twinsRejected += o.twinsRejected
            ambiguous += o.ambiguous
            if let d = o.oracleDisagreement { disagreements.append(d) }
        }
        func counts(_ v: [Verdict: Int]) -> String { Verdict.allCases.map { "\($0.rawValue) \(v[$0, default: 0])" }.joined(separator: ", ") }
        let wrongUnsat = outcomes.filter(\.wrongUnsat).count
        let wrongSat = outcomes.filter(\.wrongSat).count
        let acceptedFalse = outcomes.filter(\.acceptedFalse).count
        Torture.report("differential: \(outcomes.count) instances (\(counts(verdicts))) in \(Torture.seconds(since: start)) s "
                       + "(per instance \(String(format: "%.2f", outcomes.map(\.seconds).reduce(0, +) / Double(max(1, outcomes.count)))) s, "
                       + "of which verify \(String(format: "%.2f", outcomes.map(\.verifySeconds).reduce(0, +) / Double(max(1, outcomes.count)))) s)")
        for kind in TortureNetworks.Kind.allCases {
            Torture.report("differential \(kind.rawValue): \(counts(byKind[kind.rawValue] ?? [:]))")
        }
        Torture.report("differential truth: false \(truths[.false, default: 0]), true \(truths[.true, default: 0]), "
                       + "undecided \(truths[.undecided, default: 0]); truth/verdict \(matrix.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        Torture.report("differential agreement: \(agree) of \(decided) decided sat/unsat answers agree with the oracle; "
                       + "wrong unsat \(wrongUnsat), wrong sat \(wrongSat), certificates accepted for a false twin \(acceptedFalse); "
                       + "false twins rejected \(twinsRejected) of \(twins); ambiguous points \(ambiguous); oracle disagreements \(disagreements.count)")
        for d in disagreements.prefix(5) { Torture.report("differential oracle disagreement: \(d)") }
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
        #expect(twinsRejected == twins)
        // The instances must exercise both answers (otherwise the test is weak).
        #expect(verdicts[.sat, default: 0] >= Self.count / 10 && verdicts[.unsat, default: 0] >= Self.count / 10, "\(counts(verdicts))")
    }

    /// Draws, decides and checks instance `i`.
    static func instance(_ i: Int) -> Outcome {
        let started = Date()
        var outcome = decide(i)
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    static func decide(_ i: Int) -> Outcome {
        let seed = baseSeed &+ UInt64(i)
        var rng = SeededGenerator(seed: seed &* 0x9E37_79B9)
        let kind = TortureNetworks.kind(i)
        let target = Target.draw(&rng)
        var outcome = Outcome(kind: kind, target: target, truth: .undecided, verdict: .unknown)
        let place = "instance \(i) (seed \(seed), \(kind.rawValue), \(target.rawValue))"
        guard let graph = try? TortureNetworks.graph(kind, seed: seed, rng: &rng) else {
            outcome.failures.append("\(place): the network could not be built")
            return outcome
        }
        let network = Torture.network(graph)
        let concrete = Concrete(graph)
        let n = graph.values[graph.input].count, m = graph.outputShape.elementCount

        // Boxes: one, or (dense networks, sometimes) two halves of one split at a point.
        var boxes = [TortureNetworks.box(kind, inputs: n, rng: &rng)]
        if kind == .dense && rng.uniform(0...1) < 0.2, let d = boxes[0].lower.indices.first(where: { boxes[0].lower[$0] < boxes[0].upper[$0] }) {
            let t = rng.uniform(boxes[0].lower[d]...boxes[0].upper[d])
            var low = boxes[0], high = boxes[0]
            low.upper[d] = t
            high.lower[d] = t
            boxes = [low, high]
        }
        // Clause shapes: coefficient rows per clause.
        let centre = zip(boxes[0].lower, boxes[0].upper).map { ($0 + $1) / 2 }
        let yc = concrete.outputs(centre) ?? [Double](repeating: 0, count: m)
        let form = rng.int(0..<4)
        var shapes = [[[Double]]]()
        func randomRow() -> [Double] {
            var row = [Double](repeating: 0, count: m)
            for j in 0..<m where rng.uniform(0...1) < 0.6 { row[j] = [-2, -1, -0.5, 0.5, 1, 2][rng.int(0..<6)] }
            if row.allSatisfy({ $0 == 0 }) { row[rng.int(0..<m)] = 1 }
            return row
        }
        switch form {
        case 0:
            let c = yc.indices.max { yc[$0] < yc[$1] } ?? 0
            shapes = (0..<m).filter { $0 != c }.map { j in
                var row = [Double](repeating: 0, count: m)
                row[c] = 1
                row[j] = -1
                return [row]
            }
        case 1: shapes = [[randomRow()]]
        case 2: shapes = [(0..<rng.int(2..<4)).map { _ in randomRow() }]
        default: shapes = (0..<2).map { _ in (0..<rng.int(1..<3)).map { _ in randomRow() } }
        }

        // Thresholds: each clause's minimum found, then moved by δ.
        let samplesPerBox = Torture.size(ci: 96, full: 512)
        var regions = [(lower: [Double], upper: [Double], clauses: [ClauseSpec])]()
        var minimisers = [[[Double]]]()  // per region, per clause: the best point known
        var milpTrue = [[Bool]]()         // per region, per clause: the MILP says it holds with room
        var scales = [[Double]]()
        var allPoints = [[Double]]()
        let pairs = boxes.indices.flatMap { r in shapes.indices.map { (r, $0) } }
        let hair = pairs[rng.int(0..<pairs.count)]
        for (r, box) in boxes.enumerated() {
            var points = (0..<samplesPerBox).map { _ in rng.point(box.lower, box.upper) }
            points += (0..<min(16, 1 << min(n, 4))).map { _ in rng.corner(box.lower, box.upper) }
            allPoints += points
            let ys = concrete.outputs(of: points)
            let oracle = kind == .pooled ? nil : MILPOracle(network, lower: box.lower, upper: box.upper)
            var clauses = [ClauseSpec](), bests = [[Double]](), holds = [Bool](), clauseScales = [Double]()
            for (c, rows) in shapes.enumerated() {
                // Initial thresholds: each constraint's sampled minimum plus part of its spread.
                var constraints = [(coefficients: [Double], bound: Double)]()
                for row in rows {
                    let one = ClauseSpec(constraints: [(row, 0)])
                    let values = ys.compactMap { $0.map(one.violation) }
                    let lo = values.min() ?? 0, hi = values.max() ?? 1
                    constraints.append((row, lo + rng.uniform(0...0.5) * max(1e-3, hi - lo)))
                }
                var clause = ClauseSpec(constraints: constraints)
                var best = bestPoint(points, ys, clause)
                let sampled = best
                let spread = max(1e-3, (ys.compactMap { $0.map(clause.violation) }.max() ?? 1) - (best?.value ?? 0))
                var milp: (status: MILPStatus, objective: Double?, input: [Double]?)? = nil
                if let oracle {
                    milp = oracle.minimise(clause, lower: box.lower, upper: box.upper, seconds: Torture.full ? 5 : 2)
                    if let x = milp?.input, let y = concrete.outputs(x) {
                        let v = clause.violation(y)
                        if best == nil || v < best!.value { best = (x, v) }
                    }
                    // Sanity of the oracle: no sample may beat its optimum by more than its tolerances.
                    if let milp, milp.status == .optimal, let objective = milp.objective, let b = sampled, b.value < objective - 1e-4 * spread {
                        outcome.oracleDisagreement = "\(place): a point has clause value \(b.value), below the MILP optimum \(objective)"
                    }
                } else if var b = best {
                    // No MILP: refine the best sample by a few rounds of random local search.
                    var step = 0.25
                    for _ in 0..<Torture.size(ci: 6, full: 20) {
                        let tries = (0..<16).map { _ in b.x.indices.map { k in
                            min(max(b.x[k] + step * (box.upper[k] - box.lower[k]) * rng.uniform(-1...1), box.lower[k]), box.upper[k]) } }
                        if let better = bestPoint(concrete, tries, clause), better.value < b.value { b = better } else { step /= 2 }
                    }
                    best = b
                }
                guard let found = best else {
                    outcome.failures.append("\(place): no point of the box could be evaluated")
                    return outcome
                }
                // δ > 0: `found` violates the clause by δ; δ < 0: the minimum is about −δ (for
                // pooled networks, whose minimum is only sampled, "true" thresholds go lower).
                let delta: Double
                let below = kind == .pooled ? 0.3...1.0 : 0.02...0.5
                let isHair = (r, c) == hair
                switch target {
                case .clearlyFalse: delta = isHair ? rng.uniform(0.02...0.5) * spread : rng.uniform(-0.5...0.1) * spread
                case .nearFalse: delta = isHair ? rng.logUniform(1e-9, 1e-3) * spread : -rng.uniform(below) * spread
                case .nearTrue: delta = -(isHair ? rng.logUniform(1e-9, 1e-3) : rng.uniform(below)) * spread
                case .clearlyTrue: delta = -rng.uniform(below) * spread
                }
                clause = clause.shifted(by: found.value + delta)
                // The MILP's optimum, moved by the same shift, shows the clause holds when it
                // stays above GLPK's tolerances.
                let shiftedOptimum = milp.flatMap { $0.status == .optimal ? $0.objective : nil }.map { $0 - found.value - delta }
                holds.append(shiftedOptimum.map { $0 > 1e-4 * spread } ?? false)
                clauses.append(clause)
                bests.append(found.x)
                clauseScales.append(spread)
            }
            regions.append((box.lower, box.upper, clauses))
            minimisers.append(bests)
            milpTrue.append(holds)
            scales.append(clauseScales)
        }
        let spec = PropertySpec(regions: regions, outputs: m)
        let property = spec.property

        // The truth, as far as the oracles know it.
        var known: (x: [Double], region: Int, clause: Int)? = nil
        for (r, bests) in minimisers.enumerated() {
            for (c, x) in bests.enumerated() where known == nil {
                switch concrete.judge(x, spec, region: r, clause: c) {
                case .counterexample: known = (x, r, c)
                case .ambiguous: outcome.ambiguous += 1
                case .safe: break
                }
            }
        }
        if known != nil {
            outcome.truth = .false
        } else if kind != .pooled && milpTrue.allSatisfy({ $0.allSatisfy { $0 } }) {
            outcome.truth = .true
        }

        // The verifier.
        let variant = rng.int(0..<4)
        let result = TortureVerifier.run(network, property, settings: TortureVerifier.settings(variant: variant))
        outcome.verdict = result.verdict
        outcome.verifySeconds = result.seconds
        let about = "\(place), \(TortureVerifier.variantName(variant)), form \(form), \(regions.count) region(s)"
        switch result.verdict {
        case .sat:
            guard let w = result.counterexample else {
                outcome.failures.append("\(about): wrong sat: no witness")
                outcome.wrongSat = true
                break
            }
            switch concrete.judge(w.input, spec, region: w.region, clause: w.clause) {
            case .counterexample: break
            case .ambiguous: outcome.ambiguous += 1
            case .safe:
                outcome.failures.append("\(about): wrong sat: the witness \(w.input) does not violate clause \(w.clause) concretely")
                outcome.wrongSat = true
            }
            if result.check?.valid != true {
                outcome.failures.append("\(about): wrong sat: sat without an accepted witness")
                outcome.wrongSat = true
            }
            if outcome.truth == .true {
                outcome.oracleDisagreement = "\(about): sat (witness \(w.input)) where the MILP says every clause holds"
            }
        case .unsat:
            if result.check?.valid != true {
                outcome.failures.append("\(about): wrong unsat: unsat without an accepted certificate")
                outcome.wrongUnsat = true
            }
            // Look for a counterexample everywhere we can.
            var candidates = minimisers.flatMap { $0 } + allPoints
            for (r, box) in boxes.enumerated() {
                candidates += (0..<Torture.size(ci: 256, full: 2048)).map { _ in rng.point(box.lower, box.upper) }
                _ = r
            }
            let attack = Attack(graph: graph, property: property)
            if let found = attack.run(settings: AttackSettings(restarts: Torture.size(ci: 16, full: 64), steps: 40, seed: seed)) {
                candidates.append(found.input)
            }
            if let cx = concrete.firstCounterexample(candidates, spec) {
                outcome.failures.append("\(about): wrong unsat: \(cx.x) violates region \(cx.region) clause \(cx.clause)")
                outcome.wrongUnsat = true
            }
            // The false twin: one clause moved so that its best point becomes a counterexample.
            if let certificate = result.certificate {
                let (r, c) = hair
                let x = minimisers[r][c]
                var twin = spec
                if let values = concrete.exactValues(x) {
                    // Exactly onto the point: each threshold at least the exact value there.
                    let y = values[graph.output]
                    twin.regions[r].clauses[c].constraints = spec.regions[r].clauses[c].constraints.map { k in
                        var s = Dyadic.zero
                        for (j, a) in k.coefficients.enumerated() where a != 0 { s = s + Dyadic(a) * y[j] }
                        return (k.coefficients, max(k.bound, s.roundedUp))
                    }
                } else if let y = concrete.outputs(x) {
                    let v = spec.regions[r].clauses[c].violation(y)
                    twin.regions[r].clauses[c] = spec.regions[r].clauses[c].shifted(by: max(0, v) + 1e-6 * (1 + scales[r][c]))
                }
                if concrete.judge(x, twin, region: r, clause: c) == .counterexample {
                    outcome.twins += 1
                    let report = TortureVerifier.check(certificate, network, twin.property)
                    if report.valid {
                        outcome.acceptedFalse = true
                        outcome.failures.append("\(about): the unsat certificate was accepted for a false property "
                                                + "(region \(r) clause \(c) moved onto \(x))")
                    } else {
                        outcome.twinsRejected += 1
                    }
                }
            }
            if outcome.truth == .false {
                outcome.failures.append("\(about): wrong unsat: the planted minimiser is a counterexample")
                outcome.wrongUnsat = true
            }
        case .unknown, .timeout:
            break
        }
        return outcome
    }
}
