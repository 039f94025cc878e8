import EvidentIR
import EvidentSoundArithmetic

/// Elementwise bounds of one value: `lower[i] ≤ x[i] ≤ upper[i]` for every input of the
/// subdomain, in real arithmetic.
struct ValueBounds: Sendable {
    var lower: [Double]
    var upper: [Double]

    /// The first element that is NaN or infinite, if any.
    var firstNonFinite: Int? {
        for i in lower.indices where !(lower[i].isFinite && upper[i].isFinite) { return i }
        return nil
    }

    /// The first element with `lower > upper`, if any.
    var firstEmpty: Int? {
        for i in lower.indices where lower[i] > upper[i] { return i }
        return nil
    }

    /// `max(|l|, |u|)` per element: a bound on the magnitude of the value (exact).
    var magnitude: [Double] { zip(lower, upper).map { Swift.max(Swift.abs($0), Swift.abs($1)) } }
}

// MARK: - Floating-point forward maps (not enclosures; their errors are bounded by callers)

extension ConvolutionPlan {
    /// `Σ weights · input` per output element (no bias), im2col + one product per image and
    /// group; each output is a dot product of ``forwardTerms`` terms in some order.
    func forward(weights: [Double], input: [Double]) -> [Double] {
        let plane = outHeight * outWidth, k = forwardTerms, (cg, mg) = (groupIn, groupOut)
        var output = [Double](repeating: 0, count: images * outChannels * plane)
        var patches = [Double](repeating: 0, count: k * plane)
        let (sh, sw) = (window.strides.height, window.strides.width)
        let (dh, dw) = (window.dilations.height, window.dilations.width)
        for image in 0..<images {
            for g in 0..<group {
                for ci in 0..<cg {
                    let channelBase = ((image * channels + g * cg + ci) * height) * width
                    for ky in 0..<kernelHeight {
                        for kx in 0..<kernelWidth {
                            let row = (ci * kernelHeight + ky) * kernelWidth + kx
                            for oy in 0..<outHeight {
                                let y = oy * sh - window.pads.top + ky * dh
                                for ox in 0..<outWidth {
                                    let x = ox * sw - window.pads.left + kx * dw
                                    patches[row * plane + oy * outWidth + ox] =
                                        (y >= 0 && y < height && x >= 0 && x < width) ? input[channelBase + y * width + x] : 0
                                }
                            }
                        }
                    }
                }
                weights.withUnsafeBufferPointer { w in
                    patches.withUnsafeBufferPointer { p in
                        output.withUnsafeMutableBufferPointer { o in
                            MatrixProduct.multiply(transposeA: false, transposeB: false, m: mg, n: plane, k: k,
                                                   a: w.baseAddress! + g * mg * k, lda: k, b: p.baseAddress!, ldb: plane,
                                                   c: o.baseAddress! + (image * outChannels + g * mg) * plane, ldc: plane)
                        }
                    }
                }
            }
        }
        return output
    }
}

/// `y[g, n] = Σ_k W[n, k] x[g, k]` for every leading group `g` (no bias); each output is a
/// dot product of `inFeatures` terms in some order.
func linearForward(weights: [Double], outFeatures: Int, inFeatures: Int, input: [Double]) -> [Double] {
    let groups = input.count / max(inFeatures, 1)
    var output = [Double](repeating: 0, count: groups * outFeatures)
    weights.withUnsafeBufferPointer { w in
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { o in
                MatrixProduct.multiply(transposeA: false, transposeB: true, m: groups, n: outFeatures, k: inFeatures,
                                       a: x.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                                       c: o.baseAddress!, ldc: outFeatures)
            }
        }
    }
    return output
}

// MARK: - Error bounds for one term count

/// ``RoundingError/sumUpperBound(_:terms:)`` and ``RoundingError/dotProductError(terms:absoluteSum:)``
/// for many numbers with the same term count: the library's formulas, operation for
/// operation, with `ĝₙ` computed once, so every result is the number the library returns.
struct TermCount {
    let terms: Int
    let gamma: Double

    init(_ terms: Int) {
        self.terms = terms
        gamma = RoundingError.gamma(terms)
    }

    func sumUpperBound(_ computed: Double) -> Double {
        guard computed >= 0, computed.isFinite else { return .infinity }
        if terms <= 0 { return computed }
        guard gamma.isFinite else { return .infinity }
        let a = roundedSum(computed, RoundingError.underflow(terms), upward: true)
        return roundedSum(a, roundedProduct(gamma, a, upward: true), upward: true)
    }

    func dotProductError(absoluteSum: Double) -> Double {
        guard absoluteSum >= 0, absoluteSum.isFinite else { return .infinity }
        if terms <= 0 { return 0 }
        guard gamma.isFinite else { return .infinity }
        return roundedSum(roundedProduct(gamma, absoluteSum, upward: true), RoundingError.underflow(2 * terms), upward: true)
    }
}

// MARK: - Sound interval propagation

/// Sound interval bound propagation (IBP) of single operations: given bounds of the
/// operands valid in real arithmetic, returns bounds of the output valid in real arithmetic.
///
/// Monotone operations map endpoints with directed rounding (`roundedSum`,
/// `roundedProduct`, `roundedQuotient`). Convolutions and linear maps use the centre-radius
/// form: with a float centre `m̃` and a radius `ρ̃ ≥ max(u − m̃, m̃ − l)` (rounded up), the
/// output lies in `J m̃ + b ± |J| ρ̃`; the float evaluations `C = fl(J m̃ + b)`,
/// `R = fl(|J| ρ̃)` and `A = fl(|J| (|m̃| + ρ̃))` give
/// `|C − (J m̃ + b)| ≤ ĝ_{K+1} (ub(A) + |b|) + 2(K+1)η` and `|J| ρ̃ ≤ ub(R)` (bounds (B), (C)
/// of `RoundingError`), so `[C − r, C + r]` with `r` their sum rounded up encloses the
/// output. Recorded constant radii add `ub(R_J · max(|l|, |u|)) + r_b`.
enum SoundForward {
    static func propagate(_ model: CheckerModel, node index: Int, operands: [ValueBounds]) -> ValueBounds {
        let node = model.graph.nodes[index]
        let x = operands[0]
        let inShape = model.graph.values[node.inputs[0]].shape
        let outSize = model.sizes[node.output]
        switch node.operation {
        case .relu:
            return ValueBounds(lower: x.lower.map { Swift.max($0, 0) }, upper: x.upper.map { Swift.max($0, 0) })
        case .reshape:
            return x
        case .transpose(let permutation):
            let source = permutationSources(shape: inShape, permutation: permutation)
            return ValueBounds(lower: source.map { x.lower[$0] }, upper: source.map { x.upper[$0] })
        case .select(let selection):
            return ValueBounds(lower: selection.sources.map { x.lower[$0] }, upper: selection.sources.map { x.upper[$0] })
        case .concat:
            let axis: Int
            if case .concat(let a) = node.operation { axis = a } else { axis = 0 }
            let shapes = node.inputs.map { model.graph.values[$0].shape }
            return ValueBounds(lower: concatenate(operands.map(\.lower), shapes: shapes, axis: axis),
                               upper: concatenate(operands.map(\.upper), shapes: shapes, axis: axis))
        case .pad(let pads):
            let map = padTargets(shape: inShape, pads: pads, outputShape: model.graph.values[node.output].shape)
            var lower = [Double](repeating: 0, count: outSize), upper = lower
            for (i, t) in map.enumerated() {
                lower[t] = x.lower[i]
                upper[t] = x.upper[i]
            }
            return ValueBounds(lower: lower, upper: upper)
        case .add:
            let y = operands[1]
            return ValueBounds(lower: (0..<outSize).map { roundedSum(x.lower[$0], y.lower[$0], upward: false) },
                               upper: (0..<outSize).map { roundedSum(x.upper[$0], y.upper[$0], upward: true) })
        case .subtract:
            let y = operands[1]
            return ValueBounds(lower: (0..<outSize).map { roundedSum(x.lower[$0], -y.upper[$0], upward: false) },
                               upper: (0..<outSize).map { roundedSum(x.upper[$0], -y.lower[$0], upward: true) })
        case .addConstant(let c):
            return ValueBounds(lower: (0..<outSize).map { roundedSum(x.lower[$0], c.scalars[$0], upward: false) },
                               upper: (0..<outSize).map { roundedSum(x.upper[$0], c.scalars[$0], upward: true) })
        case .multiplyConstant(let c):
            var result = ValueBounds(lower: x.lower, upper: x.upper)
            for i in 0..<outSize {
                let k = c.scalars[i]
                let (a, b) = k >= 0 ? (x.lower[i], x.upper[i]) : (x.upper[i], x.lower[i])
                result.lower[i] = roundedProduct(a, k, upward: false)
                result.upper[i] = roundedProduct(b, k, upward: true)
            }
            return result
        case .divideConstant(let c):
            var result = ValueBounds(lower: x.lower, upper: x.upper)
            for i in 0..<outSize {
                let k = c.scalars[i]
                let (a, b) = k > 0 ? (x.lower[i], x.upper[i]) : (x.upper[i], x.lower[i])
                result.lower[i] = roundedQuotient(a, k, upward: false)
                result.upper[i] = roundedQuotient(b, k, upward: true)
            }
            return result
        case let .channelAffine(scale, shift):
            let inner = inShape[2...].elementCount, channels = inShape[1]
            let radius = model.radii[index]
            var result = ValueBounds(lower: x.lower, upper: x.upper)
            for i in 0..<outSize {
                let ch = (i / inner) % channels
                let rs = radius?.coefficients[ch] ?? 0, rb = radius?.offsets[ch] ?? 0
                let s = Interval(lo: roundedSum(scale[ch], -rs, upward: false), hi: roundedSum(scale[ch], rs, upward: true))
                let b = Interval(lo: roundedSum(shift[ch], -rb, upward: false), hi: roundedSum(shift[ch], rb, upward: true))
                let y = Interval(lo: x.lower[i], hi: x.upper[i]) * s + b
                result.lower[i] = y.lo
                result.upper[i] = y.hi
            }
            return result
        case .averagePool, .globalAveragePool:
            return averagePool(model, node: index, x)
        case .maxPool:
            let plan = model.pools[index]!
            var result = ValueBounds(lower: [Double](repeating: 0, count: outSize), upper: [Double](repeating: 0, count: outSize))
            for o in 0..<outSize {
                var lo = -Double.infinity, hi = -Double.infinity
                for c in plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]] {
                    lo = Swift.max(lo, x.lower[c])
                    hi = Swift.max(hi, x.upper[c])
                }
                result.lower[o] = lo
                result.upper[o] = hi
            }
            return result
        case .convolution(let conv):
            let plan = model.convolutions[index]!
            let bias = model.offsets[index]
            return centreRadius(x, outSize: outSize, terms: plan.forwardTerms, bias: bias, radius: nil) { v, absolute in
                plan.forward(weights: absolute ? model.absoluteWeights[index]! : conv.weight.scalars, input: v)
            }
        case .linear(let lin):
            let radius = model.radii[index].map { r -> [Double] in
                // ub(R_W · max(|l|, |u|)) + r_b per output element.
                let rho = x.magnitude
                let product = linearForward(weights: r.coefficients, outFeatures: lin.outFeatures,
                                            inFeatures: lin.inFeatures, input: rho)
                let count = TermCount(lin.inFeatures)
                return product.indices.map {
                    roundedSum(count.sumUpperBound(product[$0]),
                               r.offsets[$0 % lin.outFeatures], upward: true)
                }
            }
            return centreRadius(x, outSize: outSize, terms: lin.inFeatures, bias: model.offsets[index], radius: radius) {
                v, absolute in
                linearForward(weights: absolute ? model.absoluteWeights[index]! : lin.weight.scalars,
                              outFeatures: lin.outFeatures, inFeatures: lin.inFeatures, input: v)
            }
        }
    }

    /// The centre-radius enclosure of an affine map `J x + bias` (see the type's comment).
    /// `forward(v, absolute)` evaluates `J v` or `|J| v` in floating point, `terms` products
    /// per output.
    static func centreRadius(_ x: ValueBounds, outSize: Int, terms: Int, bias: [Double]?, radius: [Double]?,
                             forward: ([Double], Bool) -> [Double]) -> ValueBounds {
        let n = x.lower.count
        var centre = [Double](repeating: 0, count: n), spread = centre, magnitude = centre
        for i in 0..<n {
            let (l, u) = (x.lower[i], x.upper[i])
            let m = l * 0.5 + u * 0.5
            centre[i] = m
            spread[i] = Swift.max(roundedSum(u, -m, upward: true), roundedSum(m, -l, upward: true))
            magnitude[i] = roundedSum(Swift.abs(m), spread[i], upward: true)
        }
        let c = forward(centre, false), r = forward(spread, true), a = forward(magnitude, true)
        let count = TermCount(terms), countAndBias = TermCount(terms + 1)
        var result = ValueBounds(lower: [Double](repeating: 0, count: outSize), upper: [Double](repeating: 0, count: outSize))
        for o in 0..<outSize {
            let b = bias?[o] ?? 0
            let value = c[o] + b
            let absolute = roundedSum(count.sumUpperBound(a[o]), Swift.abs(b), upward: true)
            var half = roundedSum(count.sumUpperBound(r[o]), countAndBias.dotProductError(absoluteSum: absolute), upward: true)
            if let radius { half = roundedSum(half, radius[o], upward: true) }
            result.lower[o] = roundedSum(value, -half, upward: false)
            result.upper[o] = roundedSum(value, half, upward: true)
        }
        return result
    }

    /// Average pooling (and global average pooling): sums with directed rounding, then a
    /// directed quotient by the divisor.
    static func averagePool(_ model: CheckerModel, node index: Int, _ x: ValueBounds) -> ValueBounds {
        let node = model.graph.nodes[index]
        let outSize = model.sizes[node.output]
        var result = ValueBounds(lower: [Double](repeating: 0, count: outSize), upper: [Double](repeating: 0, count: outSize))
        if case .globalAveragePool = node.operation {
            let inner = model.sizes[node.inputs[0]] / max(outSize, 1)
            let m = Double(inner)
            for o in 0..<outSize {
                var lo = 0.0, hi = 0.0
                for i in (o * inner)..<((o + 1) * inner) {
                    lo = roundedSum(lo, x.lower[i], upward: false)
                    hi = roundedSum(hi, x.upper[i], upward: true)
                }
                result.lower[o] = roundedQuotient(lo, m, upward: false)
                result.upper[o] = roundedQuotient(hi, m, upward: true)
            }
            return result
        }
        let plan = model.pools[index]!
        for o in 0..<outSize {
            var lo = 0.0, hi = 0.0
            for c in plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]] {
                lo = roundedSum(lo, x.lower[c], upward: false)
                hi = roundedSum(hi, x.upper[c], upward: true)
            }
            result.lower[o] = roundedQuotient(lo, plan.divisor[o], upward: false)
            result.upper[o] = roundedQuotient(hi, plan.divisor[o], upward: true)
        }
        return result
    }
}

// MARK: - Index maps of the data-movement operations (exact)

/// For a transpose with `permutation` of a value of `shape`: the input element each output
/// element reads.
func permutationSources(shape: [Int], permutation: [Int]) -> [Int] {
    let inStrides = shape.rowMajorStrides
    let outShape = permutation.map { shape[$0] }
    let outStrides = outShape.rowMajorStrides
    let mapped = permutation.map { inStrides[$0] }
    return (0..<shape.elementCount).map { flat in
        var rest = flat, source = 0
        for axis in 0..<outShape.count {
            let index = rest / outStrides[axis]
            rest -= index * outStrides[axis]
            source += index * mapped[axis]
        }
        return source
    }
}

/// For zero padding: the output index of every input element.
func padTargets(shape: [Int], pads: [Int], outputShape: [Int]) -> [Int] {
    let rank = shape.count
    let inStrides = shape.rowMajorStrides, outStrides = outputShape.rowMajorStrides
    var offset = 0
    for axis in 0..<rank { offset += pads[axis] * outStrides[axis] }
    return (0..<shape.elementCount).map { flat in
        var rest = flat, target = offset
        for axis in 0..<rank {
            let index = rest / inStrides[axis]
            rest -= index * inStrides[axis]
            target += index * outStrides[axis]
        }
        return target
    }
}

/// For a concatenation: the output index of element `i` of operand `k`, as
/// `concatTargets(...)[k][i]`.
func concatTargets(shapes: [[Int]], axis: Int) -> [[Int]] {
    let outer = shapes[0][..<axis].elementCount
    let blocks = shapes.map { $0[axis...].elementCount }
    let total = blocks.reduce(0, +)
    var targets = blocks.map { [Int](repeating: 0, count: outer * $0) }
    var start = 0
    for k in blocks.indices {
        for o in 0..<outer {
            for i in 0..<blocks[k] { targets[k][o * blocks[k] + i] = o * total + start + i }
        }
        start += blocks[k]
    }
    return targets
}

func concatenate(_ operands: [[Double]], shapes: [[Int]], axis: Int) -> [Double] {
    let targets = concatTargets(shapes: shapes, axis: axis)
    var out = [Double](repeating: 0, count: operands.reduce(0) { $0 + $1.count })
    for (k, operand) in operands.enumerated() {
        for (i, t) in targets[k].enumerated() { out[t] = operand[i] }
    }
    return out
}
