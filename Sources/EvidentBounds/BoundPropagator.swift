import Foundation
import EvidentIR
import EvidentEval

/// Which bound computation to run.
public enum BoundMethod: String, Sendable, CaseIterable {
    /// Interval bound propagation; the specification is folded into the affine layers
    /// after the last nonlinearity before intervals are applied (as auto_LiRPA does).
    case ibp
    /// Backward linear relaxation (CROWN/DeepPoly) with CROWN intermediate bounds.
    case crown
    /// CROWN with lower ReLU slopes of the final specification optimised by projected Adam.
    case alphaCrown = "alpha-crown"
}

/// The floating-point format of the coefficient matrices of the backward passes (CROWN's
/// and α-CROWN's, the bulk of the work, and IBP's folding of the specification). Interval
/// bounds, relaxation parameters, the constants of the linear bounds and their
/// concretisation are Float64 in both.
public enum BoundPrecision: String, Sendable, CaseIterable {
    /// The default. Computed bounds differ from the real-arithmetic ones by rounding of
    /// relative size 1e-16 per operation, accumulated over the graph.
    case float64
    /// Faster (OpenBLAS `sgemm`, half the memory traffic; 1.4 times on resnet_2b); rounding of
    /// relative size 6e-8 per operation, so computed bounds typically move by 1e-6
    /// relative. A verdict needs the certificate check either way.
    case float32
}

/// Settings of a bound computation.
public struct BoundOptions: Sendable {
    public var method: BoundMethod
    /// α-CROWN: number of bound evaluations, with an Adam step between consecutive ones
    /// (as auto_LiRPA counts iterations).
    public var iterations: Int
    /// α-CROWN: Adam step size of the first step.
    public var learningRate: Double
    /// α-CROWN: factor applied to the step size after every step.
    public var learningRateDecay: Double
    /// How intermediate (pre-activation) bounds are computed when `method` is CROWN or
    /// α-CROWN: `.crown` (default) or `.ibp` (cheaper, looser; for very large networks).
    public var intermediateMethod: BoundMethod
    /// The format of the backward passes' coefficient matrices.
    public var precision: BoundPrecision
    /// α-CROWN: when to stop before `iterations` (by default never).
    public var earlyStop: EarlyStop
    /// α-CROWN: which slopes are optimised (by default every target's).
    public var alphaScope: AlphaScope
    /// CROWN over several boxes: a box inside another box of the batch (differing in few
    /// coordinates) takes its intermediate bounds from that box's linear bounds,
    /// re-concretised, instead of CROWN rows of its own (see "Batching over boxes" in
    /// Docs/Bounds.md: much cheaper, sometimes looser). `false` bounds every box by itself,
    /// exactly as a one-box call would.
    public var sharesContainingBoxes: Bool = true
    /// Called with a one-line description of each step of a long computation (each
    /// pre-activation value given CROWN bounds, each α-CROWN iteration), from the calling
    /// thread.
    public var progress: (@Sendable (String) -> Void)?

    public init(method: BoundMethod = .crown, iterations: Int = 20, learningRate: Double = 0.5,
                learningRateDecay: Double = 0.9, intermediateMethod: BoundMethod = .crown,
                precision: BoundPrecision = .float64, earlyStop: EarlyStop = EarlyStop(), alphaScope: AlphaScope = .all,
                progress: (@Sendable (String) -> Void)? = nil) {
        self.method = method
        self.earlyStop = earlyStop
        self.alphaScope = alphaScope
        self.iterations = iterations
        self.learningRate = learningRate
        self.learningRateDecay = learningRateDecay
        self.intermediateMethod = intermediateMethod
        self.precision = precision
        self.progress = progress
    }

    /// Whether pre-activation bounds come from CROWN rows (else from intervals alone).
    var crownIntermediates: Bool { method != .ibp && intermediateMethod != .ibp }
}

/// When an α-CROWN optimisation stops before its iteration count. Stopping early never makes
/// a bound invalid (every iterate gives one); it only gives up what the remaining steps might
/// have added.
public struct EarlyStop: Sendable {
    /// Stop after this many consecutive bound evaluations in which no row's best bound
    /// improved (0: never; auto_LiRPA's default is 10).
    public var patience: Int
    /// Stop as soon as this returns true for the best bounds so far (one per row of the call,
    /// box-major), for example when every margin is already positive (`nil`: never).
    public var satisfied: (@Sendable ([Double]) -> Bool)?

    public init(patience: Int = 0, satisfied: (@Sendable ([Double]) -> Bool)? = nil) {
        self.patience = patience
        self.satisfied = satisfied
    }

    /// Whether to stop, with `stale` evaluations in a row that improved no row.
    func stops(best: [Double], stale: Int) -> Bool {
        (patience > 0 && stale >= patience) || (satisfied?(best) ?? false)
    }
}

/// Which slopes α-CROWN optimises.
public enum AlphaScope: String, Sendable, CaseIterable {
    /// The slopes of every bound target: the final rows and every intermediate CROWN row
    /// (the intermediate bounds tighten too; auto_LiRPA's full optimisation).
    case all
    /// The final rows' slopes only, with the intermediate bounds fixed at their CROWN values:
    /// each step is one backward pass of the final rows, much cheaper, and looser.
    case final
}

/// A linear function `C y` of the network's outputs whose lower bound is wanted:
/// `rows × outputCount` coefficients, row-major.
public struct LinearSpecification: Sendable, Equatable {
    public var rows: Int
    public var coefficients: [Double]

    public init(rows: Int, coefficients: [Double]) {
        precondition(rows > 0 && coefficients.count % rows == 0, "LinearSpecification: \(coefficients.count) coefficients for \(rows) rows")
        self.rows = rows
        self.coefficients = coefficients
    }

    /// The identity on `outputs` outputs: bounds of each output.
    public static func identity(outputs: Int) -> LinearSpecification {
        var c = [Double](repeating: 0, count: outputs * outputs)
        for i in 0..<outputs { c[i * outputs + i] = 1 }
        return LinearSpecification(rows: outputs, coefficients: c)
    }

    /// The negated specification (lower bounds of `−C y` are minus upper bounds of `C y`).
    public var negated: LinearSpecification { LinearSpecification(rows: rows, coefficients: coefficients.map { -$0 }) }
}

/// The outcome of a bound computation for a batch of boxes.
public struct BoundResult: Sendable {
    /// Lower bounds of `C y`, `batch × rows`, box by box.
    public var lower: [Double]
    /// Bounds of every value of the graph that was bounded (indexed by ``ValueID``; `nil`
    /// where not computed). Pre-activation (ReLU input) bounds are the CROWN ones when
    /// the method is CROWN or α-CROWN; other values carry interval bounds derived from them.
    public var intermediate: [IntervalBounds?]
    /// For α-CROWN: the optimised lower slopes of the final specification's rows per ReLU
    /// node output value, each `size × batch·rows`, element-major. (Replaying the bound
    /// also needs the intermediate bounds; the slopes of intermediate rows are not kept.)
    public var slopes: [ValueID: [Double]]
    /// For α-CROWN: the bound evaluations made (fewer than the iterations asked for after an
    /// early stop); 1 for IBP and CROWN.
    public var evaluations: Int = 1
    /// For α-CROWN over every target: where its time went (the first, CROWN, sweep excluded).
    public var alphaPhases: AlphaPhases? = nil
}

/// Seconds of a full α-CROWN optimisation by phase.
public struct AlphaPhases: Sendable {
    /// Sweeps of intermediate bounds with the current slopes (after the first).
    public var sweeps = 0.0
    /// The final rows' backward passes (one per evaluation, and the last with the best slopes).
    public var finalRows = 0.0
    /// The gradients: backward passes recording coefficients and the relaxed forward passes.
    public var gradients = 0.0
    /// The Adam steps.
    public var steps = 0.0
}

/// Bound propagation over a graph: IBP, CROWN and α-CROWN, batched over input boxes.
///
/// Everything is computed in Float64 with round-to-nearest. In real arithmetic every
/// bound returned is valid (the relaxations above are sound for any slopes in [0, 1]);
/// in floating point the computed numbers can differ from those real bounds by
/// rounding error (relative 1e-16 per operation, accumulated over the graph), so a
/// verdict must be confirmed by the certificate checker, which recomputes the bound
/// from the relaxation parameters with sound arithmetic.
public final class BoundPropagator: @unchecked Sendable {
    public let graph: Graph
    let absoluteParts: [GraphOperation?]
    /// Per node: the operation applied to zero operands (its constant offset), one item.
    let offsets: [[Double]?]
    let producers: [Int?]
    /// Per value: whether it is a pre-activation (the operand of a ReLU or MaxPool, produced
    /// by an affine node) whose interval bounds are not already exact in real arithmetic,
    /// so that CROWN can improve them.
    let improvableByCrown: [Bool]
    /// A budget in bytes for the working memory of bound computations (`nil`: none): the rows
    /// of backward passes are chunked so that the chunks running at once fit it, and α-CROWN
    /// optimises the final rows only (``AlphaScope/final``) when the slopes of every target
    /// would not fit. Stored results (bounds, kept coefficients) are not counted. Set it
    /// before computing bounds, not during.
    public var memoryBudget: Int?

    /// Prepares bound computations on `graph`.
    ///
    /// The propagator parallelises over chunks of specification rows itself and expects
    /// OpenBLAS to run single-threaded: executables call `ProcessSettings.configure()` once at
    /// start (see `EvidentEval`); without it results are the same, only slower.
    public init(graph: Graph) {
        self.graph = graph
        absoluteParts = graph.nodes.map { IntervalArithmetic.absoluteLinearPart($0.operation) }
        offsets = graph.nodes.map { node in
            guard node.operation.isAffine else { return nil }
            let shapes = node.inputs.map { graph.values[$0].shape }
            let zeros = shapes.map { [Double](repeating: 0, count: $0.elementCount) }
            let y = Kernels.forward(node.operation, operands: zeros, shapes: shapes,
                                    outputShape: graph.values[node.output].shape, batch: 1)
            return y.allSatisfy { $0 == 0 } ? nil : y
        }
        producers = graph.producers
        // A value is "diagonal" when elementwise maps (one operand, each output element an
        // affine function of one input element) lead to it from the input; interval bounds
        // of a diagonal value, or of one affine map applied to a diagonal value, are exact
        // in real arithmetic, so CROWN cannot improve them.
        var diagonal = [Bool](repeating: false, count: graph.values.count)
        var exact = [Bool](repeating: false, count: graph.values.count)
        var pre = [Bool](repeating: false, count: graph.values.count)
        diagonal[graph.input] = true
        exact[graph.input] = true
        for node in graph.nodes {
            let operand = node.inputs[0]
            switch node.operation {
            case .addConstant, .multiplyConstant, .divideConstant, .channelAffine, .reshape, .transpose, .select, .pad:
                diagonal[node.output] = diagonal[operand]
                exact[node.output] = exact[operand]
            case .convolution, .linear, .averagePool, .globalAveragePool:
                exact[node.output] = diagonal[operand]
            case .relu, .maxPool:
                pre[operand] = true
            case .add, .subtract, .concat:
                exact[node.output] = false
            }
        }
        var improvable = [Bool](repeating: false, count: graph.values.count)
        for node in graph.nodes where node.operation.isAffine { improvable[node.output] = pre[node.output] && !exact[node.output] }
        improvableByCrown = improvable
    }

    var inputSize: Int { graph.values[graph.input].count }
    var outputSize: Int { graph.values[graph.output].count }

    // MARK: - Public entry points

    /// Interval bounds of every value for `batch` boxes (`lower`, `upper`: `batch × inputSize`).
    public func intervalBounds(lower: [Double], upper: [Double], batch: Int) -> [IntervalBounds?] {
        var bounds = [IntervalBounds?](repeating: nil, count: graph.values.count)
        bounds[graph.input] = IntervalBounds(lower: lower, upper: upper)
        for (index, node) in graph.nodes.enumerated() {
            bounds[node.output] = propagateInterval(index, bounds, batch: batch)
        }
        return bounds
    }

    /// Lower bounds of `spec · y` over each box, with the method and settings of `options`.
    public func bounds(of spec: LinearSpecification, lower: [Double], upper: [Double], batch: Int,
                       options: BoundOptions = BoundOptions()) -> BoundResult {
        precondition(lower.count == batch * inputSize && upper.count == lower.count, "bounds: box size mismatch")
        precondition(spec.coefficients.count == spec.rows * outputSize, "bounds: specification has wrong width")
        let box = IntervalBounds(lower: lower, upper: upper)
        let rows = batch * spec.rows
        // Element-major: column r = b·S + s holds specification row s for box b.
        var initial = [Double](repeating: 0, count: rows * outputSize)
        for e in 0..<outputSize {
            for r in 0..<rows { initial[e * rows + r] = spec.coefficients[(r % spec.rows) * outputSize + e] }
        }
        let rowBox = (0..<rows).map { $0 / spec.rows }
        if options.method == .ibp {
            // The specification is folded into the affine layers after the last nonlinearity
            // (as auto_LiRPA does), then interval bounds are applied there.
            let all = intervalBounds(lower: lower, upper: upper, batch: batch)
            var pass = BackwardPass(propagator: self, target: graph.output, rowBox: rowBox, relaxations: [:])
            pass.intervalStops = all
            pass.precision = options.precision
            return BoundResult(lower: pass.run(initial: initial, box: box).bounds, intermediate: all, slopes: [:])
        }
        if options.method == .alphaCrown {
            // Recorded for the gradients of full α-CROWN's first iteration.
            let sweep = intermediateSweep(box: box, batch: batch, options: options, recording: options.alphaScope != .final)
            var final = options.alphaScope == .final
            if !final, let budget = memoryBudget {
                let bytes = AlphaCrownOptimiser.slopeBytes(self, sweep: sweep, finalRows: rows)
                if bytes > budget {
                    options.progress?("alpha-CROWN: the slopes of every target would take \(bytes >> 20) MiB, over the memory budget "
                                      + "of \(budget >> 20) MiB: optimising the final rows only")
                    final = true
                }
            }
            if final {
                let result = finalBounds(of: spec, lower: lower, upper: upper, batch: batch, intermediate: sweep.bounds,
                                         settings: FinalBoundSettings(iterations: options.iterations,
                                                                      slopeLearningRate: options.learningRate,
                                                                      learningRateDecay: options.learningRateDecay,
                                                                      precision: options.precision, earlyStop: options.earlyStop))
                return BoundResult(lower: result.lower, intermediate: sweep.bounds, slopes: result.slopes,
                                   evaluations: result.evaluations)
            }
            var optimiser = AlphaCrownOptimiser(propagator: self, initial: initial, rowBox: rowBox, box: box, batch: batch,
                                                options: options)
            return optimiser.run(first: sweep)
        }
        let parents = batch > 1 && options.sharesContainingBoxes ? containingBoxes(box, batch: batch) : []
        let sweep = intermediateSweep(box: box, batch: batch, options: options, parents: parents)
        let (lowerBounds, _, _) = backwardInChunks(target: graph.output, rowBox: rowBox, box: box, relaxations: sweep.relaxations,
                                                precision: options.precision) { range in
            .dense(columns(initial, rows: rows, Array(range)))
        }
        return BoundResult(lower: lowerBounds, intermediate: sweep.bounds, slopes: [:])
    }

    // MARK: - Intermediate bounds

    func propagateInterval(_ index: Int, _ bounds: [IntervalBounds?], batch: Int) -> IntervalBounds {
        let node = graph.nodes[index]
        return IntervalArithmetic.propagate(
            node.operation, absolute: absoluteParts[index], operands: node.inputs.map { bounds[$0]! },
            shapes: node.inputs.map { graph.values[$0].shape }, outputShape: graph.values[node.output].shape, batch: batch)
    }

    /// The CROWN rows of one pre-activation value: rows `2k` and `2k+1` bound `+ẑ` and `−ẑ`
    /// (minus its upper bound) of neuron `neuron[k]` in box `box[k]`.
    struct CrownTargets {
        var box: [Int]
        var neuron: [Int]
        var count: Int { neuron.count }
        /// The box of each of the `2·count` rows.
        var rowBox: [Int] { box.flatMap { [$0, $0] } }
    }

    /// What one sweep of intermediate bounds produced.
    struct IntermediateSweep {
        /// Bounds of every value.
        var bounds: [IntervalBounds?]
        /// The relaxation of every nonlinear node (keyed by its output value).
        var relaxations: [ValueID: NodeRelaxation]
        /// The CROWN rows of each pre-activation value that needed them.
        var targets: [ValueID: CrownTargets]
        /// The raw CROWN row bounds (`2·count` per value), before intersection.
        var rowBounds: [ValueID: [Double]]
        /// When recording (for α gradients): per ReLU output, its neurons unstable in some box
        /// of the batch, ascending; and per target, what its backward passes recorded.
        var recordedNeurons: [ValueID: [Int]]? = nil
        var records: [ValueID: GradientRecord] = [:]
    }

    /// What the backward passes of one target's rows record for α gradients, kept as the
    /// chunks of rows computed it (row `r` is row `r % chunkSize` of chunk `r / chunkSize`):
    /// each row's minimising input corner, and its coefficients on the
    /// ``IntermediateSweep/recordedNeurons`` of every ReLU output the passes reached.
    struct GradientRecord {
        var chunkSize: Int
        var chunks: [Chunk]

        struct Chunk {
            var rows: Int
            /// `inputSize × rows`: whether the row's coefficient on the input element is
            /// non-negative (its minimum over the box is then at the lower end).
            var atLower: [Bool]
            /// Per ReLU output, `recordedNeurons.count × rows`.
            var coefficients: [ValueID: [Double]]
        }
    }

    /// Bounds of every value, with pre-activation bounds from CROWN unless `options` asks
    /// for interval intermediate bounds (precision and progress reports from `options`).
    ///
    /// Values are visited in topological order. Each value first gets interval bounds from
    /// its operands' best bounds (a cheap proof of stability for many neurons). A
    /// pre-activation then gets CROWN bounds for the neurons that interval bounds leave
    /// unstable, and keeps the intersection of both (each is sound, so the intersection
    /// is). A pre-activation whose interval bounds are exact needs nothing more: one
    /// affine map applied to an elementwise transform of the input (the centre-radius
    /// bound is then exact in real arithmetic, equal to CROWN's).
    ///
    /// α-CROWN passes `fixedTargets` (the rows chosen by its first sweep), per-row lower
    /// slopes for each target's backward pass, and `previous` bounds to intersect with
    /// (bounds of earlier iterations remain valid).
    ///
    /// `parents[b]`, when set, names a box of the batch that contains box `b`. Such a child
    /// gets no CROWN rows of its own: the parent's relaxations are valid on the child, so
    /// the parent's linear bounds `Λ_x x + c` hold there too and are re-concretised over the
    /// child's box, which only costs the coordinates where the two boxes differ (EVA's
    /// boxes differ in one patch). The child then keeps its own relaxations for later layers
    /// and for the final specification.
    func intermediateSweep(box: IntervalBounds, batch: Int, options: BoundOptions,
                           fixedTargets: [ValueID: CrownTargets]? = nil,
                           slopes: [ValueID: [ValueID: [Double]]] = [:],
                           previous: [IntervalBounds?]? = nil,
                           parents: [Int?] = [],
                           splits: [[NeuronSplit]] = [],
                           recording: Bool = false) -> IntermediateSweep {
        var sweep = IntermediateSweep(bounds: [IntervalBounds?](repeating: nil, count: graph.values.count),
                                      relaxations: [:], targets: [:], rowBounds: [:], recordedNeurons: recording ? [:] : nil)
        sweep.bounds[graph.input] = box
        // Split constraints clip their pre-activation's bounds (box b, neuron, active).
        var clips = [ValueID: [(box: Int, neuron: Int, active: Bool)]]()
        if !splits.isEmpty {
            let preActivation = Dictionary(graph.nodes.filter { $0.operation == .relu }.map { ($0.output, $0.inputs[0]) },
                                           uniquingKeysWith: { a, _ in a })
            for (b, list) in splits.enumerated() {
                for split in list { clips[preActivation[split.relu]!, default: []].append((b, split.neuron, split.active)) }
            }
        }
        func clip(_ v: ValueID, _ bounds: inout IntervalBounds) {
            guard let list = clips[v] else { return }
            let size = graph.values[v].count
            for c in list {
                let i = c.box * size + c.neuron
                if c.active { bounds.lower[i] = max(bounds.lower[i], 0) } else { bounds.upper[i] = min(bounds.upper[i], 0) }
            }
        }
        let children = parents.enumerated().compactMap { $0.element == nil ? nil : $0.offset }
        let isChild = Set(children)
        var done = 0
        for (index, node) in graph.nodes.enumerated() {
            var current = propagateInterval(index, sweep.bounds, batch: batch)
            let v = node.output
            if let old = previous?[v] { current = current.intersected(with: old) }
            clip(v, &current)
            // A ReLU or MaxPool output (e.g. a ReLU feeding a MaxPool) keeps its interval
            // bounds: given its operand's bounds they are already exact elementwise.
            if options.crownIntermediates && improvableByCrown[v],
               let targets = fixedTargets.map({ $0[v] }) ?? crownTargets(v, current, batch: batch, skipping: isChild),
               targets.count > 0 {
                let size = graph.values[v].count
                if let progress = options.progress {
                    done += 1
                    progress("CROWN bounds of '\(graph.values[v].name)' (\(done) of at most \(improvableByCrown.filter { $0 }.count)): "
                             + "\(targets.count) neurons, \(2 * targets.count) rows")
                }
                let (rows, inputCoefficients, record) = backwardInChunks(
                    target: v, rowBox: targets.rowBox, box: box, relaxations: sweep.relaxations, slopes: slopes[v],
                    precision: options.precision, keepInputCoefficients: !children.isEmpty,
                    recording: sweep.recordedNeurons) { range in
                    .unit(element: range.map { targets.neuron[$0 / 2] }, value: range.map { $0 % 2 == 0 ? 1 : -1 })
                }
                sweep.records[v] = record
                for k in 0..<targets.count {
                    let i = targets.box[k] * size + targets.neuron[k]
                    current.lower[i] = max(current.lower[i], rows[2 * k])
                    current.upper[i] = min(current.upper[i], -rows[2 * k + 1])
                }
                if let inputCoefficients {
                    reconcretise(children: children, parents: parents, targets: targets, rows: rows,
                                 inputCoefficients: inputCoefficients, box: box, size: size, bounds: &current)
                }
                sweep.targets[v] = targets
                sweep.rowBounds[v] = rows
                clip(v, &current)
            }
            sweep.bounds[v] = current
            if let relaxation = makeRelaxation(index, sweep.bounds, batch: batch) {
                sweep.relaxations[v] = relaxation
                if recording, case .relu(let relu) = relaxation {
                    sweep.recordedNeurons![v] = relu.unstableNeurons(size: graph.values[v].count)
                }
            }
        }
        return sweep
    }

    /// Tightens each child box's bounds of one value with its parent's CROWN rows,
    /// re-concretised over the child's box (see ``intermediateSweep``).
    private func reconcretise(children: [Int], parents: [Int?], targets: CrownTargets, rows: [Double],
                              inputCoefficients a: [Double], box: IntervalBounds, size: Int, bounds: inout IntervalBounds) {
        let n = inputSize, rowCount = rows.count
        for child in children {
            let parent = parents[child]!
            // Parent bounds hold on the child's box.
            for j in 0..<size {
                bounds.lower[child * size + j] = max(bounds.lower[child * size + j], bounds.lower[parent * size + j])
                bounds.upper[child * size + j] = min(bounds.upper[child * size + j], bounds.upper[parent * size + j])
            }
            let differing = (0..<n).filter {
                box.lower[child * n + $0] != box.lower[parent * n + $0] || box.upper[child * n + $0] != box.upper[parent * n + $0]
            }
            for k in 0..<targets.count where targets.box[k] == parent {
                let i = child * size + targets.neuron[k]
                guard bounds.lower[i] < 0 && bounds.upper[i] > 0 else { continue }
                for (row, sign) in [(2 * k, 1.0), (2 * k + 1, -1.0)] {
                    var value = rows[row]
                    for c in differing {
                        let coefficient = a[c * rowCount + row]
                        let (pl, pu) = (box.lower[parent * n + c], box.upper[parent * n + c])
                        let (cl, cu) = (box.lower[child * n + c], box.upper[child * n + c])
                        value += coefficient >= 0 ? coefficient * (cl - pl) : coefficient * (cu - pu)
                    }
                    if sign > 0 { bounds.lower[i] = max(bounds.lower[i], value) } else { bounds.upper[i] = min(bounds.upper[i], -value) }
                }
            }
        }
    }

    /// Whether a box inside another box, differing from it in `differing` of `inputs`
    /// coordinates, takes that box's work (``BoundOptions/sharesContainingBoxes``): at most an
    /// eighth of the coordinates.
    public static func mayShare(differing: Int, inputs: Int) -> Bool { 8 * differing <= inputs }

    /// For each box, another box of the batch that contains it and differs from it in at
    /// most an eighth of the input coordinates (EVA's boxes: one patch fixed), or `nil`.
    /// Reusing a parent's relaxations costs tightness when the boxes differ much (a box
    /// inside a box of twice its radius gets the larger box's relaxations), hence the
    /// limit; a parent never has a parent itself.
    func containingBoxes(_ box: IntervalBounds, batch: Int) -> [Int?] {
        let n = inputSize
        func isParent(_ p: Int, of c: Int) -> Bool {
            var differing = 0
            for i in 0..<n {
                let (pl, pu, cl, cu) = (box.lower[p * n + i], box.upper[p * n + i], box.lower[c * n + i], box.upper[c * n + i])
                if pl > cl || pu < cu { return false }
                if pl != cl || pu != cu {
                    differing += 1
                    if !Self.mayShare(differing: differing, inputs: n) { return false }
                }
            }
            // Identical boxes: the lower index is the parent.
            return differing > 0 || p < c
        }
        let candidates = (0..<batch).map { b in (0..<batch).first { p in p != b && isParent(p, of: b) } }
        return candidates.map { p in p.flatMap { candidates[$0] == nil ? $0 : nil } }
    }

    /// The neurons of value `v` that `current` leaves undecided (all neurons for a MaxPool
    /// operand, whose relaxation needs every bound), or `nil` if there are none.
    func crownTargets(_ v: ValueID, _ current: IntervalBounds, batch: Int, skipping: Set<Int> = []) -> CrownTargets? {
        let size = graph.values[v].count
        let onlyUnstable = !graph.nodes.contains { node in
            if case .maxPool = node.operation { return node.inputs[0] == v }
            return false
        }
        var targets = CrownTargets(box: [], neuron: [])
        let order = spatialOrder(graph.values[v].shape)
        for b in 0..<batch where !skipping.contains(b) {
            for j in order {
                let l = current.lower[b * size + j], u = current.upper[b * size + j]
                if !onlyUnstable || (l < 0 && u > 0) {
                    targets.box.append(b)
                    targets.neuron.append(j)
                }
            }
        }
        return targets.count > 0 ? targets : nil
    }

    /// The elements of a value of `shape` in the order CROWN rows are chunked: image by
    /// image, the positions of the plane in Morton (Z) order, all channels of a position
    /// together. Consecutive rows then start from nearby neurons, so a chunk's coefficients
    /// stay zero outside the union of a few receptive fields, which the transposed
    /// convolutions skip; rows in plain channel-major order would cover the whole plane
    /// in every chunk.
    func spatialOrder(_ shape: [Int]) -> [Int] {
        let count = shape.elementCount
        guard shape.count == 4, shape[2] * shape[3] > 1 else { return Array(0..<count) }
        let (images, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        func morton(_ position: Int) -> Int {
            let (y, x) = (position / w, position % w)
            var key = 0
            for bit in 0..<(Int.bitWidth / 2) { key |= ((y >> bit) & 1) << (2 * bit + 1) | ((x >> bit) & 1) << (2 * bit) }
            return key
        }
        let positions = (0..<(h * w)).map { ($0, morton($0)) }.sorted { $0.1 < $1.1 }.map(\.0)
        var order = [Int]()
        order.reserveCapacity(count)
        for image in 0..<images {
            for position in positions {
                for channel in 0..<c { order.append((image * c + channel) * h * w + position) }
            }
        }
        return order
    }

    /// Runs the backward pass for `rowBox.count` rows in chunks small enough for the
    /// coefficient matrices to stay in cache, spread over the cores (OpenBLAS runs
    /// single-threaded inside, one chunk per thread). Rows are independent, so the result
    /// is the same as one pass over all rows. `initial(range)` builds the initial
    /// coefficients of the rows in `range`; `slopes` are per-row lower slopes
    /// (element-major, all rows) for α-CROWN.
    ///
    /// With `recording` (the neurons to record per ReLU output), the passes also return a
    /// ``GradientRecord`` of all rows.
    func backwardInChunks(target: ValueID, rowBox: [Int], box: IntervalBounds, relaxations: [ValueID: NodeRelaxation],
                          slopes: [ValueID: [Double]]? = nil, precision: BoundPrecision, keepInputCoefficients: Bool = false,
                          recording: [ValueID: [Int]]? = nil,
                          initial: (Range<Int>) -> Coefficients<Double>)
        -> (bounds: [Double], inputCoefficients: [Double]?, record: GradientRecord?) {
        let rows = rowBox.count
        let (chunk, chunks) = chunking(rows)
        var result = [Double](repeating: 0, count: rows)
        var kept = keepInputCoefficients ? [Double](repeating: 0, count: inputSize * rows) : []
        var recorded = [GradientRecord.Chunk?](repeating: nil, count: recording != nil ? chunks : 0)
        let n = inputSize
        result.withUnsafeMutableBufferPointer { out in
            kept.withUnsafeMutableBufferPointer { keep in
                recorded.withUnsafeMutableBufferPointer { recorded in
                let out = UnsafeMutableBufferPointerBox(out), keep = UnsafeMutableBufferPointerBox(keep)
                let recorded = UnsafeMutableBufferPointerBox(recorded)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let range = (c * chunk)..<min(rows, (c + 1) * chunk)
                    var pass = BackwardPass(propagator: self, target: target, rowBox: Array(rowBox[range]), relaxations: relaxations)
                    pass.precision = precision
                    pass.recordsInputCoefficients = keepInputCoefficients || recording != nil
                    pass.recordedNeurons = recording
                    if let slopes {
                        pass.slopes = slopes
                        pass.slopeStride = rows
                        pass.slopeOffset = range.lowerBound
                    }
                    let output = pass.run(initial: initial(range), box: box)
                    for (k, r) in range.enumerated() { out.buffer[r] = output.bounds[k] }
                    if keepInputCoefficients {
                        for i in 0..<n {
                            for (k, r) in range.enumerated() { keep.buffer[i * rows + r] = output.inputCoefficients[i * range.count + k] }
                        }
                    }
                    if recording != nil {
                        recorded.buffer[c] = GradientRecord.Chunk(rows: range.count, atLower: nonNegative(output.inputCoefficients),
                                                                  coefficients: output.compactReluCoefficients)
                    }
                }
                }
            }
        }
        let record = recording.map { _ in GradientRecord(chunkSize: chunk, chunks: recorded.map { $0! }) }
        return (result, keepInputCoefficients ? kept : nil, record)
    }

    /// Rows per chunk: enough that a coefficient matrix of the widest value stays within a
    /// few megabytes (cache-resident), at most 512; under a ``memoryBudget``, few enough that
    /// the chunks running at once fit it, down to one row.
    var chunkSize: Int {
        let widest = graph.values.map(\.count).max() ?? 1
        let size = max(16, min(512, (1 << 19) / max(1, widest)))
        guard let budget = memoryBudget else { return size }
        return max(1, min(size, budget / (Self.bytesPerChunkRow * widest * ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// Bytes a chunk of a backward pass holds per row and element of the widest value: about
    /// four Float64 matrices (the coefficients, the next ones and the kernels' work buffers).
    static let bytesPerChunkRow = 4 * 8

    /// Splits `rows` into an even number of near-equal chunks of at most ``chunkSize`` rows
    /// (even, so both cores stay busy to the end; a single chunk only for fewer than 32 rows).
    func chunking(_ rows: Int) -> (size: Int, count: Int) {
        guard rows > 0 else { return (1, 0) }
        var count = (rows + chunkSize - 1) / chunkSize
        if count % 2 == 1 && (count > 1 || rows >= 32) { count += 1 }
        let size = (rows + count - 1) / count
        return (size, (rows + size - 1) / size)
    }

    /// The relaxations of every nonlinear node for the given bounds.
    func relaxations(for bounds: [IntervalBounds?], batch: Int) -> [ValueID: NodeRelaxation] {
        var result = [ValueID: NodeRelaxation]()
        for index in graph.nodes.indices {
            if let r = makeRelaxation(index, bounds, batch: batch) { result[graph.nodes[index].output] = r }
        }
        return result
    }

    /// The relaxation of node `index` if it is nonlinear and its operand is bounded.
    func makeRelaxation(_ index: Int, _ bounds: [IntervalBounds?], batch: Int) -> NodeRelaxation? {
        let node = graph.nodes[index]
        guard let operand = bounds[node.inputs[0]] else { return nil }
        switch node.operation {
        case .relu:
            return .relu(ReluRelaxation(preActivation: operand))
        case .maxPool(let window):
            let shape = graph.values[node.inputs[0]].shape
            let outCount = batch * graph.values[node.output].count
            var winner = [Int](repeating: 0, count: outCount)
            var dominated = [Bool](repeating: false, count: outCount)
            var upperConstant = [Double](repeating: 0, count: outCount)
            let inSize = shape.elementCount
            Kernels.forEachWindow(shape: shape, window: window, batch: batch) { o, cells, _ in
                guard var best = cells.first else { return }
                for c in cells where operand.lower[c] > operand.lower[best] { best = c }
                var maxOther = -Double.infinity, maxUpper = -Double.infinity
                for c in cells {
                    maxUpper = max(maxUpper, operand.upper[c])
                    if c != best { maxOther = max(maxOther, operand.upper[c]) }
                }
                winner[o] = best % inSize
                dominated[o] = operand.lower[best] >= maxOther
                upperConstant[o] = maxUpper
            }
            return .maxPool(MaxPoolRelaxation(winner: winner, dominated: dominated, upperConstant: upperConstant))
        default:
            return nil
        }
    }
}


/// The columns `indices` of an element-major matrix with `rows` columns.
func columns(_ matrix: [Double], rows: Int, _ indices: [Int]) -> [Double] {
    let size = matrix.count / max(rows, 1)
    var out = [Double](repeating: 0, count: size * indices.count)
    matrix.withUnsafeBufferPointer { m in
        out.withUnsafeMutableBufferPointer { o in
            for e in 0..<size {
                let source = m.baseAddress! + e * rows, target = o.baseAddress! + e * indices.count
                for (k, r) in indices.enumerated() { target[k] = source[r] }
            }
        }
    }
    return out
}

/// `values.map { $0 >= 0 }`, written in place (`map` appends one element at a time).
func nonNegative(_ values: [Double]) -> [Bool] {
    [Bool](unsafeUninitializedCapacity: values.count) { out, count in
        values.withUnsafeBufferPointer { v in
            for i in 0..<v.count { out[i] = v[i] >= 0 }
        }
        count = values.count
    }
}

/// Lets concurrent chunks write disjoint parts of one buffer.
struct UnsafeMutableBufferPointerBox<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
    init(_ buffer: UnsafeMutableBufferPointer<Element>) { self.buffer = buffer }
}

/// The relaxation of one nonlinear node.
enum NodeRelaxation {
    case relu(ReluRelaxation)
    case maxPool(MaxPoolRelaxation)
}
