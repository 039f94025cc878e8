import EvidentIR
import EvidentEval

/// One CROWN backward pass: lower bounds of `Λ · v` for rows `Λ` over a target value `v`,
/// each row belonging to one input box.
///
/// Coefficient matrices are element-major (`size × rows`, see `Kernels.transpose`), so
/// the rows of a batch of boxes and specifications go through every kernel together.
///
/// Coefficients are walked from the target back to the input through the DAG in reverse
/// topological order. At a fan-out the coefficient matrices arriving from all consumers
/// are summed before the walk continues past the value, so each node is visited once.
/// Affine nodes map coefficients through their transposed linear part (transposed
/// convolution via GEMM for convolutions) and add `Λ · offset` to the running constant;
/// ReLU and MaxPool nodes apply the lower or upper line of their relaxation according to
/// the sign of each coefficient. At the input, `min over the box` is taken coordinatewise.
struct BackwardPass {
    let propagator: BoundPropagator
    let target: ValueID
    let rowBox: [Int]
    let relaxations: [ValueID: NodeRelaxation]
    /// Optional per-row lower slopes (`size × rows`) for ReLU nodes, keyed by the ReLU
    /// output value; these replace the default adaptive slopes (α-CROWN).
    var slopes: [ValueID: [Double]] = [:]
    /// Whether to keep the coefficients arriving at each ReLU output (for α gradients).
    var recordsReluCoefficients = false

    struct Output {
        /// Lower bound per row.
        var bounds: [Double]
        /// Coefficients on each ReLU output (`size × rows`), when recorded.
        var reluCoefficients: [ValueID: [Double]]
        /// Coefficients on the input (`inputSize × rows`).
        var inputCoefficients: [Double]
    }

    init(propagator: BoundPropagator, target: ValueID, rowBox: [Int], relaxations: [ValueID: NodeRelaxation]) {
        self.propagator = propagator
        self.target = target
        self.rowBox = rowBox
        self.relaxations = relaxations
    }

    func run(initial: [Double], box: IntervalBounds) -> Output {
        let graph = propagator.graph
        let rows = rowBox.count
        let targetSize = graph.values[target].count
        precondition(initial.count == rows * targetSize, "BackwardPass: initial coefficients have the wrong size")
        var coefficients = [[Double]?](repeating: nil, count: graph.values.count)
        coefficients[target] = initial
        var constant = [Double](repeating: 0, count: rows)
        var recorded = [ValueID: [Double]]()
        guard let last = propagator.producers[target] else {
            return concretize(initial, constant: constant, box: box, recorded: recorded)
        }
        for index in stride(from: last, through: 0, by: -1) {
            let node = graph.nodes[index]
            // Take the matrix out so it is uniquely referenced and steps can work in place.
            guard var a = coefficients[node.output] else { continue }
            coefficients[node.output] = nil
            let shapes = node.inputs.map { graph.values[$0].shape }
            let outShape = graph.values[node.output].shape
            let contributions: [[Double]]
            switch node.operation {
            case .relu:
                if recordsReluCoefficients { recorded[node.output] = a }
                guard case .relu(let relaxation)? = relaxations[node.output] else {
                    preconditionFailure("BackwardPass: ReLU '\(node.name)' has no relaxation")
                }
                reluStep(&a, relaxation, size: outShape.elementCount, constant: &constant, slopes: slopes[node.output])
                contributions = [a]
            case .maxPool:
                guard case .maxPool(let relaxation)? = relaxations[node.output] else {
                    preconditionFailure("BackwardPass: MaxPool '\(node.name)' has no relaxation")
                }
                contributions = [maxPoolStep(a, relaxation, inSize: shapes[0].elementCount,
                                             outSize: outShape.elementCount, constant: &constant)]
            default:
                if let offset = propagator.offsets[index] {
                    a.withUnsafeBufferPointer { pa in
                        constant.withUnsafeMutableBufferPointer { k in
                            for (e, value) in offset.enumerated() where value != 0 {
                                for r in 0..<rows { k[r] += pa[e * rows + r] * value }
                            }
                        }
                    }
                }
                contributions = Kernels.transpose(node.operation, columns: a, count: rows, shapes: shapes,
                                                  outputShape: outShape) ?? []
            }
            for (operand, contribution) in zip(node.inputs, contributions) {
                guard var existing = coefficients[operand] else {
                    coefficients[operand] = contribution
                    continue
                }
                coefficients[operand] = nil
                existing.withUnsafeMutableBufferPointer { e in
                    contribution.withUnsafeBufferPointer { c in for i in 0..<e.count { e[i] += c[i] } }
                }
                coefficients[operand] = existing
            }
        }
        let atInput = coefficients[graph.input] ?? [Double](repeating: 0, count: rows * propagator.inputSize)
        return concretize(atInput, constant: constant, box: box, recorded: recorded)
    }

    /// `constant + Σ_i min(a_i l_i, a_i u_i)` per row.
    private func concretize(_ a: [Double], constant: [Double], box: IntervalBounds,
                            recorded: [ValueID: [Double]]) -> Output {
        let n = propagator.inputSize, rows = rowBox.count
        var bounds = constant
        a.withUnsafeBufferPointer { pa in
            box.lower.withUnsafeBufferPointer { lo in
                box.upper.withUnsafeBufferPointer { up in
                    bounds.withUnsafeMutableBufferPointer { k in
                        for i in 0..<n {
                            for r in 0..<rows {
                                let c = pa[i * rows + r], base = rowBox[r] * n
                                k[r] += c >= 0 ? c * lo[base + i] : c * up[base + i]
                            }
                        }
                    }
                }
            }
        }
        return Output(bounds: bounds, reluCoefficients: recorded, inputCoefficients: a)
    }

    /// Maps coefficients on a ReLU output to its input: lower line for non-negative
    /// coefficients, upper line (with its intercept added to the constant) for negative ones.
    private func reluStep(_ out: inout [Double], _ relaxation: ReluRelaxation, size: Int, constant: inout [Double],
                          slopes rowSlopes: [Double]?) {
        let rows = rowBox.count
        out.withUnsafeMutableBufferPointer { o in
            relaxation.upperSlope.withUnsafeBufferPointer { us in
                relaxation.upperIntercept.withUnsafeBufferPointer { ui in
                    relaxation.lowerSlope.withUnsafeBufferPointer { ls in
                        constant.withUnsafeMutableBufferPointer { k in
                            for j in 0..<size {
                                for r in 0..<rows {
                                    let i = j * rows + r, c = o[i]
                                    if c == 0 { continue }
                                    let b = rowBox[r] * size + j
                                    if c > 0 {
                                        o[i] = c * (rowSlopes?[i] ?? ls[b])
                                    } else {
                                        o[i] = c * us[b]
                                        k[r] += c * ui[b]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func maxPoolStep(_ a: [Double], _ relaxation: MaxPoolRelaxation, inSize: Int, outSize: Int,
                             constant: inout [Double]) -> [Double] {
        let rows = rowBox.count
        var out = [Double](repeating: 0, count: inSize * rows)
        for o in 0..<outSize {
            for r in 0..<rows {
                let c = a[o * rows + r]
                if c == 0 { continue }
                let k = rowBox[r] * outSize + o
                if c >= 0 || relaxation.dominated[k] {
                    out[relaxation.winner[k] * rows + r] += c
                } else {
                    constant[r] += c * relaxation.upperConstant[k]
                }
            }
        }
        return out
    }
}
