import Foundation
import EvidentIR
import EvidentEval

/// A sign constraint on one ReLU neuron that holds inside a subdomain of branch and bound:
/// the pre-activation `ẑ_j` of neuron `neuron` of the ReLU whose output value is `relu` is
/// `≥ 0` (`active`) or `≤ 0` (inactive).
public struct NeuronSplit: Hashable, Sendable {
    /// The ReLU node's output value.
    public var relu: ValueID
    /// Flat index within the value (one box).
    public var neuron: Int
    public var active: Bool

    public init(relu: ValueID, neuron: Int, active: Bool) {
        self.relu = relu
        self.neuron = neuron
        self.active = active
    }

    /// `+1` for `ẑ ≥ 0`, `−1` for `ẑ ≤ 0`.
    public var sign: Double { active ? 1 : -1 }
}

/// Settings of ``BoundPropagator/finalBounds(of:lower:upper:batch:intermediate:splits:settings:)``.
public struct FinalBoundSettings: Sendable {
    /// Bound evaluations with an Adam step on the slopes and multipliers between consecutive
    /// ones; 0 or 1 evaluates the starting parameters only.
    public var iterations: Int
    /// Adam step size for the lower slopes α, first step.
    public var slopeLearningRate: Double
    /// Adam step size for the split multipliers β, first step.
    public var betaLearningRate: Double
    /// Factor applied to both step sizes after every step.
    public var learningRateDecay: Double
    /// Precision of the coefficient matrices.
    public var precision: BoundPrecision
    /// Whether the result keeps the coefficients on every ReLU output (branching heuristics).
    public var keepReluCoefficients: Bool
    /// When to stop before `iterations` (see ``EarlyStop``); by default never.
    public var earlyStop: EarlyStop

    public init(iterations: Int = 20, slopeLearningRate: Double = 0.5, betaLearningRate: Double = 0.5,
                learningRateDecay: Double = 0.9, precision: BoundPrecision = .float64, keepReluCoefficients: Bool = false,
                earlyStop: EarlyStop = EarlyStop()) {
        self.iterations = iterations
        self.slopeLearningRate = slopeLearningRate
        self.betaLearningRate = betaLearningRate
        self.learningRateDecay = learningRateDecay
        self.precision = precision
        self.keepReluCoefficients = keepReluCoefficients
        self.earlyStop = earlyStop
    }
}

/// Starting parameters of a final-bound optimisation (for example a parent subdomain's).
public struct FinalBoundStart: Sendable {
    /// Lower slopes per ReLU output value, element-major `size × rows` (rows as in the call).
    public var slopes: [ValueID: [Double]]
    /// Per row, one multiplier per split of the row's box, in the box's split order.
    public var betas: [[Double]]

    public init(slopes: [ValueID: [Double]], betas: [[Double]]) {
        self.slopes = slopes
        self.betas = betas
    }
}

/// The outcome of a final-bound computation: the number of one clean pass whose inputs are
/// all recorded here, so that an independent checker replaying the pass (with its own
/// intermediate bounds) reproduces it up to rounding.
public struct FinalBoundResult: Sendable {
    /// Lower bounds of `C y`, `batch × rows`, box by box.
    public var lower: [Double]
    /// The quantised lower slopes of the clean pass per ReLU output value, element-major
    /// `size × (batch·rows)`: byte `q` is the slope `q / 255`.
    public var slopeBytes: [ValueID: [UInt8]]
    /// The optimised (unquantised) slopes, same layout, for warm starts.
    public var slopes: [ValueID: [Double]]
    /// Per row, the multipliers of its box's splits.
    public var betas: [[Double]]
    /// Coefficients on the input of the clean pass (`inputSize × rows`, element-major).
    public var inputCoefficients: [Double]
    /// Coefficients on each ReLU output of the clean pass (`size × rows`), when asked for.
    public var reluCoefficients: [ValueID: [Double]]
    /// Bound evaluations of the optimisation (at most the settings' `iterations`; fewer
    /// after an early stop), not counting the clean pass.
    public var evaluations: Int
}

extension BoundPropagator {
    /// Bounds of every value with pre-activation bounds from CROWN (interval bounds where
    /// `options` asks for them), each box with its own split constraints: the semantics of
    /// a refreshed certificate node (Docs/certificates.md, "Bounds at a node").
    ///
    /// `known`, when given, holds bounds already established for some values (`batch × size`
    /// each, for example LP tightenings): each value's bounds are intersected with them as soon
    /// as it is reached, so later values benefit. (A certificate checker does not know them
    /// unless the certificate carries their justification.)
    public func intermediateBounds(lower: [Double], upper: [Double], batch: Int, splits: [[NeuronSplit]] = [],
                                   known: [IntervalBounds?]? = nil, options: BoundOptions = BoundOptions()) -> [IntervalBounds?] {
        precondition(lower.count == batch * inputSize && upper.count == lower.count, "intermediateBounds: box size mismatch")
        precondition(known.map { $0.count == graph.values.count } ?? true, "intermediateBounds: one entry per value")
        let box = IntervalBounds(lower: lower, upper: upper)
        let parents = batch > 1 && splits.isEmpty && options.sharesContainingBoxes ? containingBoxes(box, batch: batch) : []
        return intermediateSweep(box: box, batch: batch, options: options, previous: known, parents: parents, splits: splits).bounds
    }

    /// Lower bounds of `spec · y` over each box, with the intermediate (pre-activation) bounds
    /// given and fixed (`intermediate[v]` holds `batch × size` bounds for every ReLU operand),
    /// the lower slopes of the final rows optimised (α-CROWN) and, for boxes with split
    /// constraints, one multiplier `β ≥ 0` per split and row (β-CROWN: in the subdomain
    /// `σ ẑ_j ≥ 0`, so subtracting `β σ ẑ_j` keeps a valid lower bound).
    ///
    /// The result comes from one clean final pass with the best slopes found, quantised to
    /// bytes (`q / 255`), and the best multipliers: every number it reports can be recomputed
    /// from what it returns and the intermediate bounds. Float64 with round-to-nearest, like
    /// every bound of this module (see ``BoundPropagator``).
    public func finalBounds(of spec: LinearSpecification, lower: [Double], upper: [Double], batch: Int,
                            intermediate: [IntervalBounds?], splits: [[NeuronSplit]] = [],
                            settings: FinalBoundSettings = FinalBoundSettings(), start: FinalBoundStart? = nil) -> FinalBoundResult {
        precondition(lower.count == batch * inputSize && upper.count == lower.count, "finalBounds: box size mismatch")
        precondition(spec.coefficients.count == spec.rows * outputSize, "finalBounds: specification has wrong width")
        precondition(splits.isEmpty || splits.count == batch, "finalBounds: one split list per box")
        var optimiser = FinalBoundOptimiser(propagator: self, spec: spec, box: IntervalBounds(lower: lower, upper: upper),
                                            batch: batch, intermediate: intermediate, splits: splits, settings: settings)
        return optimiser.run(start: start)
    }
}

/// Optimises the final rows' slopes and split multipliers over fixed intermediate bounds.
///
/// The gradient is the adjoint of the backward pass (see ``AlphaCrownOptimiser``): with the
/// line choices of a pass fixed, a row's bound is `const + Λ_x · x*` at the minimising corner
/// `x*`; evaluating the relaxed network at `x*` gives `ξ` for every value, and
/// `∂L/∂α_j = Λ_j ξ_ẑj` where the coefficient `Λ_j` on the ReLU output is non-negative,
/// `∂L/∂β_i = −σ_i ξ_ẑj` for split `i` on neuron `j`. Every iterate is a valid bound; the
/// best per row is kept.
struct FinalBoundOptimiser {
    let propagator: BoundPropagator
    let initial: [Double]
    let rowBox: [Int]
    let box: IntervalBounds
    let batch: Int
    let relaxations: [ValueID: NodeRelaxation]
    let splits: [[NeuronSplit]]
    let settings: FinalBoundSettings
    /// The ReLU output values whose relaxation has an unstable neuron in some box.
    let reluValues: [ValueID]
    /// For each ReLU output value, its pre-activation.
    let preActivation: [ValueID: ValueID]

    var graph: Graph { propagator.graph }
    var rows: Int { rowBox.count }

    init(propagator: BoundPropagator, spec: LinearSpecification, box: IntervalBounds, batch: Int,
         intermediate: [IntervalBounds?], splits: [[NeuronSplit]], settings: FinalBoundSettings) {
        self.propagator = propagator
        let rows = batch * spec.rows, outputSize = propagator.outputSize
        var initial = [Double](repeating: 0, count: rows * outputSize)
        for e in 0..<outputSize {
            for r in 0..<rows { initial[e * rows + r] = spec.coefficients[(r % spec.rows) * outputSize + e] }
        }
        self.initial = initial
        rowBox = (0..<rows).map { $0 / spec.rows }
        self.box = box
        self.batch = batch
        self.splits = splits
        self.settings = settings
        var bounds = intermediate
        bounds[propagator.graph.input] = box
        relaxations = propagator.relaxations(for: bounds, batch: batch)
        var values = [ValueID](), pre = [ValueID: ValueID]()
        for node in propagator.graph.nodes where node.operation == .relu {
            pre[node.output] = node.inputs[0]
            if case .relu(let relu)? = relaxations[node.output], relu.unstable.contains(true) { values.append(node.output) }
        }
        reluValues = values
        preActivation = pre
    }

    /// One pass (per chunk, in parallel) with the given parameters: bounds, and when
    /// `gradients`, the gradients of each row's bound; always the clean-pass records.
    struct Evaluation {
        var bounds: [Double]
        var slopeGradient: [ValueID: [Double]] = [:]
        var betaGradient: [[Double]] = []
        var inputCoefficients: [Double] = []
        var reluCoefficients: [ValueID: [Double]] = [:]
    }

    func betaTerms(_ betas: [[Double]]) -> [ValueID: [BackwardPass.BetaTerm]] {
        var terms = [ValueID: [BackwardPass.BetaTerm]]()
        guard !splits.isEmpty else { return terms }
        for r in 0..<rows {
            for (i, split) in splits[rowBox[r]].enumerated() where betas[r][i] != 0 {
                terms[preActivation[split.relu]!, default: []].append(
                    .init(row: r, element: split.neuron, coefficient: -split.sign * betas[r][i]))
            }
        }
        return terms
    }

    func evaluate(slopes: [ValueID: [Double]], betas: [[Double]], gradients: Bool, record: Bool) -> Evaluation {
        let (chunk, chunks) = propagator.chunking(rows)
        var result = Evaluation(bounds: [Double](repeating: 0, count: rows))
        if gradients {
            result.slopeGradient = slopes.mapValues { [Double](repeating: 0, count: $0.count) }
            result.betaGradient = betas.map { [Double](repeating: 0, count: $0.count) }
        }
        if record || gradients { result.inputCoefficients = [Double](repeating: 0, count: propagator.inputSize * rows) }
        let terms = betaTerms(betas)
        let lock = NSLock()
        let n = propagator.inputSize
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let range = (c * chunk)..<min(rows, (c + 1) * chunk)
            var pass = BackwardPass(propagator: propagator, target: graph.output, rowBox: Array(rowBox[range]),
                                    relaxations: relaxations)
            pass.precision = settings.precision
            pass.slopes = slopes
            pass.slopeStride = rows
            pass.slopeOffset = range.lowerBound
            pass.betaTerms = terms
            pass.recordsInputCoefficients = record || gradients
            pass.recordsReluCoefficients = gradients || (record && settings.keepReluCoefficients)
            let out = pass.run(initial: .dense(columns(initial, rows: rows, Array(range))), box: box)
            var local: (alpha: [ValueID: [Double]], beta: [[Double]])? = nil
            if gradients { local = relaxedGradients(out, range: range, slopes: slopes) }
            lock.lock()
            defer { lock.unlock() }
            let width = range.count
            for (k, r) in range.enumerated() { result.bounds[r] = out.bounds[k] }
            if record || gradients {
                for i in 0..<n {
                    for (k, r) in range.enumerated() { result.inputCoefficients[i * rows + r] = out.inputCoefficients[i * width + k] }
                }
            }
            if record && settings.keepReluCoefficients {
                for (u, a) in out.reluCoefficients {
                    let size = a.count / max(width, 1)
                    if result.reluCoefficients[u] == nil { result.reluCoefficients[u] = [Double](repeating: 0, count: size * rows) }
                    result.reluCoefficients[u]!.withUnsafeMutableBufferPointer { all in
                        for e in 0..<size { for k in 0..<width { all[e * rows + range.lowerBound + k] = a[e * width + k] } }
                    }
                }
            }
            if let local {
                for (u, g) in local.alpha {
                    let size = g.count / max(width, 1)
                    result.slopeGradient[u]!.withUnsafeMutableBufferPointer { all in
                        for e in 0..<size { for k in 0..<width { all[e * rows + range.lowerBound + k] = g[e * width + k] } }
                    }
                }
                for (k, r) in range.enumerated() { result.betaGradient[r] = local.beta[k] }
            }
        }
        return result
    }

    /// The relaxed network evaluated at each row's minimising corner, and the gradients it gives.
    func relaxedGradients(_ out: BackwardPass.Output, range: Range<Int>, slopes: [ValueID: [Double]])
        -> (alpha: [ValueID: [Double]], beta: [[Double]]) {
        let width = range.count
        let n = propagator.inputSize
        let boxes = Array(rowBox[range])
        var xi = [[Double]?](repeating: nil, count: graph.values.count)
        var corner = [Double](repeating: 0, count: n * width)
        for i in 0..<n {
            for k in 0..<width {
                let base = boxes[k] * n
                corner[i * width + k] = out.inputCoefficients[i * width + k] >= 0 ? box.lower[base + i] : box.upper[base + i]
            }
        }
        xi[graph.input] = corner
        var alpha = [ValueID: [Double]]()
        let last = propagator.producers[graph.output] ?? -1
        for node in graph.nodes[0..<max(0, last)] {
            let shapes = node.inputs.map { graph.values[$0].shape }
            let outShape = graph.values[node.output].shape
            let size = outShape.elementCount
            switch node.operation {
            case .relu:
                guard case .relu(let relu)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                let a = out.reluCoefficients[node.output]
                let rowSlopes = slopes[node.output]
                var post = [Double](repeating: 0, count: size * width)
                var g = rowSlopes == nil ? [] : [Double](repeating: 0, count: size * width)
                for j in 0..<size {
                    for k in 0..<width {
                        let e = j * width + k, index = boxes[k] * size + j
                        if !relu.unstable[index] {
                            post[e] = relu.lowerSlope[index] * pre[e]
                        } else if (a?[e] ?? 0) >= 0 {
                            let slope = rowSlopes?[j * rows + range.lowerBound + k] ?? relu.lowerSlope[index]
                            post[e] = slope * pre[e]
                            if rowSlopes != nil, let a { g[e] = a[e] * pre[e] }
                        } else {
                            post[e] = relu.upperSlope[index] * pre[e] + relu.upperIntercept[index]
                        }
                    }
                }
                xi[node.output] = post
                if rowSlopes != nil { alpha[node.output] = g }
            case .maxPool:
                guard case .maxPool(let relaxation)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                var post = [Double](repeating: 0, count: size * width)
                for o in 0..<size {
                    for k in 0..<width { post[o * width + k] = pre[relaxation.winner[boxes[k] * size + o] * width + k] }
                }
                xi[node.output] = post
            default:
                xi[node.output] = Kernels.forwardColumns(node.operation, operands: node.inputs.map { xi[$0]! }, count: width,
                                                         shapes: shapes, outputShape: outShape)
            }
        }
        var beta = [[Double]]()
        for k in 0..<width {
            let b = boxes[k]
            beta.append(splits.isEmpty ? [] : splits[b].map { split in
                let pre = preActivation[split.relu]!
                return -split.sign * (xi[pre]?[split.neuron * width + k] ?? 0)
            })
        }
        return (alpha, beta)
    }

    mutating func run(start: FinalBoundStart?) -> FinalBoundResult {
        var slopes = [ValueID: [Double]]()
        for u in reluValues {
            if let warm = start?.slopes[u] {
                slopes[u] = warm
                continue
            }
            guard case .relu(let relu)? = relaxations[u] else { continue }
            let size = graph.values[u].count
            var a = [Double](repeating: 0, count: size * rows)
            for e in 0..<size { for r in 0..<rows { a[e * rows + r] = relu.lowerSlope[rowBox[r] * size + e] } }
            slopes[u] = a
        }
        var betas = start?.betas ?? (0..<rows).map { splits.isEmpty ? [] : [Double](repeating: 0, count: splits[rowBox[$0]].count) }
        var best = [Double](repeating: -.infinity, count: rows)
        var bestSlopes = slopes, bestBetas = betas
        let evaluations = max(1, settings.iterations)
        var done = 0, stale = 0
        var moments = (alpha: slopes.mapValues { [Double](repeating: 0, count: $0.count) },
                       alphaSquare: slopes.mapValues { [Double](repeating: 0, count: $0.count) },
                       beta: betas.map { [Double](repeating: 0, count: $0.count) },
                       betaSquare: betas.map { [Double](repeating: 0, count: $0.count) })
        for iteration in 0..<(evaluations > 1 ? evaluations : 0) {
            let optimise = iteration < evaluations - 1
            let evaluation = evaluate(slopes: slopes, betas: betas, gradients: optimise, record: false)
            done += 1
            var improved = [Int]()
            for r in 0..<rows where evaluation.bounds[r] > best[r] {
                best[r] = evaluation.bounds[r]
                improved.append(r)
            }
            stale = improved.isEmpty ? stale + 1 : 0
            if !improved.isEmpty {
                for (u, a) in slopes {
                    let size = a.count / max(rows, 1)
                    bestSlopes[u]!.withUnsafeMutableBufferPointer { b in
                        for e in 0..<size { for r in improved { b[e * rows + r] = a[e * rows + r] } }
                    }
                }
                for r in improved { bestBetas[r] = betas[r] }
            }
            guard optimise, !settings.earlyStop.stops(best: best, stale: stale) else { break }
            // Projected Adam ascent on the sum of the bounds.
            let step = Double(iteration + 1)
            let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
            let c1 = 1 - pow(beta1, step), c2 = 1 - pow(beta2, step)
            let decay = pow(settings.learningRateDecay, step - 1)
            let alphaRate = settings.slopeLearningRate * decay, betaRate = settings.betaLearningRate * decay
            for u in Array(slopes.keys) {
                guard let g = evaluation.slopeGradient[u] else { continue }
                var a = slopes.removeValue(forKey: u)!
                var m = moments.alpha.removeValue(forKey: u)!, s = moments.alphaSquare.removeValue(forKey: u)!
                a.withUnsafeMutableBufferPointer { a in
                    m.withUnsafeMutableBufferPointer { m in
                        s.withUnsafeMutableBufferPointer { s in
                            for i in 0..<a.count {
                                let gi = g[i]
                                if gi == 0 && m[i] == 0 { continue }
                                m[i] = beta1 * m[i] + (1 - beta1) * gi
                                s[i] = beta2 * s[i] + (1 - beta2) * gi * gi
                                a[i] = Swift.min(1, Swift.max(0, a[i] + alphaRate * (m[i] / c1) / ((s[i] / c2).squareRoot() + epsilon)))
                            }
                        }
                    }
                }
                slopes[u] = a
                moments.alpha[u] = m
                moments.alphaSquare[u] = s
            }
            for r in 0..<rows {
                for i in betas[r].indices {
                    let gi = evaluation.betaGradient[r][i]
                    moments.beta[r][i] = beta1 * moments.beta[r][i] + (1 - beta1) * gi
                    moments.betaSquare[r][i] = beta2 * moments.betaSquare[r][i] + (1 - beta2) * gi * gi
                    let update = betaRate * (moments.beta[r][i] / c1) / ((moments.betaSquare[r][i] / c2).squareRoot() + epsilon)
                    betas[r][i] = Swift.max(0, betas[r][i] + update)
                }
            }
        }
        // The clean pass: quantised best slopes and the best multipliers.
        var bytes = [ValueID: [UInt8]]()
        var quantised = [ValueID: [Double]]()
        for (u, a) in bestSlopes {
            let q = a.map { UInt8((Swift.min(1, Swift.max(0, $0)) * 255).rounded()) }
            bytes[u] = q
            quantised[u] = q.map { Double($0) / 255 }
        }
        let clean = evaluate(slopes: quantised, betas: bestBetas, gradients: false, record: true)
        return FinalBoundResult(lower: clean.bounds, slopeBytes: bytes, slopes: bestSlopes, betas: bestBetas,
                                inputCoefficients: clean.inputCoefficients, reluCoefficients: clean.reluCoefficients,
                                evaluations: done)
    }
}
