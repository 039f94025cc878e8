import Foundation
import EvidentIR
import EvidentEval
import EvidentBounds
import EvidentCertificate
import EvidentChecker
import EvidentVerification

/// How the `d + 1` boxes of an EVA map get their intermediate (pre-activation) bounds.
public enum EVAMode: String, CaseIterable, Sendable {
    /// Every `B_u` gets its own intermediate bounds, computed over `B_u`: its interval bounds,
    /// intersected with `B`'s bounds and with `B`'s CROWN rows re-concretised over `B_u`
    /// (which costs only the inputs of `u`); then its own relaxations and its own final
    /// backward pass. A feature covering more than an eighth of the input is bounded as in
    /// `independent`.
    case full
    /// Every box is bounded by itself, exactly as a one-box call would bound it (its own
    /// CROWN rows for every unstable neuron): the tightest, and 12–15 times the cost on resnet_2b.
    case independent
    /// The full box `B`'s intermediate bounds (and, for α-CROWN, its optimised slopes) are
    /// reused for every `B_u ⊂ B`, where they remain valid: one backward pass in all, each
    /// `B_u` only re-concretises `B`'s final linear bounds over its own box. Loosest, fastest.
    case reuse
}

/// Settings of an EVA computation.
public struct EVASettings: Sendable {
    /// The bound method for every box: IBP, CROWN or α-CROWN (final-row slopes optimised over
    /// CROWN intermediate bounds, so that the certificate can state them).
    public var method: BoundMethod
    public var mode: EVAMode
    /// α-CROWN: bound evaluations per box.
    public var iterations: Int
    /// Boxes per engine call in the full mode (the engine spreads each call's rows over the cores).
    public var boxesPerCall: Int
    /// Called with one line per batch of boxes and per stage.
    public var progress: (@Sendable (String) -> Void)?
    /// The hybrid mode (sampled bounds up to a layer, no guarantee), or `nil`.
    public var hybrid: HybridSettings?
    /// Working-memory budget of the bound computations in bytes (``BoundPropagator/memoryBudget``).
    public var memoryBudget: Int?

    public init(method: BoundMethod = .crown, mode: EVAMode = .full, iterations: Int = 20, boxesPerCall: Int = 512,
                progress: (@Sendable (String) -> Void)? = nil) {
        self.method = method
        self.mode = mode
        self.iterations = iterations
        self.boxesPerCall = boxesPerCall
        self.progress = progress
    }
}

/// What an EVA map is computed on: an input `x`, the perturbation box `B` around it (already
/// clipped to the valid input range; it must contain `x`), and the features (input indices,
/// all channels of each feature's pixels).
public struct EVAProblem: Sendable {
    public var center: [Double]
    public var lower: [Double]
    public var upper: [Double]
    public var features: [[Int]]
    /// The targeted variant: bound `f_t − f_c` for this class only instead of the maximum
    /// over every class `j ≠ c`.
    public var target: Int?

    public init(center: [Double], lower: [Double], upper: [Double], features: [[Int]], target: Int? = nil) {
        self.center = center
        self.lower = lower
        self.upper = upper
        self.features = features
        self.target = target
    }
}

/// Why an EVA map could not be computed.
public struct EVAError: Error, LocalizedError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var errorDescription: String? { message }
}

/// An EVA map (Fel et al., CVPR 2023): for the predicted class `c`, certified upper bounds
/// `ĀO(x, B) = max_{j≠c} max_{δ∈B} f_j(x+δ) − f_c(x+δ)` over the full box and over every
/// `B_u` (feature `u` held at `x`), and scores `ĀO(x, B) − ĀO(x, B_u)`.
public struct EVAResult: Sendable {
    /// The class the network predicts at the centre.
    public var predicted: Int
    /// The classes `j` whose margins `f_j − f_c` are bounded (every `j ≠ c`, or the target).
    public var classes: [Int]
    /// The targeted variant's class, or `nil`.
    public var target: Int?
    /// The network's outputs at the centre.
    public var outputs: [Double]
    /// Per box (box 0 is `B`, box `1 + u` is `B_u`), per class of ``classes``: the certified
    /// upper bound of `f_j − f_c` over the box (the larger of the engine's bound and the
    /// checker's recomputation, so every number is one the checker accepts).
    public var marginBounds: [[Double]]
    /// The same bounds as the engine computed them (Float64, before the checker).
    public var engineMarginBounds: [[Double]]
    /// `ĀO(x, B)`: the largest margin bound of box 0.
    public var aoFull: Double
    /// `ĀO(x, B_u)` per feature.
    public var aoMasked: [Double]
    /// `aoFull − aoMasked[u]` per feature.
    public var scores: [Double]
    /// The bound claims behind every number: box 0 is `B`; the claim of feature `u` and
    /// class `classes[k]` is number `(1 + u) · classes.count + k`, its region `B` with `u`'s
    /// inputs fixed at the centre.
    public var claims: BoundClaims
    /// Whether the in-process checker recomputed every claim soundly (the map is certified).
    public var certified: Bool
    /// Why the checker could not recompute the claims, when it could not.
    public var checkReason: String?
    public var boundSeconds: Double
    public var checkSeconds: Double
}

/// EVA attribution maps with certified bounds.
public enum EVA {
    /// Computes the map of `problem` on `network` (see ``EVAResult``).
    public static func explain(network: Network, problem: EVAProblem, settings: EVASettings = EVASettings(),
                               propagator: BoundPropagator? = nil) throws -> EVAResult {
        let graph = network.graph
        let n = graph.values[graph.input].count, outputs = graph.values[graph.output].count
        guard problem.center.count == n, problem.lower.count == n, problem.upper.count == n else {
            throw EVAError("the input has \(problem.center.count) numbers and the box \(problem.lower.count); the network takes \(n)")
        }
        for i in 0..<n {
            let (x, l, u) = (problem.center[i], problem.lower[i], problem.upper[i])
            guard x.isFinite, l.isFinite, u.isFinite else { throw EVAError("input \(i): the centre or the box is not finite") }
            guard l <= x, x <= u else { throw EVAError("input \(i): the centre \(x) lies outside the box [\(l), \(u)]") }
        }
        for (f, feature) in problem.features.enumerated() {
            guard !feature.isEmpty, feature.allSatisfy({ $0 >= 0 && $0 < n }) else {
                throw EVAError("feature \(f) is empty or names an input the network lacks")
            }
        }
        let y = try Evaluator(graph: graph).evaluate(problem.center)
        let c = y.indices.max { y[$0] < y[$1] || (y[$0] == y[$1] && $0 > $1) } ?? 0
        let classes: [Int]
        if let t = problem.target {
            guard t >= 0, t < outputs, t != c else {
                throw EVAError("--target \(t): the class must be one of 0..<\(outputs) other than the predicted class \(c)")
            }
            classes = [t]
        } else {
            guard outputs >= 2 else { throw EVAError("the network has one output: there is no other class to compare with") }
            classes = (0..<outputs).filter { $0 != c }
        }
        // The margins f_j − f_c; the engine bounds the rows e_c − e_j from below (the negation).
        let margins = classes.map { j -> [Double] in
            var row = [Double](repeating: 0, count: outputs)
            row[j] = 1
            row[c] = -1
            return row
        }
        let spec = LinearSpecification(rows: classes.count, coefficients: margins.flatMap { $0 }).negated
        /// The result for margin bounds per box (box 0: B).
        func result(_ bounds: [[Double]], engine: [[Double]], claims: BoundClaims, certified: Bool, reason: String?,
                    boundSeconds: Double, checkSeconds: Double) -> EVAResult {
            let ao = bounds.map { $0.max() ?? -.infinity }
            return EVAResult(predicted: c, classes: classes, target: problem.target, outputs: y, marginBounds: bounds,
                             engineMarginBounds: engine, aoFull: ao[0], aoMasked: Array(ao.dropFirst()),
                             scores: ao.dropFirst().map { ao[0] - $0 }, claims: claims, certified: certified, checkReason: reason,
                             boundSeconds: boundSeconds, checkSeconds: checkSeconds)
        }
        let start = Date()
        if let hybrid = settings.hybrid {
            guard hybrid.samples >= 1 else { throw EVAError("--samples must be at least 1") }
            let cut = try GraphCut(graph, at: hybrid.layer)
            let boxes = try Engine.sampledBoxes(prefix: cut.prefix, boxes: problem.features.count + 1,
                                                box: { Engine.inputBox(problem, $0) }, center: problem.center,
                                                settings: hybrid, progress: settings.progress)
            let suffix = BoundPropagator(graph: cut.suffix)
            suffix.memoryBudget = settings.memoryBudget
            var engine = Engine(propagator: suffix, problem: problem, spec: spec, settings: settings)
            engine.cutBoxes = boxes
            let computed = try engine.run()
            return result(computed.upper, engine: computed.upper, claims: BoundClaims(slopeLayers: [], boxes: [], claims: []),
                          certified: false,
                          reason: "hybrid mode: the values of '\(hybrid.layer)' are bounded by \(hybrid.samples + 1) sampled "
                            + "inputs per box, which can miss their extremes, so no bound is guaranteed",
                          boundSeconds: Date().timeIntervalSince(start), checkSeconds: 0)
        }
        let propagator = propagator ?? BoundPropagator(graph: graph)
        if let budget = settings.memoryBudget { propagator.memoryBudget = budget }
        var engine = Engine(propagator: propagator, problem: problem, spec: spec, settings: settings)
        let computed = try engine.run()
        let boundSeconds = Date().timeIntervalSince(start)

        // The claims, then the checker's recomputation of every one.
        let boxes = problem.features.count + 1
        var claimList = [BoundClaim]()
        claimList.reserveCapacity(boxes * classes.count)
        for b in 0..<boxes {
            let overrides = b == 0 ? [] : problem.features[b - 1].map {
                BoxOverride(index: UInt32($0), lower: problem.center[$0], upper: problem.center[$0])
            }
            for (k, row) in margins.enumerated() {
                claimList.append(BoundClaim(box: 0, overrides: overrides, coefficients: row, sense: .atMost,
                                            value: computed.upper[b][k], slopes: computed.slopes?[b][k],
                                            reuseBaseIntermediates: settings.mode == .reuse && b > 0,
                                            sharesBaseRows: settings.mode == .full && b > 0
                                                && BoundPropagator.mayShare(differing: problem.features[b - 1].count, inputs: n)))
            }
        }
        var claims = BoundClaims(slopeLayers: computed.layout?.slopeLayers ?? [],
                                 boxes: [Box(lower: problem.lower, upper: problem.upper)], claims: claimList)
        settings.progress?("checking \(claimList.count) bound claims with sound arithmetic")
        let checked = Checker.certifiedBounds(claims, network: network)
        var certified = checked.reason == nil
        var bounds = computed.upper
        if certified {
            for b in 0..<boxes {
                for k in classes.indices {
                    let i = b * classes.count + k
                    // Any value at or above the recomputed bound is a valid claim.
                    let value = max(computed.upper[b][k], checked.values[i])
                    guard value.isFinite else { certified = false; continue }
                    bounds[b][k] = value
                    claims.claims[i].value = value
                }
            }
        }
        return result(bounds, engine: computed.upper, claims: claims, certified: certified, reason: checked.reason,
                      boundSeconds: boundSeconds, checkSeconds: checked.statistics.seconds)
    }
}

/// The engine side of an EVA computation: upper bounds of every margin over every box.
struct Engine {
    let propagator: BoundPropagator
    let problem: EVAProblem
    let spec: LinearSpecification
    let settings: EVASettings

    struct Output {
        /// Per box, per class: upper bound of the margin.
        var upper: [[Double]]
        /// α-CROWN: per box, per class, the claim's slope bytes (`nil`: default slopes).
        var slopes: [[[UInt8]?]]?
        var layout: SlopeLayout?
    }

    /// Hybrid mode: the sampled boxes of every box at the cut (`boxCount × n` each), the
    /// propagator being the suffix graph's.
    var cutBoxes: (lower: [Double], upper: [Double])? = nil

    var n: Int { propagator.graph.values[propagator.graph.input].count }
    var boxCount: Int { problem.features.count + 1 }

    /// Box `b` (0: `B`; `1 + u`: `B_u`), at the cut in the hybrid mode.
    func box(_ b: Int) -> (lower: [Double], upper: [Double]) {
        if let cut = cutBoxes { return (Array(cut.lower[(b * n)..<((b + 1) * n)]), Array(cut.upper[(b * n)..<((b + 1) * n)])) }
        return Engine.inputBox(problem, b)
    }

    /// Box `b` of the problem in input space.
    static func inputBox(_ problem: EVAProblem, _ b: Int) -> (lower: [Double], upper: [Double]) {
        var l = problem.lower, u = problem.upper
        if b > 0 {
            for i in problem.features[b - 1] {
                l[i] = problem.center[i]
                u[i] = problem.center[i]
            }
        }
        return (l, u)
    }

    mutating func run() throws -> Output {
        switch (settings.mode, settings.method) {
        case (.reuse, .ibp):
            throw EVAError("the reuse mode needs CROWN or alpha-CROWN: with IBP every bound would be the full box's")
        case (.reuse, _) where cutBoxes != nil:
            throw EVAError("the hybrid mode needs the full or independent mode: sampled boxes at the cut do not nest")
        case (.reuse, _):
            return reuse()
        case (.full, .ibp), (.independent, _):
            return batched(sharing: false)
        case (.full, _):
            return batched(sharing: true)
        }
    }

    /// The boxes in calls of `boxesPerCall`; with `sharing`, every call starts with `B`, so
    /// that the engine re-concretises `B`'s rows for the boxes inside it.
    func batched(sharing: Bool) -> Output {
        let rows = spec.rows
        var upper = [[Double]](repeating: [], count: boxCount)
        var slopes: [[[UInt8]?]]? = settings.method == .alphaCrown ? Array(repeating: [], count: boxCount) : nil
        var layout: SlopeLayout?
        var options = BoundOptions(method: settings.method == .alphaCrown ? .crown : settings.method)
        options.sharesContainingBoxes = sharing
        let per = max(1, settings.boxesPerCall)
        var done = 0
        var next = 0
        while next < boxCount {
            // With sharing, box 0 (B) leads every call; its result is kept from the first.
            var members = sharing && next > 0 ? [0] : []
            let fresh = Array(next..<min(boxCount, next + per))
            members += fresh
            next += fresh.count
            var lower = [Double](), upperBox = [Double]()
            lower.reserveCapacity(members.count * n)
            upperBox.reserveCapacity(members.count * n)
            for b in members {
                let (l, u) = box(b)
                lower += l
                upperBox += u
            }
            let keep = Set(fresh)
            if settings.method == .alphaCrown {
                let intermediate = propagator.intermediateBounds(lower: lower, upper: upperBox, batch: members.count, options: options)
                // The slope neurons: those unstable over B, the first call's box 0 (a neuron
                // stable on B is stable on every B_u).
                if layout == nil { layout = SlopeLayout(graph: propagator.graph, bounds: intermediate) }
                let result = propagator.finalBounds(of: spec, lower: lower, upper: upperBox, batch: members.count,
                                                    intermediate: intermediate,
                                                    settings: FinalBoundSettings(iterations: settings.iterations))
                for (m, b) in members.enumerated() where keep.contains(b) {
                    upper[b] = (0..<rows).map { -result.lower[m * rows + $0] }
                    slopes![b] = (0..<rows).map { s in
                        layout!.bytes(result.slopeBytes, rows: members.count * rows, column: m * rows + s, defaults: intermediate)
                    }
                }
            } else {
                let result = propagator.bounds(of: spec, lower: lower, upper: upperBox, batch: members.count, options: options)
                for (m, b) in members.enumerated() where keep.contains(b) {
                    upper[b] = (0..<rows).map { -result.lower[m * rows + $0] }
                }
            }
            done += fresh.count
            settings.progress?("EVA: \(done) of \(boxCount) boxes bounded (\(settings.method.rawValue), \(settings.mode.rawValue) mode)")
        }
        return Output(upper: upper, slopes: slopes, layout: layout)
    }

    /// `B`'s intermediate bounds and final linear bounds, re-concretised over every `B_u`.
    func reuse() -> Output {
        let rows = spec.rows
        let (l, u) = box(0)
        let intermediate = propagator.intermediateBounds(lower: l, upper: u, batch: 1)
        let iterations = settings.method == .alphaCrown ? settings.iterations : 1
        let result = propagator.finalBounds(of: spec, lower: l, upper: u, batch: 1, intermediate: intermediate,
                                            settings: FinalBoundSettings(iterations: iterations))
        let a = result.inputCoefficients  // n × rows, element-major
        var upper = [[Double]](repeating: [], count: boxCount)
        upper[0] = (0..<rows).map { -result.lower[$0] }
        for (f, feature) in problem.features.enumerated() {
            var bound = Array(result.lower.prefix(rows))
            for i in feature {
                let x = problem.center[i]
                for r in 0..<rows {
                    let w = a[i * rows + r]
                    // Replace the box corner's term min(w·l, w·u) by the fixed value w·x.
                    bound[r] += w * x - min(w * l[i], w * u[i])
                }
            }
            upper[f + 1] = bound.map { -$0 }
        }
        settings.progress?("EVA: \(boxCount) boxes bounded (\(settings.method.rawValue), reuse mode)")
        var slopes: [[[UInt8]?]]?, layout: SlopeLayout?
        if settings.method == .alphaCrown {
            let slopeLayout = SlopeLayout(graph: propagator.graph, bounds: intermediate)
            let perClass = (0..<rows).map { s in slopeLayout.bytes(result.slopeBytes, rows: rows, column: s, defaults: intermediate) }
            slopes = Array(repeating: perClass, count: boxCount)
            layout = slopeLayout
        }
        return Output(upper: upper, slopes: slopes, layout: layout)
    }
}
