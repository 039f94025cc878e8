import EvidentIR
import EvidentSoundArithmetic

/// The linear relaxation of one ReLU layer at a subdomain, from its pre-activation bounds
/// (Docs/certificates.md, "Relaxations"), together with the rounding charges a backward
/// pass needs when it maps coefficients through it.
struct ReluLines: Sendable {
    enum State: UInt8, Sendable { case inactive = 0, active = 1, unstable = 2 }
    var state: [State]
    /// Upper line `z ≤ s ẑ + t` of unstable neurons (0 elsewhere). Validated exactly:
    /// `s·l + t ≥ 0` and `s·u + t ≥ u` hold in real arithmetic for the neuron's `[l, u]`,
    /// because `t = max(up(−s·l), up(u − down(s·u)))` with directed rounding.
    var upperSlope: [Double]
    var upperIntercept: [Double]
    /// Default lower slope of unstable neurons: 1 if `u > −l`, else 0.
    var defaultSlope: [Double]
    /// `up(u · max(|l|, |u|))` per neuron (u = 2⁻⁵³): the charge per unit of a rounded
    /// coefficient's magnitude.
    var roundingWeight: [Double]
    /// `up(η · Σ_unstable max(|l|, |u|))`: the underflow part of the charges of one step.
    var underflowCharge: Double
    var unstableCount: Int

    init(preActivation b: ValueBounds) {
        let n = b.lower.count
        state = [State](repeating: .inactive, count: n)
        upperSlope = [Double](repeating: 0, count: n)
        upperIntercept = upperSlope
        defaultSlope = upperSlope
        roundingWeight = upperSlope
        var magnitudeSum = 0.0, count = 0
        for j in 0..<n {
            let (l, u) = (b.lower[j], b.upper[j])
            if l >= 0 {
                state[j] = .active
            } else if u <= 0 {
                state[j] = .inactive
            } else {
                state[j] = .unstable
                let s = u / roundedSum(u, -l, upward: true)
                let t = Swift.max(roundedProduct(-s, l, upward: true),
                                  roundedSum(u, -roundedProduct(s, u, upward: false), upward: true))
                upperSlope[j] = s
                upperIntercept[j] = t
                defaultSlope[j] = u > -l ? 1 : 0
                let rho = Swift.max(-l, u)
                roundingWeight[j] = roundedProduct(RoundingError.unitRoundoff, rho, upward: true)
                magnitudeSum += rho
                count += 1
            }
        }
        unstableCount = count
        underflowCharge = roundedProduct(RoundingError.underflowUnit,
                                         RoundingError.sumUpperBound(magnitudeSum, terms: count), upward: true)
    }

    /// Recomputes neuron `j` from new bounds.
    mutating func update(_ j: Int, lower l: Double, upper u: Double) {
        var single = ReluLines(preActivation: ValueBounds(lower: [l], upper: [u]))
        if state[j] == .unstable { unstableCount -= 1 }
        if single.state[0] == .unstable { unstableCount += 1 }
        state[j] = single.state[0]
        upperSlope[j] = single.upperSlope[0]
        upperIntercept[j] = single.upperIntercept[0]
        defaultSlope[j] = single.defaultSlope[0]
        // The magnitude only shrinks, so the old rounding weight and underflow charge remain
        // upper bounds; keep the larger.
        roundingWeight[j] = Swift.max(roundingWeight[j], single.roundingWeight[0])
        single.underflowCharge = roundedSum(underflowCharge, single.underflowCharge, upward: true)
        underflowCharge = single.underflowCharge
    }
}

/// The relaxation of one MaxPool node: per output window, with `k*` the cell of largest
/// lower bound, `y ≥ x_{k*}`; `y ≤ x_{k*}` when `l_{k*} ≥ u_i` for every other cell, else
/// `y ≤ max_i u_i` (all exact comparisons and copies).
struct MaxPoolLines: Sendable {
    var winner: [Int]
    var dominated: [Bool]
    var upperConstant: [Double]
    /// `up(ĝ_K · max(|l|, |u|) of the winner)`: the charge per unit of coefficient for the
    /// sums of coefficients arriving at one cell (K windows at most).
    var chargeWeight: [Double]

    init(plan: PoolPlan, operand b: ValueBounds) {
        let outputs = plan.divisor.count
        winner = [Int](repeating: 0, count: outputs)
        dominated = [Bool](repeating: false, count: outputs)
        upperConstant = [Double](repeating: 0, count: outputs)
        chargeWeight = upperConstant
        let g = RoundingError.gamma(plan.maxWindowsPerCell)
        for o in 0..<outputs {
            let cells = plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]]
            var best = cells.first!
            for c in cells where b.lower[c] > b.lower[best] { best = c }
            var maxOther = -Double.infinity, maxUpper = -Double.infinity
            for c in cells {
                maxUpper = Swift.max(maxUpper, b.upper[c])
                if c != best { maxOther = Swift.max(maxOther, b.upper[c]) }
            }
            winner[o] = best
            dominated[o] = b.lower[best] >= maxOther
            upperConstant[o] = maxUpper
            let rho = Swift.max(Swift.abs(b.lower[best]), Swift.abs(b.upper[best]))
            chargeWeight[o] = roundedProduct(g, rho, upward: true)
        }
    }
}

/// What a backward pass charges when it maps coefficients through one affine node whose
/// transposed map rounds: row `r` is charged `Σ_o |Λ_out[o, r]| · weight[o]` plus `fixed`.
///
/// Derivation: the computed `Λ̃_in = fl(Jᵀ Λ_out)` has entries that are dot products of at
/// most `K` terms, so `|Λ̃_in − JᵀΛ_out|[e, r] ≤ γ_K Σ_o |J_{o,e}| |Λ_out[o, r]| + Kη`
/// (`RoundingError`, bound (A)). The pass continues with `Λ̃_in` as exact coefficients;
/// the difference multiplies the operand `x`, `|x_e| ≤ ρ_e = max(|l_e|, |u_e|)`, so it
/// lowers the bound by at most `Σ_o |Λ_out[o, r]| γ_K (|J| ρ)_o + Kη Σ_e ρ_e`. Hence
/// `weight[o] = up(ĝ_K · ub((|J| ρ)_o))` and `fixed = up(Kη · ub(Σ ρ))`. A recorded
/// constant radius (the exact constant is within `r` of the held one) adds
/// `ub((R_J ρ)_o) + r_b[o]` to `weight[o]` (the offset radius is charged per unit of
/// coefficient as well).
struct AffineCharge: Sendable {
    var weight: [Double]
    var fixed: Double
}

extension AffineCharge {
    /// The charge of node `index` for operand bounds `operand` (`nil` for operations whose
    /// transposed map is exact: data movement, addition, subtraction, adding a constant).
    static func make(_ model: CheckerModel, node index: Int, operand: ValueBounds) -> AffineCharge? {
        let node = model.graph.nodes[index]
        let rho = operand.magnitude
        let outSize = model.sizes[node.output]
        let inShape = model.graph.values[node.inputs[0]].shape
        func fixed(_ k: Int) -> Double {
            var s = 0.0
            for v in rho { s += v }
            return roundedProduct(RoundingError.underflow(k), RoundingError.sumUpperBound(s, terms: rho.count), upward: true)
        }
        switch node.operation {
        case .convolution:
            let plan = model.convolutions[index]!
            let product = plan.forward(weights: model.absoluteWeights[index]!, input: rho)
            let g = RoundingError.gamma(plan.transposeTerms), count = TermCount(plan.forwardTerms)
            let weight = product.map { roundedProduct(g, count.sumUpperBound($0), upward: true) }
            return AffineCharge(weight: weight, fixed: fixed(plan.transposeTerms))
        case .linear(let lin):
            let product = linearForward(weights: model.absoluteWeights[index]!, outFeatures: lin.outFeatures,
                                        inFeatures: lin.inFeatures, input: rho)
            let g = RoundingError.gamma(lin.outFeatures), count = TermCount(lin.inFeatures)
            var weight = product.map { roundedProduct(g, count.sumUpperBound($0), upward: true) }
            if let r = model.radii[index] {
                let radius = linearForward(weights: r.coefficients, outFeatures: lin.outFeatures,
                                           inFeatures: lin.inFeatures, input: rho)
                for o in 0..<outSize {
                    let extra = roundedSum(count.sumUpperBound(radius[o]),
                                           r.offsets[o % lin.outFeatures], upward: true)
                    weight[o] = roundedSum(weight[o], extra, upward: true)
                }
            }
            return AffineCharge(weight: weight, fixed: fixed(lin.outFeatures))
        case .multiplyConstant(let c):
            let g = RoundingError.gamma(1)
            return AffineCharge(weight: (0..<outSize).map {
                roundedProduct(g, roundedProduct(Swift.abs(c.scalars[$0]), rho[$0], upward: true), upward: true)
            }, fixed: fixed(1))
        case .divideConstant(let c):
            let g = RoundingError.gamma(1)
            return AffineCharge(weight: (0..<outSize).map {
                roundedProduct(g, roundedQuotient(rho[$0], Swift.abs(c.scalars[$0]), upward: true), upward: true)
            }, fixed: fixed(1))
        case let .channelAffine(scale, _):
            let g = RoundingError.gamma(1)
            let inner = inShape[2...].elementCount, channels = inShape[1]
            let radius = model.radii[index]
            return AffineCharge(weight: (0..<outSize).map { o in
                let ch = (o / inner) % channels
                var w = roundedProduct(g, roundedProduct(Swift.abs(scale[ch]), rho[o], upward: true), upward: true)
                if let radius {
                    w = roundedSum(w, roundedProduct(radius.coefficients[ch], rho[o], upward: true), upward: true)
                    w = roundedSum(w, radius.offsets[ch], upward: true)
                }
                return w
            }, fixed: fixed(1))
        case .averagePool:
            let plan = model.pools[index]!
            let k = plan.maxWindowsPerCell
            let g = RoundingError.gamma(k)
            return AffineCharge(weight: (0..<outSize).map { o in
                var s = 0.0
                for c in plan.cells[plan.cellStart[o]..<plan.cellStart[o + 1]] { s += rho[c] }
                let cells = plan.cellStart[o + 1] - plan.cellStart[o]
                let mean = roundedQuotient(RoundingError.sumUpperBound(s, terms: cells), plan.divisor[o], upward: true)
                return roundedProduct(g, mean, upward: true)
            }, fixed: fixed(k))
        case .globalAveragePool:
            let inner = model.sizes[node.inputs[0]] / max(outSize, 1)
            let g = RoundingError.gamma(1)
            return AffineCharge(weight: (0..<outSize).map { o in
                var s = 0.0
                for i in (o * inner)..<((o + 1) * inner) { s += rho[i] }
                let mean = roundedQuotient(RoundingError.sumUpperBound(s, terms: inner), Double(inner), upward: true)
                return roundedProduct(g, mean, upward: true)
            }, fixed: fixed(1))
        case .addConstant, .add, .subtract, .reshape, .transpose, .select, .concat, .pad, .relu, .maxPool:
            return nil
        }
    }
}
