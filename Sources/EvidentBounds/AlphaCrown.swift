import Foundation
import EvidentIR
import EvidentEval

/// α-CROWN (Xu et al., "Fast and Complete", ICLR 2021): the lower-line slope of every
/// unstable ReLU neuron is a free parameter in [0, 1], one per neuron and per bound
/// target — every row of the final specification and every CROWN row of every
/// intermediate (pre-activation) bound — optimised by projected gradient ascent (Adam)
/// on the sum of the final bounds, starting from CROWN's adaptive slopes.
///
/// Gradient. For fixed line choices the bound of one row is `L = const + Λ_x · x*`, with
/// `x*` the box corner minimising the row's final linear function. The adjoint of the
/// backward pass is a forward pass: evaluating the relaxed network (each ReLU replaced
/// by the line the backward pass used for that row) at `x*` gives a value `ξ_v` for
/// every value, and
/// - `∂L/∂α_j = Λ_j ξ_j` for a neuron whose coefficient `Λ_j` on the ReLU output is
///   non-negative (lower line), 0 otherwise;
/// - `∂L/∂s_j = Λ_j ξ_j` and `∂L/∂t_j = Λ_j` for a negative coefficient (upper line
///   `s ẑ + t` with `s = u/(u−l)`, `t = −s l`), which passes the gradient on to the
///   intermediate bounds `l`, `u` of that neuron, and through them to the slopes of the
///   CROWN rows that produced those bounds (visited in reverse topological order).
///
/// Every iterate is a valid bound (any α in [0, 1] is), and so is every intermediate
/// bound of every iterate: each sweep intersects its intermediate bounds with the earlier
/// ones (passing gradients straight through to its own CROWN rows, as auto_LiRPA does
/// with its reference bounds), the best final bound seen per row is returned, and a last
/// pass with the intersected bounds and each row's best slopes can only add to the result. The step size decays
/// geometrically (`learningRate · learningRateDecay^step`).
struct AlphaCrownOptimiser {
    let propagator: BoundPropagator
    /// Final specification, element-major (`outputSize × rows`).
    let initial: [Double]
    let rowBox: [Int]
    let box: IntervalBounds
    let batch: Int
    let options: BoundOptions

    /// α[target][relu output] (element-major `size × rows of target`); the final rows use
    /// the graph output as their target.
    var alpha: [ValueID: [ValueID: [Double]]] = [:]
    /// Adam's state per target and ReLU (created at the first step that reaches them).
    private var adam: [ValueID: [ValueID: AdamState]] = [:]
    /// Per target, the rows that have ever received a gradient: only they move.
    private var movingRows: [ValueID: [Bool]] = [:]
    /// Per ReLU, the neurons unstable in some box after the first sweep: the only ones whose
    /// slopes act (later sweeps only tighten the bounds) and so the only ones with moments.
    private var unstableNeurons: [ValueID: [Int]] = [:]

    /// Adam's moments of one target's slopes at one ReLU, element-major over the ReLU's
    /// unstable neurons (`moment[slot[e] · rows + r]` for neuron `e`), and the neurons that
    /// have ever received a non-zero gradient (only they move).
    private struct AdamState {
        var slot: [Int]
        var firstMoment: [Double]
        var secondMoment: [Double]
        var movingNeuron: [Bool]

        init(unstable: [Int], size: Int, rows: Int) {
            slot = [Int](repeating: -1, count: size)
            for (index, e) in unstable.enumerated() { slot[e] = index }
            firstMoment = [Double](repeating: 0, count: unstable.count * rows)
            secondMoment = firstMoment
            movingNeuron = [Bool](repeating: false, count: size)
        }
    }

    /// Gradients for some rows of one target, as the parallel chunks of ``contribution``
    /// computed them (kept, not merged into one matrix).
    struct TargetGradient {
        /// The target's rows that have gradients; chunk `c` covers `rows[chunks[c].range]`.
        var rows: [Int]
        var chunks: [Chunk]

        struct Chunk {
            var range: Range<Int>
            var values: [ValueID: Sparse]
        }

        /// The gradient of one chunk's rows at one ReLU: `values` is element-major over
        /// `neurons` (ascending; the neurons that can carry a gradient, unstable ones), one
        /// column per row of the chunk; every other neuron's gradient is zero.
        struct Sparse {
            var neurons: [Int]
            var values: [Double]
        }

        /// The gradient for ReLU `u` (of `size` neurons) as one element-major matrix with a
        /// column per entry of `rows`.
        func values(_ u: ValueID, size: Int) -> [Double] {
            var all = [Double](repeating: 0, count: size * rows.count)
            for chunk in chunks {
                guard let g = chunk.values[u] else { continue }
                let width = chunk.range.count
                for (index, e) in g.neurons.enumerated() {
                    for k in 0..<width { all[e * rows.count + chunk.range.lowerBound + k] = g.values[index * width + k] }
                }
            }
            return all
        }

        var relus: Set<ValueID> { Set(chunks.flatMap(\.values.keys)) }
    }

    init(propagator: BoundPropagator, initial: [Double], rowBox: [Int], box: IntervalBounds, batch: Int,
         options: BoundOptions) {
        self.propagator = propagator
        self.initial = initial
        self.rowBox = rowBox
        self.box = box
        self.batch = batch
        self.options = options
    }

    private var graph: Graph { propagator.graph }
    /// The options without progress reports, for the sweeps after the first (the
    /// iterations report instead).
    private var quiet: BoundOptions {
        var options = options
        options.progress = nil
        return options
    }

    /// The first (CROWN) sweep, unless given; fixes the intermediate targets and starts the slopes.
    mutating func start(_ first: BoundPropagator.IntermediateSweep? = nil) -> BoundPropagator.IntermediateSweep {
        let sweep = first ?? propagator.intermediateSweep(box: box, batch: batch, options: options, recording: true)
        initialiseSlopes(sweep)
        return sweep
    }

    /// Bytes of the slopes and Adam moments the optimisation of every target holds after the
    /// first sweep `sweep`: per target and earlier ReLU, the slopes of every neuron and two
    /// moments of each unstable one (Float64).
    static func slopeBytes(_ propagator: BoundPropagator, sweep: BoundPropagator.IntermediateSweep, finalRows: Int) -> Int {
        let graph = propagator.graph
        var rowsOf: [ValueID: Int] = [graph.output: finalRows]
        for (v, t) in sweep.targets { rowsOf[v] = 2 * t.count }
        var total = 0
        for (target, rows) in rowsOf {
            guard let last = propagator.producers[target] else { continue }
            for node in graph.nodes[0...last] where node.operation == .relu {
                guard case .relu(let relu)? = sweep.relaxations[node.output] else { continue }
                let size = graph.values[node.output].count
                total += 8 * rows * size + 2 * 8 * rows * relu.unstableNeurons(size: size).count
            }
        }
        return total
    }

    /// A sweep with the current slopes, and the final bounds it gives.
    func evaluate(targets: [ValueID: BoundPropagator.CrownTargets]) -> (sweep: BoundPropagator.IntermediateSweep, final: [Double]) {
        var sweep = propagator.intermediateSweep(box: box, batch: batch, options: quiet, fixedTargets: targets, slopes: alpha,
                                                 recording: true)
        let final = finalBounds(&sweep)
        return (sweep, final)
    }

    mutating func run(first: BoundPropagator.IntermediateSweep? = nil) -> BoundResult {
        var sweep = start(first)
        let targets = sweep.targets
        var best = [Double](repeating: -.infinity, count: rowBox.count)
        var bestSlopes = alpha[graph.output] ?? [:]
        // `iterations` bound evaluations with an Adam step between consecutive ones (as
        // auto_LiRPA counts iterations: its last step is never evaluated).
        let evaluations = max(1, options.iterations)
        var done = 0, stale = 0
        var phases = AlphaPhases()
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ phase: WritableKeyPath<AlphaPhases, Double>) {
            let now = DispatchTime.now().uptimeNanoseconds
            phases[keyPath: phase] += Double(now - clock) / 1e9
            clock = now
        }
        for iteration in 0..<evaluations {
            if iteration > 0 {
                // Intermediate bounds are intersected with every earlier sweep's (all valid);
                // gradients pass straight through to the CROWN rows (see `slopeGradients`).
                sweep = propagator.intermediateSweep(box: box, batch: batch, options: quiet, fixedTargets: targets,
                                                     slopes: alpha, previous: sweep.bounds, recording: true)
                lap(\.sweeps)
            }
            let final = finalBounds(&sweep)
            lap(\.finalRows)
            done += 1
            var improved = [Int]()
            for r in 0..<rowBox.count where final[r] > best[r] {
                best[r] = final[r]
                improved.append(r)
            }
            stale = improved.isEmpty ? stale + 1 : 0
            options.progress?("alpha-CROWN iteration \(iteration + 1) of \(evaluations): smallest best bound "
                              + "\(best.min() ?? .nan), \(improved.count) of \(rowBox.count) rows improved")
            if !improved.isEmpty, let slopes = alpha[graph.output] {
                for (u, a) in slopes {
                    for e in 0..<(a.count / rowBox.count) {
                        for r in improved { bestSlopes[u]![e * rowBox.count + r] = a[e * rowBox.count + r] }
                    }
                }
            }
            if iteration == evaluations - 1 || options.earlyStop.stops(best: best, stale: stale) { break }
            let gradients = slopeGradients(sweep)
            lap(\.gradients)
            adamStep(gradients, targets: targets, step: Double(iteration + 1))
            lap(\.steps)
        }
        // A last pass with the intersected intermediate bounds and the best slopes per row.
        let relaxations = propagator.relaxations(for: sweep.bounds, batch: batch)
        let polished = propagator.backwardInChunks(target: graph.output, rowBox: rowBox, box: box, relaxations: relaxations,
                                                   slopes: bestSlopes, precision: options.precision) { range in
            .dense(columns(initial, rows: rowBox.count, Array(range)))
        }.bounds
        for r in 0..<rowBox.count { best[r] = max(best[r], polished[r]) }
        lap(\.finalRows)
        return BoundResult(lower: best, intermediate: sweep.bounds, slopes: bestSlopes, evaluations: done, alphaPhases: phases)
    }

    /// One projected Adam ascent step on the rows that have received gradients.
    ///
    /// Only rows and neurons that have ever received a non-zero gradient move (the others
    /// have zero moments, so Adam would leave them in place anyway). The slope arrays are
    /// taken out of their dictionaries (so each is uniquely referenced and updated in place,
    /// not copied) and updated in parallel, one (target, ReLU) pair per task.
    private mutating func adamStep(_ gradients: [ValueID: TargetGradient], targets: [ValueID: BoundPropagator.CrownTargets],
                                   step: Double) {
        let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
        let correction1 = 1 - pow(beta1, step), correction2 = 1 - pow(beta2, step)
        let rate = options.learningRate * pow(options.learningRateDecay, step - 1)
        /// One array to update: its slopes and Adam state, and the rows that move.
        struct Task {
            var target: ValueID, relu: ValueID
            var slopes: [Double], state: AdamState
            /// Per gradient chunk: its values for this ReLU (none: no neurons) and the target's
            /// rows it covers (its columns).
            var parts: [TargetGradient.Sparse], chunkRows: [[Int]], rows: Int
            var moving: [Int]
        }
        var tasks = [Task]()
        for (target, gradient) in gradients {
            let rows = rowCount(target, targets)
            var rowMoves = movingRows.removeValue(forKey: target) ?? [Bool](repeating: false, count: rows)
            for r in gradient.rows { rowMoves[r] = true }
            movingRows[target] = rowMoves
            let moving = rowMoves.indices.filter { rowMoves[$0] }
            let chunkRows = gradient.chunks.map { Array(gradient.rows[$0.range]) }
            guard var slopes = alpha.removeValue(forKey: target) else { continue }
            var states = adam.removeValue(forKey: target) ?? [:]
            for u in Array(slopes.keys) {
                let a = slopes.removeValue(forKey: u)!
                let size = a.count / max(rows, 1)
                let state = states.removeValue(forKey: u)
                    ?? AdamState(unstable: unstableNeurons[u] ?? Array(0..<size), size: size, rows: rows)
                tasks.append(Task(target: target, relu: u, slopes: a, state: state,
                                  parts: gradient.chunks.map { $0.values[u] ?? .init(neurons: [], values: []) },
                                  chunkRows: chunkRows, rows: rows,
                                  moving: moving))
            }
        }
        tasks.withUnsafeMutableBufferPointer { all in
            let all = UnsafeMutableBufferPointerBox(all)
            DispatchQueue.concurrentPerform(iterations: all.buffer.count) { t in
                let task = all.buffer.baseAddress! + t
                let (rows, parts, chunkRows) = (task.pointee.rows, task.pointee.parts, task.pointee.chunkRows)
                let size = task.pointee.slopes.count / max(rows, 1)
                for (g, columns) in zip(parts, chunkRows) {
                    let width = columns.count
                    for (index, e) in g.neurons.enumerated()
                    where !task.pointee.state.movingNeuron[e] && task.pointee.state.slot[e] >= 0 {
                        for k in 0..<width where g.values[index * width + k] != 0 {
                            task.pointee.state.movingNeuron[e] = true
                            break
                        }
                    }
                }
                let moving = task.pointee.moving, movingNeuron = task.pointee.state.movingNeuron
                let slot = task.pointee.state.slot
                // One neuron's gradient over all the target's rows, scattered from the chunks.
                var gradientRow = [Double](repeating: 0, count: rows)
                // Moved out, so that each array is uniquely referenced while updated.
                var slopes = task.pointee.slopes, first = task.pointee.state.firstMoment, second = task.pointee.state.secondMoment
                task.pointee.slopes = []
                task.pointee.state.firstMoment = []
                task.pointee.state.secondMoment = []
                defer {
                    task.pointee.slopes = slopes
                    task.pointee.state.firstMoment = first
                    task.pointee.state.secondMoment = second
                }
                slopes.withUnsafeMutableBufferPointer { a in
                    first.withUnsafeMutableBufferPointer { m in
                        second.withUnsafeMutableBufferPointer { s in
                            gradientRow.withUnsafeMutableBufferPointer { row in
                            // Per chunk, the position in its (ascending) neuron list reached so far.
                            var cursor = [Int](repeating: 0, count: parts.count)
                            for e in 0..<size where movingNeuron[e] {
                                for (c, g) in parts.enumerated() {
                                    var i = cursor[c]
                                    while i < g.neurons.count && g.neurons[i] < e { i += 1 }
                                    cursor[c] = i
                                    guard i < g.neurons.count && g.neurons[i] == e else { continue }
                                    let columns = chunkRows[c]
                                    g.values.withUnsafeBufferPointer { pg in
                                        let block = pg.baseAddress! + i * columns.count
                                        for (k, r) in columns.enumerated() { row[r] = block[k] }
                                    }
                                }
                                let base = slot[e] * rows
                                for r in moving {
                                    let i = e * rows + r, j = base + r
                                    let gi = row[r]
                                    row[r] = 0
                                    if gi == 0 && m[j] == 0 { continue }
                                    m[j] = beta1 * m[j] + (1 - beta1) * gi
                                    s[j] = beta2 * s[j] + (1 - beta2) * gi * gi
                                    let update = rate * (m[j] / correction1) / ((s[j] / correction2).squareRoot() + epsilon)
                                    a[i] = Swift.min(1, Swift.max(0, a[i] + update))
                                }
                            }
                            }
                        }
                    }
                }
            }
        }
        for task in tasks {
            alpha[task.target, default: [:]][task.relu] = task.slopes
            adam[task.target, default: [:]][task.relu] = task.state
        }
    }

    private func rowCount(_ target: ValueID, _ targets: [ValueID: BoundPropagator.CrownTargets]) -> Int {
        target == graph.output ? rowBox.count : 2 * (targets[target]?.count ?? 0)
    }

    /// Starts every slope at CROWN's adaptive choice for the row's box.
    private mutating func initialiseSlopes(_ sweep: BoundPropagator.IntermediateSweep) {
        var rowsOf: [ValueID: [Int]] = [graph.output: rowBox]
        for (v, t) in sweep.targets { rowsOf[v] = t.rowBox }
        for (target, boxes) in rowsOf {
            guard let last = propagator.producers[target] else { continue }
            var slopes = [ValueID: [Double]]()
            for node in graph.nodes[0...last] where node.operation == .relu {
                guard case .relu(let relu)? = sweep.relaxations[node.output] else { continue }
                let size = graph.values[node.output].count, rows = boxes.count
                if unstableNeurons[node.output] == nil {
                    unstableNeurons[node.output] = relu.unstableNeurons(size: size)
                }
                var a = [Double](repeating: 0, count: size * rows)
                for e in 0..<size {
                    for r in 0..<rows { a[e * rows + r] = relu.lowerSlope[boxes[r] * size + e] }
                }
                slopes[node.output] = a
            }
            alpha[target] = slopes
        }
    }

    /// The final rows' bounds with the current slopes, recorded into `sweep` (for their gradients)
    /// when the sweep records.
    private func finalBounds(_ sweep: inout BoundPropagator.IntermediateSweep) -> [Double] {
        let rows = rowBox.count
        let pass = propagator.backwardInChunks(target: graph.output, rowBox: rowBox, box: box, relaxations: sweep.relaxations,
                                               slopes: alpha[graph.output], precision: options.precision,
                                               recording: sweep.recordedNeurons) { range in
            .dense(columns(initial, rows: rows, Array(range)))
        }
        sweep.records[graph.output] = pass.record
        return pass.bounds
    }

    /// `∂(Σ final bounds)/∂α`, per target, per row that has a non-zero gradient, per ReLU
    /// (element-major over that ReLU's neurons, one column).
    ///
    /// `straightThrough` passes an intermediate row's gradient on even where the bound kept is
    /// another one (an earlier sweep's or the interval bound); `weightThreshold` leaves out
    /// rows whose weight is under that fraction of their layer's largest. Both steer the
    /// search; with `false` and `0` the result is the exact gradient of the summed bounds
    /// where every kept intermediate bound is a CROWN row's. Where an interval bound is
    /// tighter and kept instead (this happens in residual networks), its dependence on
    /// earlier bounds is left out: the gradient is then a search direction, not the exact
    /// derivative (every slope stays valid either way).
    func slopeGradients(_ sweep: BoundPropagator.IntermediateSweep, straightThrough: Bool = true,
                        weightThreshold: Double = 0.01) -> [ValueID: TargetGradient] {
        var result = [ValueID: TargetGradient]()
        // ∂/∂s and ∂/∂t of the upper lines, per ReLU output value, per box and neuron.
        var upperLineGradient = [ValueID: (s: [Double], t: [Double])]()
        let finalRows = Array(0..<rowBox.count)
        result[graph.output] = contribution(target: graph.output, rows: finalRows, rowBox: rowBox,
                                            weights: [Double](repeating: 1, count: rowBox.count), sweep: sweep,
                                            upperLineGradient: &upperLineGradient)
        // Intermediate targets, last first: their rows' weights are ∂loss/∂(their bound).
        let ordered = sweep.targets.keys.sorted { propagator.producers[$0]! > propagator.producers[$1]! }
        for v in ordered {
            let targets = sweep.targets[v]!
            guard let relu = graph.nodes.first(where: { $0.inputs.first == v && $0.operation == .relu }),
                  let g = upperLineGradient[relu.output], case .relu(let relaxation)? = sweep.relaxations[relu.output],
                  let bounds = sweep.bounds[v] else { continue }
            let size = graph.values[v].count
            var chosen = [Int](), weights = [Double]()
            for k in 0..<targets.count {
                let i = targets.box[k] * size + targets.neuron[k]
                guard relaxation.unstable[i], g.s[i] != 0 || g.t[i] != 0 else { continue }
                let (l, u) = (bounds.lower[i], bounds.upper[i])
                let width = u - l
                let dsdl = u / (width * width), dsdu = -l / (width * width)
                let s = u / width
                let gl = g.s[i] * dsdl + g.t[i] * (-(s + l * dsdl))
                let gu = g.s[i] * dsdu + g.t[i] * (-l * dsdu)
                // Straight-through: the bound kept may be an earlier sweep's (intersection),
                // but the gradient goes to this sweep's CROWN row as if it were binding, so
                // the slopes keep improving it (auto_LiRPA does the same with its reference
                // bounds).
                let (rowLower, rowUpper) = (sweep.rowBounds[v]![2 * k], -sweep.rowBounds[v]![2 * k + 1])
                if gl != 0 && (straightThrough || rowLower == l) { chosen.append(2 * k); weights.append(gl) }
                if gu != 0 && (straightThrough || rowUpper == u) { chosen.append(2 * k + 1); weights.append(-gu) }
            }
            // Rows whose weight is under 1% of the largest are left out of this step: they
            // barely move the loss, and each costs a forward pass. (The gradient only steers
            // the search; every slope stays valid.)
            let threshold = weightThreshold * (weights.map(abs).max() ?? 0)
            let kept = weights.indices.filter { abs(weights[$0]) > threshold }
            chosen = kept.map { chosen[$0] }
            weights = kept.map { weights[$0] }
            guard !chosen.isEmpty else { continue }
            let allRowBox = targets.rowBox
            result[v] = contribution(target: v, rows: chosen, rowBox: chosen.map { allRowBox[$0] }, weights: weights,
                                     sweep: sweep, upperLineGradient: &upperLineGradient)
        }
        return result
    }

    /// Gradients of `Σ_k weights[k] · L_{rows[k]}` for rows of one target, from what the
    /// sweep's backward passes recorded for them (``BoundPropagator/GradientRecord``): returns
    /// the α gradient per row (keyed by the row's index among the target's rows) and adds the
    /// upper-line gradients to `upperLineGradient`. Rows run in parallel chunks. A sweep that
    /// did not record gives no gradient (the slopes then stay where they are).
    private func contribution(target: ValueID, rows: [Int], rowBox: [Int], weights: [Double],
                              sweep: BoundPropagator.IntermediateSweep,
                              upperLineGradient: inout [ValueID: (s: [Double], t: [Double])]) -> TargetGradient {
        var alphaGradients = TargetGradient(rows: rows, chunks: [])
        guard let record = sweep.records[target], let neurons = sweep.recordedNeurons else { return alphaGradients }
        let (chunk, chunks) = propagator.chunking(rows.count)
        let allRows = rowCount(target, sweep.targets)
        let slopes = alpha[target] ?? [:]
        let n = propagator.inputSize
        // Per chunk, kept in chunk order: the α gradients, and the upper-line gradients, summed in
        // that order afterwards so that a run's result does not depend on which thread finished first.
        let lock = NSLock()
        var results = [(alpha: TargetGradient.Chunk, upperLine: [ValueID: (s: [Double], t: [Double])])?](repeating: nil, count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let range = (c * chunk)..<min(rows.count, (c + 1) * chunk)
            let chunkRows = Array(rows[range]), chunkBoxes = Array(rowBox[range])
            let width = chunkRows.count
            // Each row's minimising corner, and its recorded coefficients, as this chunk's columns,
            // copied element by element over runs of columns that one recorded chunk holds.
            var runs = [(part: Int, start: Int, rows: [Int])]()
            for (k, r) in chunkRows.enumerated() {
                let (part, row) = r.quotientAndRemainder(dividingBy: record.chunkSize)
                if let last = runs.last, last.part == part, last.start + last.rows.count == k {
                    runs[runs.count - 1].rows.append(row)
                } else {
                    runs.append((part, k, [row]))
                }
            }
            var coefficients = [ValueID: [Double]]()
            for u in Set(record.chunks.flatMap(\.coefficients.keys)) {
                let count = neurons[u]?.count ?? 0
                var gathered = [Double](repeating: 0, count: count * width)
                gathered.withUnsafeMutableBufferPointer { out in
                    for run in runs {
                        guard let all = record.chunks[run.part].coefficients[u] else { continue }
                        let stride = record.chunks[run.part].rows
                        all.withUnsafeBufferPointer { all in
                            for j in 0..<count {
                                let source = all.baseAddress! + j * stride, o = out.baseAddress! + j * width + run.start
                                for (k, row) in run.rows.enumerated() { o[k] = source[row] }
                            }
                        }
                    }
                }
                coefficients[u] = gathered
            }
            // Only the input elements the forward pass reads get their corner.
            let needed = propagator.producers[target].map {
                neededElements(coefficients, neurons: neurons, last: $0, rows: width)
            } ?? []
            let inputNeeded = (needed.isEmpty ? nil : needed[graph.input]) ?? [Bool](repeating: false, count: n)
            var corner = [Double](repeating: 0, count: n * width)
            corner.withUnsafeMutableBufferPointer { out in
                box.lower.withUnsafeBufferPointer { lo in
                    box.upper.withUnsafeBufferPointer { up in
                        for run in runs {
                            let part = record.chunks[run.part]
                            part.atLower.withUnsafeBufferPointer { atLower in
                                for i in 0..<n where inputNeeded[i] {
                                    let flags = atLower.baseAddress! + i * part.rows, o = out.baseAddress! + i * width + run.start
                                    for (k, row) in run.rows.enumerated() {
                                        let e = chunkBoxes[run.start + k] * n + i
                                        o[k] = flags[row] ? lo[e] : up[e]
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let local = relaxedForward(corner: corner, needed: needed, coefficients: coefficients, neurons: neurons, target: target,
                                       rowBox: chunkBoxes, weights: Array(weights[range]), slopes: slopes, slopeStride: allRows,
                                       slopeColumns: chunkRows, relaxations: sweep.relaxations)
            lock.lock()
            results[c] = (.init(range: range, values: local.alpha), local.upperLine)
            lock.unlock()
        }
        for (alpha, lines) in results.map({ $0! }) {
            alphaGradients.chunks.append(alpha)
            for (u, g) in lines {
                var total = upperLineGradient[u] ?? ([Double](repeating: 0, count: g.s.count), [Double](repeating: 0, count: g.t.count))
                for i in 0..<g.s.count {
                    total.s[i] += g.s[i]
                    total.t[i] += g.t[i]
                }
                upperLineGradient[u] = total
            }
        }
        return alphaGradients
    }

    /// The forward pass of the relaxed network at each row's minimising corner (see the
    /// type comment), returning weighted α gradients (element-major per ReLU) and
    /// upper-line gradients (per box and neuron).
    ///
    /// Values are element-major (`size × rows`, one column per row). Only the elements the
    /// gradients depend on (`needed`, from ``neededElements``) are computed: for the rows of an
    /// intermediate bound, spatially ordered, that is the receptive field of a few
    /// neighbouring neurons, and convolutions skip the other positions.
    private func relaxedForward(corner: [Double], needed: [[Bool]?], coefficients: [ValueID: [Double]], neurons: [ValueID: [Int]],
                                target: ValueID, rowBox: [Int], weights: [Double],
                                slopes: [ValueID: [Double]], slopeStride: Int, slopeColumns: [Int],
                                relaxations: [ValueID: NodeRelaxation])
        -> (alpha: [ValueID: TargetGradient.Sparse], upperLine: [ValueID: (s: [Double], t: [Double])]) {
        let rows = rowBox.count
        guard let last = propagator.producers[target] else { return ([:], [:]) }
        var xi = [[Double]?](repeating: nil, count: graph.values.count)
        xi[graph.input] = corner
        var alphaGradients = [ValueID: TargetGradient.Sparse]()
        var upperLine = [ValueID: (s: [Double], t: [Double])]()
        for node in graph.nodes[0..<last] {
            guard needed[node.output] != nil, node.inputs.allSatisfy({ xi[$0] != nil }) else { continue }
            let shapes = node.inputs.map { graph.values[$0].shape }
            let outShape = graph.values[node.output].shape
            let size = outShape.elementCount
            switch node.operation {
            case .relu:
                guard case .relu(let relu)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                var post = [Double](repeating: 0, count: size * rows)
                guard let a = coefficients[node.output], let unstable = neurons[node.output],
                      let alpha = slopes[node.output] else {
                    // Not reached by the backward pass: any line will do, it carries no weight.
                    for j in 0..<size {
                        for r in 0..<rows { post[j * rows + r] = relu.lowerSlope[rowBox[r] * size + j] * pre[j * rows + r] }
                    }
                    xi[node.output] = post
                    continue
                }
                // `a` holds the coefficients on the recorded (unstable) neurons, which alone carry
                // α gradients.
                let singleBox = rowBox.allSatisfy { $0 == rowBox[0] } ? rowBox[0] : nil
                var slot = [Int](repeating: -1, count: size)
                for (index, j) in unstable.enumerated() { slot[j] = index }
                var g = [Double](repeating: 0, count: unstable.count * rows)
                var gs = [Double](repeating: 0, count: batch * size), gt = gs
                let mask = needed[node.output]!
                // Only the elements later computations read (or that carry a gradient) are
                // computed; the others stay zero.
                pre.withUnsafeBufferPointer { pre in
                a.withUnsafeBufferPointer { a in
                alpha.withUnsafeBufferPointer { alpha in
                post.withUnsafeMutableBufferPointer { post in
                g.withUnsafeMutableBufferPointer { g in
                    for j in 0..<size where mask[j] {
                        let block = j * rows
                        if let b = singleBox {
                            let k = b * size + j
                            if !relu.unstable[k] {
                                let slope = relu.lowerSlope[k]
                                for r in 0..<rows { post[block + r] = slope * pre[block + r] }
                                continue
                            }
                            let (upper, intercept) = (relu.upperSlope[k], relu.upperIntercept[k])
                            var (sumS, sumT) = (0.0, 0.0)
                            let recorded = slot[j] * rows
                            for r in 0..<rows {
                                let e = block + r, c = a[recorded + r], x = pre[e]
                                if c >= 0 {
                                    post[e] = alpha[j * slopeStride + slopeColumns[r]] * x
                                    g[recorded + r] = weights[r] * c * x
                                } else {
                                    post[e] = upper * x + intercept
                                    sumS += weights[r] * c * x
                                    sumT += weights[r] * c
                                }
                            }
                            gs[k] += sumS
                            gt[k] += sumT
                        } else {
                            for r in 0..<rows {
                                let e = block + r, k = rowBox[r] * size + j
                                if !relu.unstable[k] {
                                    post[e] = relu.lowerSlope[k] * pre[e]
                                } else if a[slot[j] * rows + r] >= 0 {
                                    post[e] = alpha[j * slopeStride + slopeColumns[r]] * pre[e]
                                    g[slot[j] * rows + r] = weights[r] * a[slot[j] * rows + r] * pre[e]
                                } else {
                                    let c = a[slot[j] * rows + r]
                                    post[e] = relu.upperSlope[k] * pre[e] + relu.upperIntercept[k]
                                    gs[k] += weights[r] * c * pre[e]
                                    gt[k] += weights[r] * c
                                }
                            }
                        }
                    }
                }
                }
                }
                }
                }
                xi[node.output] = post
                alphaGradients[node.output] = TargetGradient.Sparse(neurons: unstable, values: g)
                upperLine[node.output] = (gs, gt)
            case .maxPool:
                guard case .maxPool(let relaxation)? = relaxations[node.output] else { continue }
                let pre = xi[node.inputs[0]]!
                var post = [Double](repeating: 0, count: size * rows)
                // The lower line (exact where the window is dominated) as an approximation.
                for o in 0..<size {
                    for r in 0..<rows { post[o * rows + r] = pre[relaxation.winner[rowBox[r] * size + o] * rows + r] }
                }
                xi[node.output] = post
            default:
                xi[node.output] = Kernels.forwardColumns(node.operation, operands: node.inputs.map { xi[$0]! }, count: rows,
                                                         shapes: shapes, outputShape: outShape, needed: needed[node.output])
            }
        }
        return (alphaGradients, upperLine)
    }

    /// The elements of each value (before `last`) that the gradients depend on: at a ReLU,
    /// the pre-activations of recorded (unstable) neurons where some row's coefficient on the
    /// output is non-zero (only they carry gradients), and
    /// everything later computations read. Masks are propagated backwards structurally:
    /// elementwise operations keep them, a convolution widens each needed output position to
    /// its input window (all channels), and any other operation needs all of its operands.
    private func neededElements(_ coefficients: [ValueID: [Double]], neurons: [ValueID: [Int]], last: Int, rows: Int) -> [[Bool]?] {
        var needed = [[Bool]?](repeating: nil, count: graph.values.count)
        func mark(_ v: ValueID, _ mask: [Bool]) {
            guard var old = needed[v] else {
                needed[v] = mask
                return
            }
            for i in mask.indices where mask[i] { old[i] = true }
            needed[v] = old
        }
        for index in stride(from: last - 1, through: 0, by: -1) {
            let node = graph.nodes[index]
            var mask = needed[node.output]
            if node.operation == .relu, let a = coefficients[node.output], let list = neurons[node.output] {
                let size = graph.values[node.output].count
                var m = mask ?? [Bool](repeating: false, count: size)
                a.withUnsafeBufferPointer { pa in
                    for (k, j) in list.enumerated() where !m[j] {
                        let block = pa.baseAddress! + k * rows
                        for r in 0..<rows where block[r] != 0 {
                            m[j] = true
                            break
                        }
                    }
                }
                mask = m
            }
            guard let mask, mask.contains(true) else { continue }
            needed[node.output] = mask
            switch node.operation {
            case .relu, .add, .subtract, .reshape, .addConstant, .multiplyConstant, .divideConstant, .channelAffine:
                for operand in node.inputs { mark(operand, mask) }
            case .convolution(let conv):
                mark(node.inputs[0], ConvolutionKernels.inputMask(conv, outputMask: mask, inputShape: graph.values[node.inputs[0]].shape))
            default:
                for operand in node.inputs { mark(operand, [Bool](repeating: true, count: graph.values[operand].count)) }
            }
        }
        return needed
    }
}
