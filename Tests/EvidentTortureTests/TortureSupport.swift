import BigInt
import Evident
import EvidentTestSupport
import Foundation

// Shared machinery of the soundness torture suite: its two sizes, the summary lines
// scripts/torture.sh collects, exact and floating-point concrete evaluation, the verifier
// and checker as the suite calls them, and an exact MILP oracle through GLPK.

/// The suite's two sizes: the reduced CI form (the default, part of `swift test`) and the
/// full form (`EVIDENT_TORTURE=full`, run by `scripts/torture.sh` in release mode).
enum Torture {
    static let full = ProcessInfo.processInfo.environment["EVIDENT_TORTURE"] == "full"

    /// `ci` in the default form, `full` in the full one.
    static func size(ci: Int, full f: Int) -> Int { full ? f : ci }

    /// The verifier's time limit per instance, seconds: small, so a full run stays bounded.
    static var verifierTimeout: Double { full ? 2 : 1 }

    /// Instances run concurrently (each verifier run also uses both cores for its check).
    static var workers: Int { 2 }

    static let modelDigest = [UInt8](repeating: 0xA5, count: 32)
    static let propertyDigest = [UInt8](repeating: 0x5A, count: 32)

    /// Prints one summary line (`TORTURE ...`, collected by scripts/torture.sh) and appends it
    /// to `$EVIDENT_TORTURE_REPORT` when that is set.
    static func report(_ line: String) {
        let text = "TORTURE \(line)"
        print(text)
        guard let path = ProcessInfo.processInfo.environment["EVIDENT_TORTURE_REPORT"] else { return }
        reportLock.lock()
        defer { reportLock.unlock() }
        if let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data((text + "\n").utf8))
            handle.closeFile()
        }
    }
    private static let reportLock = NSLock()

    static func network(_ graph: Graph, _ name: String = "torture") -> Network {
        Network(graph: graph, source: name, format: "memory", sourceOperatorCounts: [:], parameterCount: 0)
    }

    /// Runs `body` for every index of `0..<count` on ``workers`` threads, results in index order.
    static func parallelMap<T>(_ count: Int, _ body: @escaping (Int) -> T) -> [T] {
        let slots = Slots<T>(count)
        let w = max(1, min(workers, count))
        DispatchQueue.concurrentPerform(iterations: w) { worker in
            var i = worker
            while i < count {
                let value = body(i)
                slots.lock.lock()
                slots.values[i] = value
                slots.lock.unlock()
                i += w
            }
        }
        return slots.values.map { $0! }
    }

    final class Slots<T>: @unchecked Sendable {
        var values: [T?]
        let lock = NSLock()
        init(_ n: Int) { values = [T?](repeating: nil, count: n) }
    }

    /// Seconds since `start` (a `Date`).
    static func seconds(since start: Date) -> String { String(format: "%.1f", Date().timeIntervalSince(start)) }
}

// MARK: - Properties built in code

/// One clause's constraints `a_k · y ≤ d_k`, in the form the suite manipulates.
struct ClauseSpec {
    var constraints: [(coefficients: [Double], bound: Double)]

    /// `max_k (a_k · y − d_k)`: `≤ 0` exactly when `y` satisfies the clause (floating point).
    func violation(_ y: [Double]) -> Double {
        constraints.map { c in zip(c.coefficients, y).reduce(0) { $0 + $1.0 * $1.1 } - c.bound }.max() ?? -.infinity
    }

    /// The same clause with every threshold raised by `shift` (the clause value drops by it).
    func shifted(by shift: Double) -> ClauseSpec {
        ClauseSpec(constraints: constraints.map { ($0.coefficients, $0.bound + shift) })
    }

    var outputClause: OutputClause {
        OutputClause(constraints: constraints.map { c in
            LinearConstraint(terms: c.coefficients.enumerated().compactMap { j, a in
                a == 0 ? nil : LinearConstraint.Term(output: j, coefficient: a)
            }, bound: c.bound)
        })
    }
}

/// A property as regions of boxes with clause lists (every number exactly a double, so the
/// inner and outer boxes and thresholds coincide).
struct PropertySpec {
    var regions: [(lower: [Double], upper: [Double], clauses: [ClauseSpec])]
    var outputs: Int

    var property: Property {
        Property(inputCount: regions[0].lower.count, outputCount: outputs,
                 regions: regions.map { InputRegion(lower: $0.lower, upper: $0.upper, clauses: $0.clauses.map(\.outputClause)) },
                 source: "torture")
    }
}

// MARK: - Concrete evaluation

/// Concrete evaluation, exact where the network allows it: dense, convolutional and residual
/// networks of affine operations and ReLUs are evaluated in exact dyadic rationals (every
/// double is one, and sums and products of dyadics stay dyadic); networks with a division or
/// an average are evaluated in Float64 and judged with a margin.
struct Concrete {
    let graph: Graph
    let evaluator: Evaluator
    /// Whether ``exactOutputs(_:)`` supports every operation of the graph.
    let exact: Bool

    init(_ graph: Graph) {
        self.graph = graph
        evaluator = Evaluator(graph: graph)
        exact = graph.nodes.allSatisfy { node in
            switch node.operation {
            case .linear, .relu, .add, .subtract, .reshape, .convolution, .channelAffine, .addConstant, .multiplyConstant:
                return true
            case .concat(let axis):
                return axis == 1 && node.inputs.allSatisfy { graph.values[$0].shape.first == 1 }
            default:
                return false
            }
        }
    }

    /// Float64 outputs of a batch of inputs (flattened, `batch × inputs`).
    func outputs(_ x: [Double], batch: Int = 1) -> [Double]? { try? evaluator.evaluate(x, batch: batch) }

    /// Exact outputs at `x` (nil when the graph has an operation without an exact evaluation).
    func exactOutputs(_ x: [Double]) -> [Dyadic]? {
        guard exact else { return nil }
        return exactValues(x)?[graph.output]
    }

    /// Exact values of every value of the graph at `x`.
    func exactValues(_ x: [Double]) -> [[Dyadic]]? {
        guard exact, x.allSatisfy(\.isFinite) else { return nil }
        var values = [[Dyadic]](repeating: [], count: graph.values.count)
        values[graph.input] = x.map { Dyadic($0) }
        for node in graph.nodes {
            let a = values[node.inputs[0]]
            let shape = graph.values[node.inputs[0]].shape
            switch node.operation {
            case .linear(let lin):
                let (n, m) = (lin.outFeatures, lin.inFeatures)
                let rows = a.count / m
                var out = [Dyadic]()
                for r in 0..<rows {
                    for o in 0..<n {
                        var s = Dyadic(lin.bias.scalars[o])
                        for k in 0..<m { s = s + Dyadic(lin.weight.scalars[o * m + k]) * a[r * m + k] }
                        out.append(s)
                    }
                }
                values[node.output] = out
            case .relu:
                values[node.output] = a.map { $0.signum > 0 ? $0 : .zero }
            case .add:
                values[node.output] = zip(a, values[node.inputs[1]]).map { $0 + $1 }
            case .subtract:
                values[node.output] = zip(a, values[node.inputs[1]]).map { $0 - $1 }
            case .reshape:
                values[node.output] = a
            case .concat:
                values[node.output] = node.inputs.flatMap { values[$0] }
            case .addConstant(let c):
                values[node.output] = zip(a, c.scalars).map { $0 + Dyadic($1) }
            case .multiplyConstant(let c):
                values[node.output] = zip(a, c.scalars).map { $0 * Dyadic($1) }
            case .channelAffine(let scale, let shift):
                let channels = shape[1], plane = a.count / (shape[0] * channels)
                values[node.output] = a.indices.map { i in
                    let ch = (i / plane) % channels
                    return a[i] * Dyadic(scale[ch]) + Dyadic(shift[ch])
                }
            case .convolution(let conv):
                values[node.output] = Self.convolve(conv, a, shape: shape, out: graph.values[node.output].shape)
            default:
                return nil
            }
        }
        return values
    }

    static func convolve(_ conv: Convolution, _ x: [Dyadic], shape: [Int], out: [Int]) -> [Dyadic] {
        let (c, h, w) = (shape[1], shape[2], shape[3])
        let (m, oh, ow) = (out[1], out[2], out[3])
        let cg = conv.weight.shape[1], kh = conv.weight.shape[2], kw = conv.weight.shape[3]
        let mg = m / conv.group
        let win = conv.window
        var y = [Dyadic](repeating: .zero, count: m * oh * ow)
        for o in 0..<m {
            let g = o / mg
            for i in 0..<oh {
                for j in 0..<ow {
                    var s = Dyadic(conv.bias.scalars[o])
                    for ci in 0..<cg {
                        let ch = g * cg + ci
                        guard ch < c else { continue }
                        for p in 0..<kh {
                            let r = i * win.strides.height - win.pads.top + p * win.dilations.height
                            guard r >= 0 && r < h else { continue }
                            for q in 0..<kw {
                                let col = j * win.strides.width - win.pads.left + q * win.dilations.width
                                guard col >= 0 && col < w else { continue }
                                let wv = conv.weight.scalars[((o * cg + ci) * kh + p) * kw + q]
                                if wv != 0 { s = s + Dyadic(wv) * x[(ch * h + r) * w + col] }
                            }
                        }
                    }
                    y[(o * oh + i) * ow + j] = s
                }
            }
        }
        return y
    }

    /// How certainly `x` violates the property's clause `clause` of region `region`.
    enum Verdict: Equatable {
        /// `x` is in the box and the clause holds at it: exactly, or in Float64 with a margin
        /// far above the evaluation's rounding error.
        case counterexample
        /// Within rounding of the clause's boundary (Float64 only; undecided).
        case ambiguous
        /// Not a counterexample.
        case safe
    }

    /// Judges `x` against clause `clause` of `spec`'s region `region`.
    func judge(_ x: [Double], _ spec: PropertySpec, region: Int, clause: Int) -> Verdict {
        let r = spec.regions[region]
        guard x.count == r.lower.count, x.indices.allSatisfy({ r.lower[$0] <= x[$0] && x[$0] <= r.upper[$0] }) else { return .safe }
        let c = r.clauses[clause]
        if let y = exactOutputs(x) {
            // Exact: every constraint `a·y ≤ d` with a, d doubles.
            let holds = c.constraints.allSatisfy { k in
                var s = Dyadic.zero
                for (j, a) in k.coefficients.enumerated() where a != 0 { s = s + Dyadic(a) * y[j] }
                return !(Dyadic(k.bound) < s)
            }
            return holds ? .counterexample : .safe
        }
        guard let y = outputs(x) else { return .safe }
        let v = c.violation(y)
        let scale = c.constraints.map { k in zip(k.coefficients, y).reduce(abs(k.bound)) { $0 + abs($1.0 * $1.1) } }.max() ?? 0
        let tolerance = 1e-9 * (1 + scale)
        if v <= -tolerance { return .counterexample }
        if v <= tolerance { return .ambiguous }
        return .safe
    }

    /// Float64 outputs of each point (one batched evaluation; nil entries where it fails).
    func outputs(of points: [[Double]]) -> [[Double]?] {
        guard !points.isEmpty else { return [] }
        guard let y = outputs(points.flatMap { $0 }, batch: points.count) else { return points.map { outputs($0) } }
        let m = y.count / points.count
        return points.indices.map { Array(y[($0 * m)..<(($0 + 1) * m)]) }
    }

    /// The first certain counterexample among `points` for any clause of any region: points
    /// are screened in one batched Float64 evaluation, and those within a generous margin of
    /// violating a clause are judged exactly (``judge(_:_:region:clause:)``).
    func firstCounterexample(_ points: [[Double]], _ spec: PropertySpec) -> (x: [Double], region: Int, clause: Int)? {
        let ys = outputs(of: points)
        for (x, y) in zip(points, ys) {
            for (r, region) in spec.regions.enumerated() {
                guard x.indices.allSatisfy({ region.lower[$0] <= x[$0] && x[$0] <= region.upper[$0] }) else { continue }
                for (c, clause) in region.clauses.enumerated() {
                    if let y, clause.violation(y) > 1e-6 * (1 + y.map(abs).reduce(0, +)) { continue }
                    if judge(x, spec, region: r, clause: c) == .counterexample { return (x, r, c) }
                }
            }
        }
        return nil
    }
}

// MARK: - Rounding of exact values

extension Dyadic {
    /// The smallest double `≥` this number (`+∞` past the largest finite one).
    var roundedUp: Double {
        if m == 0 { return 0 }
        // An approximation from the top 62 bits, then exact adjustment.
        let magnitude = m.magnitude
        let bits = magnitude.bitWidth
        let shift = max(0, bits - 62)
        let top = Double(UInt64(magnitude >> shift))
        var guess = (m < 0 ? -top : top) * pow(2.0, Double(e + shift))
        if !guess.isFinite { guess = m < 0 ? -.greatestFiniteMagnitude : .greatestFiniteMagnitude }
        while Dyadic(guess) < self {
            guess = guess.nextUp
            if !guess.isFinite { return .infinity }
        }
        while guess.nextDown.isFinite && !(Dyadic(guess.nextDown) < self) { guess = guess.nextDown }
        return guess
    }

    /// The largest double `≤` this number.
    var roundedDown: Double { -(-self).roundedUp }
}

// MARK: - Verifier and checker

/// The verifier as the suite runs it, with fixed digests (the checker sees the same ones).
enum TortureVerifier {
    /// A few configurations, so that every search path is exercised: the default; no MILP
    /// (branch and bound must find counterexamples itself); no LP at all (bound propagation
    /// only); ReLU splitting even for low-dimensional inputs. The timeout stretches under a
    /// sanitizer, so that instrumented code settles as many instances as the plain build does.
    static func settings(variant: Int, timeout: Double = Torture.verifierTimeout) -> VerifierSettings {
        var s = VerifierSettings(timeout: timeout * Sanitizer.slowdown)
        switch variant % 4 {
        case 1: s.milpBinaries = 0
        case 2: s.lpColumns = 0
        case 3: s.inputSplitDimensions = 0
        default: break
        }
        return s
    }

    static func variantName(_ variant: Int) -> String {
        ["default", "no MILP", "no LP", "ReLU splits only"][variant % 4]
    }

    static func run(_ network: Network, _ property: Property, settings: VerifierSettings) -> VerificationResult {
        Verifier(network: network, property: property,
                 modelBinding: FileBinding(path: "torture.onnx", sha256: Torture.modelDigest),
                 propertyBinding: FileBinding(path: "torture.vnnlib", sha256: Torture.propertyDigest),
                 settings: settings).run()
    }

    /// The checker's report on `certificate` against `property`, with the suite's digests.
    static func check(_ certificate: Certificate, _ network: Network, _ property: Property) -> CheckReport {
        Checker.check(certificate, network: network, modelDigest: Torture.modelDigest, property: property,
                      propertyDigest: Torture.propertyDigest, progress: nil)
    }
}

// MARK: - Exact MILP oracle

/// The exact decision of a clause over a box by GLPK's MILP (big-M over valid bounds of every
/// value), independent of the verifier's search.
///
/// The bounds come from the engine's CROWN pass (round-to-nearest) widened by a relative
/// 1e-6, far more than its rounding, so they are valid and the big-M encoding exact; the
/// answer is GLPK's, up to its tolerances (integrality 1e-5: a ReLU can be off by 1e-5 of
/// its range), so the suite never trusts its optimum, only the concrete value at its
/// incumbent input.
struct MILPOracle {
    let lp: NetworkLP

    init?(_ network: Network, lower: [Double], upper: [Double]) {
        let graph = network.graph
        let bounds = BoundPropagator(graph: graph).intermediateBounds(lower: lower, upper: upper, batch: 1)
        var values = [(lower: [Double], upper: [Double])]()
        for v in graph.values.indices {
            if v == graph.input {
                values.append((lower, upper))
                continue
            }
            guard let b = bounds[v], b.lower.count == graph.values[v].count,
                  b.lower.allSatisfy(\.isFinite), b.upper.allSatisfy(\.isFinite) else { return nil }
            values.append((b.lower.map { $0 - 1e-6 * (1 + abs($0)) }, b.upper.map { $0 + 1e-6 * (1 + abs($0)) }))
        }
        guard let lp = try? NetworkLP(network: network, bounds: values) else { return nil }
        self.lp = lp
    }

    /// Minimises the clause's value `max_k (a_k · y − d_k)` over the box: the status, GLPK's
    /// objective, and the incumbent input clipped to the box.
    func minimise(_ clause: ClauseSpec, lower: [Double], upper: [Double], seconds: Double)
        -> (status: MILPStatus, objective: Double?, input: [Double]?)? {
        guard let result = try? lp.milp(minimisingWorstOf: clause.constraints, timeLimit: .milliseconds(Int(seconds * 1000))) else {
            return nil
        }
        let x = result.input.map { x in x.indices.map { min(max(x[$0], lower[$0]), upper[$0]) } }
        return (result.status, result.objective, x)
    }
}

// MARK: - Sampling

extension SeededGenerator {
    /// A uniform point of a box.
    mutating func point(_ lower: [Double], _ upper: [Double]) -> [Double] {
        lower.indices.map { lower[$0] == upper[$0] ? lower[$0] : Double.random(in: lower[$0]...upper[$0], using: &self) }
    }

    /// A random corner of a box.
    mutating func corner(_ lower: [Double], _ upper: [Double]) -> [Double] {
        lower.indices.map { Bool.random(using: &self) ? lower[$0] : upper[$0] }
    }

    /// Log-uniform in `[a, b]` (both > 0).
    mutating func logUniform(_ a: Double, _ b: Double) -> Double { exp(uniform(log(a)...log(b))) }

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self) }
}

/// The smallest clause value over `points` (Float64), with its point.
func bestPoint(_ concrete: Concrete, _ points: [[Double]], _ clause: ClauseSpec) -> (x: [Double], value: Double)? {
    bestPoint(points, concrete.outputs(of: points), clause)
}

/// The smallest clause value over points whose outputs are known.
func bestPoint(_ points: [[Double]], _ outputs: [[Double]?], _ clause: ClauseSpec) -> (x: [Double], value: Double)? {
    var best: (x: [Double], value: Double)? = nil
    for (x, y) in zip(points, outputs) {
        guard let y else { continue }
        let v = clause.violation(y)
        if v.isFinite, best == nil || v < best!.value { best = (x, v) }
    }
    return best
}
