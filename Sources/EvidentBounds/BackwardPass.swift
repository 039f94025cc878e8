import EvidentIR
import EvidentEval

/// Coefficients on one value for all rows of a backward pass, in precision `S`.
enum Coefficients<S: BLASScalar> {
    /// Element-major `size × rows` matrix (see `Kernels.transpose`).
    case dense([S])
    /// Row `r` has the single non-zero `value[r]` at `element[r]`: the start of an
    /// intermediate-bound pass, where every row is one neuron of the target.
    case unit(element: [Int], value: [S])

    /// `coefficients` rounded to precision `S`.
    init(_ coefficients: Coefficients<Double>) {
        switch coefficients {
        case .dense(let a): self = .dense(Kernels.converted(a))
        case let .unit(element, value): self = .unit(element: element, value: Kernels.converted(value))
        }
    }

    func densified(size: Int, rows: Int) -> [S] {
        switch self {
        case .dense(let a):
            return a
        case let .unit(element, value):
            var a = [S](repeating: 0, count: size * rows)
            for r in 0..<rows { a[element[r] * rows + r] = value[r] }
            return a
        }
    }
}

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
/// Rows that start as unit vectors (one neuron each) stay in a sparse form until the
/// first convolution or linear layer, which then only places weight patches.
///
/// Precision: coefficient matrices are held and multiplied in `precision` (Float64 or
/// Float32); relaxation parameters are rounded to it where they multiply coefficients, and the
/// running constants and the final concretisation are accumulated in Float64. Float32
/// passes are faster (1.4 times on resnet_2b) and their bounds differ from Float64 ones by
/// rounding of relative size 6e-8 per operation, accumulated over the graph (see
/// `BoundPrecision`).
struct BackwardPass {
    let propagator: BoundPropagator
    let target: ValueID
    let rowBox: [Int]
    let relaxations: [ValueID: NodeRelaxation]
    /// Optional per-row lower slopes for ReLU nodes, keyed by the ReLU output value; these
    /// replace the default adaptive slopes (α-CROWN). Each is element-major with
    /// `slopeStride` columns, this pass's rows being columns `slopeOffset ..< slopeOffset + rows`
    /// (so a chunk of rows can use the full matrix without copying).
    var slopes: [ValueID: [Double]] = [:]
    var slopeStride: Int? = nil
    var slopeOffset = 0
    /// Whether to keep the coefficients arriving at each ReLU output (for α gradients).
    var recordsReluCoefficients = false
    /// When set, the coefficients arriving at each listed ReLU output are kept at the listed
    /// neurons only (``Output/compactReluCoefficients``): what α gradients need of a pass.
    var recordedNeurons: [ValueID: [Int]]? = nil
    /// Whether to return the coefficients on the input.
    var recordsInputCoefficients = false
    /// When set, the walk stops at every ReLU and MaxPool output and concretises the
    /// coefficients arriving there with these interval bounds (indexed by value) instead of
    /// relaxing the node: the specification folded into the trailing affine layers, as
    /// auto_LiRPA does for IBP.
    var intervalStops: [IntervalBounds?]? = nil
    /// The box of every row when all rows share one (the common case), else `nil`.
    let singleBox: Int?
    /// The precision of the coefficient matrices.
    var precision = BoundPrecision.float64
    /// β-CROWN terms: per pre-activation value, coefficients added to single elements of
    /// single rows when the pass reaches that value (`row` counts from ``slopeOffset``, like
    /// slope columns), before it continues past the value's producer.
    var betaTerms: [ValueID: [BetaTerm]] = [:]

    /// One split multiplier's contribution `coefficient · ẑ[element]` to row `row`.
    struct BetaTerm {
        var row: Int
        var element: Int
        var coefficient: Double
    }

    struct Output {
        /// Lower bound per row.
        var bounds: [Double]
        /// Coefficients on each ReLU output (`size × rows`), when recorded.
        var reluCoefficients: [ValueID: [Double]]
        /// Coefficients on the input (`inputSize × rows`), when recorded.
        var inputCoefficients: [Double]
        /// Coefficients on the ``recordedNeurons`` of each ReLU output reached
        /// (`neurons.count × rows`), when recorded.
        var compactReluCoefficients: [ValueID: [Double]] = [:]
    }

    init(propagator: BoundPropagator, target: ValueID, rowBox: [Int], relaxations: [ValueID: NodeRelaxation]) {
        self.propagator = propagator
        self.target = target
        self.rowBox = rowBox
        self.relaxations = relaxations
        singleBox = rowBox.allSatisfy { $0 == rowBox.first } ? rowBox.first : nil
    }

    func run(initial: [Double], box: IntervalBounds) -> Output {
        run(initial: .dense(initial), box: box)
    }

    /// The pass for rows starting at `initial` (rounded to the pass's precision).
    func run(initial: Coefficients<Double>, box: IntervalBounds) -> Output {
        WorkCounters.recordPass(rows: rowBox.count)
        switch precision {
        case .float64: return run(Double.self, initial: initial, box: box)
        case .float32: return run(Float.self, initial: initial, box: box)
        }
    }

    private func run<S: BLASScalar>(_: S.Type, initial: Coefficients<Double>, box: IntervalBounds) -> Output {
        let graph = propagator.graph
        let rows = rowBox.count
        if case .dense(let a) = initial {
            precondition(a.count == rows * graph.values[target].count, "BackwardPass: initial coefficients have the wrong size")
        }
        var coefficients = [Coefficients<S>?](repeating: nil, count: graph.values.count)
        coefficients[target] = Coefficients<S>(initial)
        var constant = [Double](repeating: 0, count: rows)
        var recorded = [ValueID: [Double]](), compact = [ValueID: [Double]]()
        if let last = propagator.producers[target] {
            for index in stride(from: last, through: 0, by: -1) {
                let node = graph.nodes[index]
                if let terms = betaTerms[node.output] {
                    addBetaTerms(terms, to: &coefficients[node.output], size: graph.values[node.output].count)
                }
                guard let incoming = coefficients[node.output] else { continue }
                // Take the matrix out so it is uniquely referenced and steps can work in place.
                coefficients[node.output] = nil
                if let stops = intervalStops, !node.operation.isAffine, let bounds = stops[node.output] {
                    let size = graph.values[node.output].count
                    constant = concretize(incoming.densified(size: size, rows: rows), size: size, constant: constant, box: bounds)
                    continue
                }
                let contributions = step(index, consume incoming, constant: &constant, recorded: &recorded, compact: &compact)
                for (operand, contribution) in zip(node.inputs, contributions) {
                    accumulate(contribution, into: &coefficients[operand], size: graph.values[operand].count)
                }
            }
        }
        let atInput = (coefficients[graph.input] ?? .dense([S](repeating: 0, count: rows * propagator.inputSize)))
            .densified(size: propagator.inputSize, rows: rows)
        return Output(bounds: concretize(atInput, size: propagator.inputSize, constant: constant, box: box),
                      reluCoefficients: recorded,
                      inputCoefficients: recordsInputCoefficients ? Kernels.doubles(atInput) : [],
                      compactReluCoefficients: compact)
    }

    /// Maps the coefficients on node `index`'s output to its operands.
    /// `incoming` is consumed, so a dense matrix it holds is uniquely referenced and the ReLU
    /// step scales it in place (a borrowed one would be copied by the first write).
    private func step<S: BLASScalar>(_ index: Int, _ incoming: consuming Coefficients<S>, constant: inout [Double],
                      recorded: inout [ValueID: [Double]], compact: inout [ValueID: [Double]]) -> [Coefficients<S>] {
        let graph = propagator.graph
        let node = graph.nodes[index]
        let rows = rowBox.count
        let shapes = node.inputs.map { graph.values[$0].shape }
        let outShape = graph.values[node.output].shape
        let size = outShape.elementCount
        // Convolutions skip the elements without coefficients; finding them costs one pass
        // over the matrix, which also adds the offset.
        var support: [Bool]? = nil
        if case .convolution = node.operation { support = addOffset(incoming, propagator.offsets[index], to: &constant) }
        else if let offset = propagator.offsets[index] { addOffset(incoming, offset, to: &constant) }

        let records = recordsReluCoefficients || recordedNeurons?[node.output] != nil
        if case let .unit(element, value) = incoming, !records || node.operation != .relu {
            if let sparse = unitStep(node.operation, element: element, value: value, shapes: shapes,
                                     output: node.output, constant: &constant) {
                return sparse
            }
        }
        var a = (consume incoming).densified(size: size, rows: rows)
        switch node.operation {
        case .relu:
            if recordsReluCoefficients { recorded[node.output] = Kernels.doubles(a) }
            if let neurons = recordedNeurons?[node.output] {
                var kept = [Double](repeating: 0, count: neurons.count * rows)
                a.withUnsafeBufferPointer { pa in
                    for (k, j) in neurons.enumerated() {
                        for r in 0..<rows { kept[k * rows + r] = Double(pa[j * rows + r]) }
                    }
                }
                compact[node.output] = kept
            }
            guard case .relu(let relaxation)? = relaxations[node.output] else {
                preconditionFailure("BackwardPass: ReLU '\(node.name)' has no relaxation")
            }
            reluStep(&a, relaxation, size: size, constant: &constant, slopes: slopes[node.output])
            return [.dense(a)]
        case .maxPool:
            guard case .maxPool(let relaxation)? = relaxations[node.output] else {
                preconditionFailure("BackwardPass: MaxPool '\(node.name)' has no relaxation")
            }
            return [.dense(maxPoolStep(a, relaxation, inSize: shapes[0].elementCount, outSize: size, constant: &constant))]
        default:
            let mapped = Kernels.transpose(node.operation, columns: a, count: rows, shapes: shapes, outputShape: outShape,
                                           nonzero: support) ?? []
            return mapped.map { .dense($0) }
        }
    }

    /// Steps that keep unit rows sparse, or turn them into dense rows cheaply.
    /// Returns `nil` where the dense path should be taken.
    private func unitStep<S: BLASScalar>(_ operation: GraphOperation, element: [Int], value: [S], shapes: [[Int]],
                          output: ValueID, constant: inout [Double]) -> [Coefficients<S>]? {
        let rows = rowBox.count
        let size = propagator.graph.values[output].count
        switch operation {
        case .relu:
            guard case .relu(let relaxation)? = relaxations[output] else { return nil }
            var v = value
            let rowSlopes = slopes[output], stride = slopeStride ?? rows
            for r in 0..<rows {
                let e = element[r], k = rowBox[r] * size + e, c = v[r]
                if c >= 0 {
                    // Slopes only act on unstable neurons; stable ones are exact.
                    let slope = relaxation.unstable[k] ? (rowSlopes?[e * stride + slopeOffset + r] ?? relaxation.lowerSlope[k])
                        : relaxation.lowerSlope[k]
                    v[r] = c * S(slope)
                } else {
                    v[r] = c * S(relaxation.upperSlope[k])
                    constant[r] += Double(c) * relaxation.upperIntercept[k]
                }
            }
            return [.unit(element: element, value: v)]
        case .addConstant, .reshape:
            return [.unit(element: element, value: value)]
        case .select(let selection):
            return [.unit(element: element.map { selection.sources[$0] }, value: value)]
        case .multiplyConstant(let c):
            return [.unit(element: element, value: (0..<rows).map { value[$0] * S(c.scalars[element[$0]]) })]
        case .divideConstant(let c):
            return [.unit(element: element, value: (0..<rows).map { value[$0] * S(1 / c.scalars[element[$0]]) })]
        case .channelAffine(let scale, _):
            let shape = shapes[0], inner = shape[2...].elementCount, channels = shape[1]
            return [.unit(element: element, value: (0..<rows).map { value[$0] * S(scale[(element[$0] / inner) % channels]) })]
        case .add:
            return [.unit(element: element, value: value), .unit(element: element, value: value)]
        case .subtract:
            return [.unit(element: element, value: value), .unit(element: element, value: value.map { -$0 })]
        case .convolution(let conv):
            // Row r is one output neuron (image, m, oy, ox): its transpose is the filter of
            // channel m placed at the window of (oy, ox).
            let shape = shapes[0]
            let (c, h, w) = (shape[1], shape[2], shape[3])
            let outSize = propagator.graph.values[output].shape
            let (m, oh, ow) = (outSize[1], outSize[2], outSize[3])
            let cg = c / conv.group, mg = m / conv.group
            let (kh, kw) = (conv.window.kernel.height, conv.window.kernel.width)
            var out = [S](repeating: 0, count: shape.elementCount * rows)
            for r in 0..<rows {
                let e = element[r], v = value[r]
                let image = e / (m * oh * ow), channel = (e / (oh * ow)) % m
                let oy = (e / ow) % oh, ox = e % ow
                let g = channel / mg
                for ci in 0..<cg {
                    for ky in 0..<kh {
                        let y = oy * conv.window.strides.height - conv.window.pads.top + ky * conv.window.dilations.height
                        guard y >= 0 && y < h else { continue }
                        for kx in 0..<kw {
                            let x = ox * conv.window.strides.width - conv.window.pads.left + kx * conv.window.dilations.width
                            guard x >= 0 && x < w else { continue }
                            let input = ((image * c + g * cg + ci) * h + y) * w + x
                            out[input * rows + r] += v * S(conv.weight.scalars[((channel * cg + ci) * kh + ky) * kw + kx])
                        }
                    }
                }
            }
            return [.dense(out)]
        case .linear(let lin):
            var out = [S](repeating: 0, count: shapes[0].elementCount * rows)
            for r in 0..<rows {
                let group = element[r] / lin.outFeatures, n = element[r] % lin.outFeatures
                for k in 0..<lin.inFeatures {
                    out[(group * lin.inFeatures + k) * rows + r] = value[r] * S(lin.weight.scalars[n * lin.inFeatures + k])
                }
            }
            return [.dense(out)]
        default:
            return nil
        }
    }

    /// Adds the β terms of this pass's rows to the coefficients on one value.
    private func addBetaTerms<S: BLASScalar>(_ terms: [BetaTerm], to slot: inout Coefficients<S>?, size: Int) {
        let rows = rowBox.count
        let local = terms.filter { $0.row >= slopeOffset && $0.row < slopeOffset + rows }
        guard !local.isEmpty else { return }
        var a = slot?.densified(size: size, rows: rows) ?? [S](repeating: 0, count: size * rows)
        slot = nil
        for term in local { a[term.element * rows + term.row - slopeOffset] += S(term.coefficient) }
        slot = .dense(a)
    }

    /// `constant[r] += Σ_e Λ[e, r] · offset[e]` (no offset: nothing is added). For dense
    /// coefficients also returns which elements have a non-zero coefficient in some row: the
    /// same pass over the matrix finds them and skips the zero rows' products.
    @discardableResult
    private func addOffset<S: BLASScalar>(_ incoming: Coefficients<S>, _ offset: [Double]?, to constant: inout [Double]) -> [Bool]? {
        let rows = rowBox.count
        switch incoming {
        case let .unit(element, value):
            if let offset { for r in 0..<rows { constant[r] += Double(value[r]) * offset[element[r]] } }
            return nil
        case .dense(let a):
            let size = a.count / rows
            var support = [Bool](repeating: false, count: size)
            a.withUnsafeBufferPointer { pa in
                constant.withUnsafeMutableBufferPointer { k in
                    for e in 0..<size {
                        let block = pa.baseAddress! + e * rows
                        guard Kernels.rowIsNonzero(block, count: rows) else { continue }
                        support[e] = true
                        if let o = offset?[e], o != 0 {
                            for r in 0..<rows { k[r] += Double(block[r]) * o }
                        }
                    }
                }
            }
            return support
        }
    }

    /// Adds a contribution to the coefficients already arriving at a value (fan-out).
    private func accumulate<S: BLASScalar>(_ contribution: Coefficients<S>, into slot: inout Coefficients<S>?, size: Int) {
        guard let existing = slot else {
            slot = contribution
            return
        }
        slot = nil
        if case let .unit(e1, v1) = existing, case let .unit(e2, v2) = contribution, e1 == e2 {
            slot = .unit(element: e1, value: zip(v1, v2).map { $0 + $1 })
            return
        }
        let rows = rowBox.count
        // Consumed, so the sum is written in place rather than into a copy.
        var sum = (consume existing).densified(size: size, rows: rows)
        let other = contribution.densified(size: size, rows: rows)
        sum.withUnsafeMutableBufferPointer { s in
            other.withUnsafeBufferPointer { o in
                for i in 0..<s.count { s[i] += o[i] }
            }
        }
        slot = .dense(sum)
    }

    /// `constant + Σ_i min(a_i l_i, a_i u_i)` per row, for coefficients `a` on a value of
    /// `n` elements bounded by `box` (per box of the batch).
    private func concretize<S: BLASScalar>(_ a: [S], size n: Int, constant: [Double], box: IntervalBounds) -> [Double] {
        let rows = rowBox.count
        var bounds = constant
        a.withUnsafeBufferPointer { pa in
            box.lower.withUnsafeBufferPointer { lo in
                box.upper.withUnsafeBufferPointer { up in
                    bounds.withUnsafeMutableBufferPointer { k in
                        for i in 0..<n {
                            let block = pa.baseAddress! + i * rows
                            if let b = singleBox {
                                let (l, u) = (lo[b * n + i], up[b * n + i])
                                for r in 0..<rows {
                                    let c = Double(block[r])
                                    k[r] += Swift.max(c, 0) * l + Swift.min(c, 0) * u
                                }
                            } else {
                                for r in 0..<rows {
                                    let c = Double(block[r]), base = rowBox[r] * n
                                    k[r] += c >= 0 ? c * lo[base + i] : c * up[base + i]
                                }
                            }
                        }
                    }
                }
            }
        }
        return bounds
    }

    /// Maps coefficients on a ReLU output to its input: lower line for non-negative
    /// coefficients, upper line (with its intercept added to the constant) for negative ones.
    private func reluStep<S: BLASScalar>(_ out: inout [S], _ relaxation: ReluRelaxation, size: Int, constant: inout [Double],
                          slopes rowSlopes: [Double]?) {
        let rows = rowBox.count
        let stride = slopeStride ?? rows, offset = slopeOffset
        let emptySlopes = [Double]()
        (rowSlopes ?? emptySlopes).withUnsafeBufferPointer { alphas in
        out.withUnsafeMutableBufferPointer { o in
            relaxation.upperSlope.withUnsafeBufferPointer { us in
                relaxation.upperIntercept.withUnsafeBufferPointer { ui in
                    relaxation.lowerSlope.withUnsafeBufferPointer { ls in
                        constant.withUnsafeMutableBufferPointer { k in
                            for j in 0..<size {
                                let block = o.baseAddress! + j * rows
                                if let b = singleBox {
                                    let index = b * size + j
                                    if !relaxation.unstable[index] {
                                        // Stable: identity (active) or zero (inactive).
                                        if ls[index] == 0 { block.update(repeating: 0, count: rows) }
                                        continue
                                    }
                                    let (u, t) = (S(us[index]), ui[index])
                                    if rowSlopes != nil {
                                        let alpha = alphas.baseAddress! + j * stride + offset
                                        for r in 0..<rows {
                                            let c = block[r]
                                            block[r] = c >= 0 ? c * S(alpha[r]) : c * u
                                            k[r] += Double(Swift.min(c, 0)) * t
                                        }
                                    } else {
                                        let l = S(ls[index])
                                        for r in 0..<rows {
                                            let c = block[r]
                                            block[r] = Swift.max(c, 0) * l + Swift.min(c, 0) * u
                                            k[r] += Double(Swift.min(c, 0)) * t
                                        }
                                    }
                                } else {
                                    for r in 0..<rows {
                                        let c = block[r]
                                        if c == 0 { continue }
                                        let index = rowBox[r] * size + j
                                        if !relaxation.unstable[index] {
                                            if ls[index] == 0 { block[r] = 0 }
                                        } else if c > 0 {
                                            block[r] = c * S(rowSlopes != nil ? alphas[j * stride + offset + r] : ls[index])
                                        } else {
                                            block[r] = c * S(us[index])
                                            k[r] += Double(c) * ui[index]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        }
    }

    private func maxPoolStep<S: BLASScalar>(_ a: [S], _ relaxation: MaxPoolRelaxation, inSize: Int, outSize: Int,
                             constant: inout [Double]) -> [S] {
        let rows = rowBox.count
        var out = [S](repeating: 0, count: inSize * rows)
        for o in 0..<outSize {
            for r in 0..<rows {
                let c = a[o * rows + r]
                if c == 0 { continue }
                let k = rowBox[r] * outSize + o
                if c >= 0 || relaxation.dominated[k] {
                    out[relaxation.winner[k] * rows + r] += c
                } else {
                    constant[r] += Double(c) * relaxation.upperConstant[k]
                }
            }
        }
        return out
    }
}
