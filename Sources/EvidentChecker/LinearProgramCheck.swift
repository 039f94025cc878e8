import EvidentIR
import EvidentSoundArithmetic

/// Lower bounds from the canonical LP of a node (Docs/certificates.md, "The canonical LP of
/// a node") and a dual vector, by the bound of Neumaier and Shcherbina (2004): for
/// `min cᵀx` subject to `lo ≤ A x ≤ hi`, `l ≤ x ≤ u` and ANY multipliers `y`,
/// `cᵀx ≥ Σ_i min(y_i lo_i, y_i hi_i) + Σ_j min(r_j l_j, r_j u_j)` with `r = c − Aᵀy`.
///
/// The checker builds the LP from the node's bounds itself and evaluates the right-hand
/// side soundly: `r̃ = fl(c − Aᵀy)` is computed together with `Ã = fl(|c| + |A|ᵀ|y|)`, so
/// `|r̃_j − r_j| ≤ ĝ_K Ã_j + 2Kη` (K terms per column at most), and
/// `min(r l, r u) ≥ min(r̃ l, r̃ u) − |r̃ − r| max(|l|, |u|)`. All sums of products carry
/// their a-priori error (`RoundingError`). A term with `y_i = 0` counts 0 even against an
/// infinite side; a multiplier of the wrong sign against an infinite side fails the check.
enum LinearProgramCheck {
    enum Objective {
        /// `sign · value[element]` (a tightening: sign −1 bounds the negated element).
        case element(value: ValueID, element: Int, sign: Double)
        /// `Σ coefficient · output[element]` (an LP refutation).
        case outputs([(element: Int, coefficient: Double)])
    }

    /// Number of LP rows of the model.
    static func rowCount(_ model: CheckerModel) -> Int {
        model.graph.nodes.reduce(0) { total, node in
            total + (node.operation == .relu ? 2 : 1) * model.sizes[node.output]
        }
    }

    static func lowerBound(_ model: CheckerModel, state: BoundState, objective: Objective,
                           dual: [Double]) -> Result<Double, CheckFailure> {
        let graph = model.graph
        if graph.nodes.contains(where: { if case .maxPool = $0.operation { return true } else { return false } }) {
            return .failure(CheckFailure("LP certificates are not supported on networks with MaxPool"))
        }
        let rows = rowCount(model)
        guard dual.count == rows else {
            return .failure(CheckFailure("the LP dual has \(dual.count) multipliers, the node's canonical LP has \(rows) rows"))
        }
        if let bad = dual.firstIndex(where: { !$0.isFinite }) {
            return .failure(CheckFailure("LP multiplier \(bad) is not finite (\(dual[bad]))"))
        }
        for (v, b) in state.bounds.enumerated() {
            guard let b else { return .failure(CheckFailure("the bounds of '\(graph.values[v].name)' are missing")) }
            if let e = b.firstNonFinite {
                return .failure(CheckFailure("the bound of element \(e) of '\(graph.values[v].name)' is not finite"))
            }
        }
        // r = c − Aᵀy and its absolute counterpart, per value.
        var r = model.sizes.map { [Double](repeating: 0, count: $0) }
        var a = r
        var terms = [Int](repeating: 1, count: graph.values.count)
        switch objective {
        case let .element(value, element, sign):
            r[value][element] = sign
            a[value][element] = Swift.abs(sign)
        case .outputs(let list):
            for t in list {
                r[model.output][t.element] += t.coefficient
                a[model.output][t.element] += Swift.abs(t.coefficient)
            }
            terms[model.output] = max(1, list.count)
        }
        // Row terms Σ min(y lo, y hi).
        var rowSum = 0.0, rowAbsolute = 0.0, rowTerms = 0
        var failure: String?
        func rowTerm(_ y: Double, _ lo: Double, _ hi: Double, _ i: Int) {
            if y == 0 { return }
            let bound = y > 0 ? lo : hi
            guard bound.isFinite else {
                if failure == nil { failure = "LP multiplier \(i) is \(y), of the wrong sign for its row's infinite side" }
                return
            }
            let t = y * bound
            rowSum += t
            rowAbsolute += Swift.abs(t)
            rowTerms += 1
        }
        var cursor = 0
        for (index, node) in graph.nodes.enumerated() {
            let out = node.output, outSize = model.sizes[out]
            let x = node.inputs[0]
            let inShape = graph.values[x].shape
            if case .relu = node.operation {
                guard let lines = state.relu[out] else { return .failure(CheckFailure("internal: missing ReLU relaxation")) }
                for j in 0..<outSize {
                    let y1 = dual[cursor + 2 * j], y2 = dual[cursor + 2 * j + 1]
                    let (s, t): (Double, Double)
                    switch lines.state[j] {
                    case .active: (s, t) = (1, 0)
                    case .inactive: (s, t) = (0, 0)
                    case .unstable: (s, t) = (lines.upperSlope[j], lines.upperIntercept[j])
                    }
                    // z − ẑ ≥ 0 and z − s ẑ ≤ t.
                    rowTerm(y1, 0, .infinity, cursor + 2 * j)
                    rowTerm(y2, -.infinity, t, cursor + 2 * j + 1)
                    r[out][j] -= y1 + y2
                    a[out][j] += Swift.abs(y1) + Swift.abs(y2)
                    let sy = s * y2
                    r[x][j] += y1 + sy
                    a[x][j] += Swift.abs(y1) + Swift.abs(sy)
                }
                terms[out] += 2
                terms[x] += 3
                cursor += 2 * outSize
                continue
            }
            let y = Array(dual[cursor..<(cursor + outSize)])
            cursor += outSize
            // The row's own coefficient on the output, its offset range.
            var scale = [Double](repeating: 1, count: outSize)
            var lo = model.offsets[index] ?? [Double](repeating: 0, count: outSize), hi = lo
            switch node.operation {
            case .divideConstant(let c): scale = c.scalars
            case .averagePool: scale = model.pools[index]!.divisor
            case .globalAveragePool: scale = [Double](repeating: Double(model.sizes[x] / max(outSize, 1)), count: outSize)
            default: break
            }
            if let radius = model.radii[index] {
                let rho = state.bounds[x]!.magnitude
                let spread: [Double]
                switch node.operation {
                case .linear(let lin):
                    let product = linearForward(weights: radius.coefficients, outFeatures: lin.outFeatures,
                                                inFeatures: lin.inFeatures, input: rho)
                    spread = (0..<outSize).map {
                        roundedSum(RoundingError.sumUpperBound(product[$0], terms: lin.inFeatures),
                                   radius.offsets[$0 % lin.outFeatures], upward: true)
                    }
                case .channelAffine:
                    let inner = inShape[2...].elementCount, channels = inShape[1]
                    spread = (0..<outSize).map {
                        let ch = ($0 / inner) % channels
                        return roundedSum(roundedProduct(radius.coefficients[ch], rho[$0], upward: true),
                                          radius.offsets[ch], upward: true)
                    }
                default:
                    spread = [Double](repeating: 0, count: outSize)
                }
                for o in 0..<outSize {
                    lo[o] = roundedSum(lo[o], -spread[o], upward: false)
                    hi[o] = roundedSum(hi[o], spread[o], upward: true)
                }
            }
            for o in 0..<outSize {
                rowTerm(y[o], lo[o], hi[o], cursor - outSize + o)
                let t = scale[o] * y[o]
                r[out][o] -= t
                a[out][o] += Swift.abs(t)
            }
            terms[out] += 1
            // Aᵀ y on the operands (the row holds −J_scaled on them, so r gains +J_scaledᵀ y).
            transposedAdd(model, node: index, y: y, r: &r, a: &a, terms: &terms)
        }
        if let failure { return .failure(CheckFailure(failure)) }
        // Column terms Σ min(r l, r u) − |r̃ − r| ρ.
        var columnSum = 0.0, columnAbsolute = 0.0, columnTerms = 0
        var slack = 0.0, magnitudeSum = 0.0, slackTerms = 0
        let maxTerms = terms.max() ?? 1
        for v in 0..<graph.values.count {
            let b = state.bounds[v]!
            for j in 0..<model.sizes[v] {
                let (rv, av) = (r[v][j], a[v][j])
                if av == 0 { continue }
                let xs = rv >= 0 ? b.lower[j] : b.upper[j]
                let t = rv * xs
                columnSum += t
                columnAbsolute += Swift.abs(t)
                columnTerms += 1
                let rho = Swift.max(Swift.abs(b.lower[j]), Swift.abs(b.upper[j]))
                slack += av * rho
                magnitudeSum += rho
                slackTerms += 1
            }
        }
        let g = RoundingError.gamma(maxTerms)
        let rError = roundedSum(roundedProduct(g, RoundingError.sumUpperBound(slack, terms: slackTerms), upward: true),
                                roundedProduct(RoundingError.underflow(2 * maxTerms),
                                               RoundingError.sumUpperBound(magnitudeSum, terms: slackTerms), upward: true),
                                upward: true)
        let total = roundedSum(rowSum, columnSum, upward: false)
        let error = roundedSum(roundedSum(RoundingError.dotProductError(terms: rowTerms, absoluteSum: rowAbsolute),
                                          RoundingError.dotProductError(terms: columnTerms, absoluteSum: columnAbsolute),
                                          upward: true), rError, upward: true)
        let bound = roundedSum(total, -error, upward: false)
        guard bound.isFinite else { return .failure(CheckFailure("the LP bound is not a finite number")) }
        return .success(bound)
    }

    /// Adds the transposed coefficients of one affine node's row block to its operands'
    /// entries of `r` (and their magnitudes to `a`), counting terms per value.
    static func transposedAdd(_ model: CheckerModel, node index: Int, y: [Double], r: inout [[Double]],
                              a: inout [[Double]], terms: inout [Int]) {
        let graph = model.graph
        let node = graph.nodes[index]
        let x = node.inputs[0]
        let inShape = graph.values[x].shape
        let outSize = model.sizes[node.output]
        func add(_ v: ValueID, _ e: Int, _ t: Double) {
            r[v][e] += t
            a[v][e] += Swift.abs(t)
        }
        switch node.operation {
        case .relu, .maxPool:
            return
        case .convolution(let conv):
            let plan = model.convolutions[index]!
            let (m, oh, ow) = (plan.outChannels, plan.outHeight, plan.outWidth)
            let (cg, mg, kh, kw) = (plan.groupIn, plan.groupOut, plan.kernelHeight, plan.kernelWidth)
            let w = plan.window
            for e in 0..<outSize where y[e] != 0 {
                let image = e / (m * oh * ow), channel = (e / (oh * ow)) % m
                let oy = (e / ow) % oh, ox = e % ow
                let g = channel / mg
                for ci in 0..<cg {
                    for ky in 0..<kh {
                        let iy = oy * w.strides.height - w.pads.top + ky * w.dilations.height
                        guard iy >= 0 && iy < plan.height else { continue }
                        for kx in 0..<kw {
                            let ix = ox * w.strides.width - w.pads.left + kx * w.dilations.width
                            guard ix >= 0 && ix < plan.width else { continue }
                            let input = ((image * plan.channels + g * cg + ci) * plan.height + iy) * plan.width + ix
                            add(x, input, conv.weight.scalars[((channel * cg + ci) * kh + ky) * kw + kx] * y[e])
                        }
                    }
                }
            }
            terms[x] += plan.transposeTerms
        case .linear(let lin):
            for e in 0..<outSize where y[e] != 0 {
                let group = e / lin.outFeatures, feature = e % lin.outFeatures
                for k in 0..<lin.inFeatures {
                    add(x, group * lin.inFeatures + k, lin.weight.scalars[feature * lin.inFeatures + k] * y[e])
                }
            }
            terms[x] += lin.outFeatures
        case .multiplyConstant(let c):
            for e in 0..<outSize { add(x, e, c.scalars[e] * y[e]) }
            terms[x] += 1
        case let .channelAffine(scale, _):
            let inner = inShape[2...].elementCount, channels = inShape[1]
            for e in 0..<outSize { add(x, e, scale[(e / inner) % channels] * y[e]) }
            terms[x] += 1
        case .divideConstant, .addConstant, .reshape:
            for e in 0..<outSize { add(x, e, y[e]) }
            terms[x] += 1
        case .add, .subtract:
            let negate = node.operation == .subtract
            for e in 0..<outSize {
                add(x, e, y[e])
                add(node.inputs[1], e, negate ? -y[e] : y[e])
            }
            terms[x] += 1
            terms[node.inputs[1]] += 1
        case .transpose(let permutation):
            for (e, s) in permutationSources(shape: inShape, permutation: permutation).enumerated() { add(x, s, y[e]) }
            terms[x] += 1
        case .select(let selection):
            for (e, s) in selection.sources.enumerated() { add(x, s, y[e]) }
            terms[x] += 1
        case .concat(let axis):
            let targets = concatTargets(shapes: node.inputs.map { graph.values[$0].shape }, axis: axis)
            for (k, operand) in node.inputs.enumerated() {
                for (i, t) in targets[k].enumerated() { add(operand, i, y[t]) }
                terms[operand] += 1
            }
        case .pad(let pads):
            for (i, t) in padTargets(shape: inShape, pads: pads, outputShape: graph.values[node.output].shape).enumerated() {
                add(x, i, y[t])
            }
            terms[x] += 1
        case .averagePool:
            let plan = model.pools[index]!
            for o in 0..<outSize where y[o] != 0 {
                for c in plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]] { add(x, c, y[o]) }
            }
            terms[x] += plan.maxWindowsPerCell
        case .globalAveragePool:
            let inner = model.sizes[x] / max(outSize, 1)
            for o in 0..<outSize { for i in (o * inner)..<((o + 1) * inner) { add(x, i, y[o]) } }
            terms[x] += 1
        }
    }
}
