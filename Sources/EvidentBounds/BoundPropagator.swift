import Foundation
import EvidentIR
import EvidentEval

/// Which bound computation to run.
public enum BoundMethod: String, Sendable, CaseIterable {
    /// Interval bound propagation.
    case ibp
    /// Backward linear relaxation (CROWN/DeepPoly) with CROWN intermediate bounds.
    case crown
    /// CROWN with lower ReLU slopes of the final specification optimised by projected Adam.
    case alphaCrown = "alpha-crown"
}

/// Settings of a bound computation.
public struct BoundOptions: Sendable {
    public var method: BoundMethod
    /// α-CROWN: number of Adam steps.
    public var iterations: Int
    /// α-CROWN: Adam step size.
    public var learningRate: Double
    /// How intermediate (pre-activation) bounds are computed when `method` is CROWN or
    /// α-CROWN: `.crown` (default) or `.ibp` (cheaper, looser; for very large networks).
    public var intermediateMethod: BoundMethod

    public init(method: BoundMethod = .crown, iterations: Int = 20, learningRate: Double = 0.1,
                intermediateMethod: BoundMethod = .crown) {
        self.method = method
        self.iterations = iterations
        self.learningRate = learningRate
        self.intermediateMethod = intermediateMethod
    }
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
    /// For α-CROWN: the optimised lower slopes per ReLU node output value, each
    /// `size × batch·rows`, element-major (the relaxation parameters a checker needs).
    public var slopes: [ValueID: [Double]]
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
    /// Per value: whether some ReLU or MaxPool lies between the input and it.
    let afterNonlinearity: [Bool]
    /// Per value: whether it is the operand of a ReLU or MaxPool (needs bounds for relaxation).
    let isPreActivation: [Bool]

    /// Prepares bound computations on `graph`.
    ///
    /// OpenBLAS is switched to one thread: the propagator parallelises over chunks of
    /// specification rows itself, and many of its products are too small for OpenBLAS's
    /// own threads to pay off.
    public init(graph: Graph) {
        BLAS.threadCount = 1
        Self.keepLargeAllocationsInHeap
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
        var after = [Bool](repeating: false, count: graph.values.count)
        var pre = [Bool](repeating: false, count: graph.values.count)
        for node in graph.nodes {
            after[node.output] = !node.operation.isAffine || node.inputs.contains { after[$0] }
            if !node.operation.isAffine { pre[node.inputs[0]] = true }
        }
        afterNonlinearity = after
        isPreActivation = pre
    }

    /// Coefficient matrices of megabytes are allocated and freed at every step; glibc would
    /// map and unmap each one (page faults dominate then). Raising the mmap threshold keeps
    /// them in the heap for reuse. Process-wide and done once.
    private static let keepLargeAllocationsInHeap: Void = {
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 30)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 30)
        #endif
    }()

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
        if options.method == .ibp {
            let all = intervalBounds(lower: lower, upper: upper, batch: batch)
            let y = all[graph.output]!
            var result = [Double](repeating: 0, count: batch * spec.rows)
            for b in 0..<batch {
                for r in 0..<spec.rows {
                    var sum = 0.0
                    for j in 0..<outputSize {
                        let c = spec.coefficients[r * outputSize + j]
                        sum += c >= 0 ? c * y.lower[b * outputSize + j] : c * y.upper[b * outputSize + j]
                    }
                    result[b * spec.rows + r] = sum
                }
            }
            return BoundResult(lower: result, intermediate: all, slopes: [:])
        }
        let intermediate = intermediateBounds(box: box, batch: batch, useCrown: options.intermediateMethod != .ibp)
        let relaxations = makeRelaxations(intermediate, batch: batch)
        let rows = batch * spec.rows
        // Element-major: column r = b·S + s holds specification row s for box b.
        var initial = [Double](repeating: 0, count: rows * outputSize)
        for e in 0..<outputSize {
            for r in 0..<rows { initial[e * rows + r] = spec.coefficients[(r % spec.rows) * outputSize + e] }
        }
        let rowBox = (0..<rows).map { $0 / spec.rows }
        if options.method == .alphaCrown {
            let optimised = optimiseSlopes(initial: initial, rowBox: rowBox, box: box, relaxations: relaxations,
                                           intermediate: intermediate, options: options)
            return BoundResult(lower: optimised.lower, intermediate: intermediate, slopes: optimised.slopes)
        }
        let pass = BackwardPass(propagator: self, target: graph.output, rowBox: rowBox, relaxations: relaxations)
        let lowerBounds = pass.run(initial: initial, box: box)
        return BoundResult(lower: lowerBounds.bounds, intermediate: intermediate, slopes: [:])
    }

    // MARK: - Intermediate bounds

    func propagateInterval(_ index: Int, _ bounds: [IntervalBounds?], batch: Int) -> IntervalBounds {
        let node = graph.nodes[index]
        return IntervalArithmetic.propagate(
            node.operation, absolute: absoluteParts[index], operands: node.inputs.map { bounds[$0]! },
            shapes: node.inputs.map { graph.values[$0].shape }, outputShape: graph.values[node.output].shape, batch: batch)
    }

    /// Bounds of every value, with pre-activation bounds from CROWN when `useCrown`.
    ///
    /// Values are visited in topological order. Each value first gets interval bounds from
    /// its operands' best bounds (a cheap proof of stability for many neurons). A
    /// pre-activation that depends on an earlier nonlinearity then gets CROWN bounds for
    /// the neurons that interval bounds leave unstable, and keeps the intersection of
    /// both (each is sound, so the intersection is). A pre-activation that is an affine
    /// function of the input needs nothing more: the centre-radius interval bound of an
    /// affine map is exact in real arithmetic, equal to CROWN's.
    func intermediateBounds(box: IntervalBounds, batch: Int, useCrown: Bool) -> [IntervalBounds?] {
        var bounds = [IntervalBounds?](repeating: nil, count: graph.values.count)
        bounds[graph.input] = box
        var relaxations = [ValueID: NodeRelaxation]()
        for (index, node) in graph.nodes.enumerated() {
            var current = propagateInterval(index, bounds, batch: batch)
            let v = node.output
            // A ReLU or MaxPool output (e.g. a ReLU feeding a MaxPool) keeps its interval
            // bounds: given its operand's bounds they are already exact elementwise.
            if useCrown && isPreActivation[v] && afterNonlinearity[v] && node.operation.isAffine {
                current = crownTighten(v, current, batch: batch, box: box, relaxations: relaxations)
            }
            bounds[v] = current
            if let relaxation = makeRelaxation(index, bounds, batch: batch) { relaxations[v] = relaxation }
        }
        return bounds
    }

    /// CROWN bounds for the neurons of value `v` that `current` leaves undecided.
    func crownTighten(_ v: ValueID, _ current: IntervalBounds, batch: Int, box: IntervalBounds,
                      relaxations: [ValueID: NodeRelaxation]) -> IntervalBounds {
        let size = graph.values[v].count
        // Only ReLU inputs can skip stable neurons; MaxPool inputs need every bound.
        let onlyUnstable = !graph.nodes.contains { $0.inputs.first == v && $0.operation != .relu }
        var targets = [(box: Int, neuron: Int)]()
        for b in 0..<batch {
            for j in 0..<size {
                let l = current.lower[b * size + j], u = current.upper[b * size + j]
                if !onlyUnstable || (l < 0 && u > 0) { targets.append((b, j)) }
            }
        }
        guard !targets.isEmpty else { return current }
        if ProcessInfo.processInfo.environment["EVIDENT_DEBUG"] != nil { FileHandle.standardError.write(Data("crown targets for \(graph.values[v].name): \(targets.count)/\(size * batch)\n".utf8)) }
        // Rows 2k and 2k+1: lower bound of +ẑ_j and of −ẑ_j (minus its upper bound).
        let rowBox = targets.flatMap { [$0.box, $0.box] }
        let result = backwardInChunks(target: v, rowBox: rowBox, box: box, relaxations: relaxations) { range in
            .unit(element: range.map { targets[$0 / 2].neuron }, value: range.map { $0 % 2 == 0 ? 1 : -1 })
        }
        var tightened = current
        for (k, t) in targets.enumerated() {
            let i = t.box * size + t.neuron
            tightened.lower[i] = max(tightened.lower[i], result[2 * k])
            tightened.upper[i] = min(tightened.upper[i], -result[2 * k + 1])
        }
        return tightened
    }

    /// Runs the backward pass for `rowBox.count` rows in chunks small enough for the
    /// coefficient matrices to stay in cache, spread over the cores (OpenBLAS runs
    /// single-threaded inside, one chunk per thread). Rows are independent, so the result
    /// is the same as one pass over all rows. `initial(range)` builds the initial
    /// coefficients of the rows in `range`.
    func backwardInChunks(target: ValueID, rowBox: [Int], box: IntervalBounds, relaxations: [ValueID: NodeRelaxation],
                          initial: (Range<Int>) -> Coefficients) -> [Double] {
        let rows = rowBox.count
        let widest = graph.values.map(\.count).max() ?? 1
        let env = ProcessInfo.processInfo.environment
        let budget = Int(env["EVIDENT_CHUNK_BUDGET"] ?? "") ?? (1 << 19)
        let cap = Int(env["EVIDENT_CHUNK_CAP"] ?? "") ?? 512
        let chunk = max(16, min(cap, budget / max(1, widest)))
        let chunks = (rows + chunk - 1) / chunk
        var result = [Double](repeating: 0, count: rows)
        result.withUnsafeMutableBufferPointer { out in
            let out = UnsafeMutableBufferPointerBox(out)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let range = (c * chunk)..<min(rows, (c + 1) * chunk)
                let pass = BackwardPass(propagator: self, target: target, rowBox: Array(rowBox[range]), relaxations: relaxations)
                let bounds = pass.run(initial: initial(range), box: box).bounds
                for (k, r) in range.enumerated() { out.buffer[r] = bounds[k] }
            }
        }
        return result
    }

    func makeRelaxations(_ bounds: [IntervalBounds?], batch: Int) -> [ValueID: NodeRelaxation] {
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

#if os(Linux)
/// glibc's `mallopt` (declared in `malloc.h`, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Lets concurrent chunks write disjoint parts of one buffer.
struct UnsafeMutableBufferPointerBox: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Double>
    init(_ buffer: UnsafeMutableBufferPointer<Double>) { self.buffer = buffer }
}

/// The relaxation of one nonlinear node.
enum NodeRelaxation {
    case relu(ReluRelaxation)
    case maxPool(MaxPoolRelaxation)
}
