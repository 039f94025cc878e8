import EvidentIR
import EvidentVNNLib
import EvidentCertificate
import EvidentSoundArithmetic

/// Witnesses and bound claims (Docs/certificates.md, "Witnesses", "Bound claims").
enum ClaimChecks {
    /// Sound interval evaluation of every value over a box (no CROWN), or the failure.
    static func intervalBounds(_ model: CheckerModel, box: ValueBounds) -> Result<[ValueBounds], CheckFailure> {
        var bounds = [ValueBounds?](repeating: nil, count: model.sizes.count)
        bounds[model.input] = box
        for (index, node) in model.graph.nodes.enumerated() {
            let b = SoundForward.propagate(model, node: index, operands: node.inputs.map { bounds[$0]! })
            if let e = b.firstNonFinite {
                return .failure(CheckFailure("the enclosure of element \(e) of '\(model.graph.values[node.output].name)' "
                                             + "is not finite"))
            }
            bounds[node.output] = b
        }
        return .success(bounds.map { $0! })
    }

    static func checkWitness(_ witness: Witness, model: CheckerModel, property: Property) -> CheckFailure? {
        let r = Int(witness.region), c = Int(witness.clause)
        guard r < property.regions.count else {
            return CheckFailure("the witness names region \(r); the property has \(property.regions.count)")
        }
        let region = property.regions[r]
        guard c < region.clauses.count else {
            return CheckFailure("the witness names clause \(c) of region \(r), which has \(region.clauses.count)")
        }
        let x = witness.input
        guard x.count == model.inputSize else {
            return CheckFailure("the witness has \(x.count) numbers, the network has \(model.inputSize) inputs")
        }
        let (lo, hi) = (PropertyRounding.innerLower(region), PropertyRounding.innerUpper(region))
        guard lo.count == x.count, hi.count == x.count else {
            return CheckFailure("region \(r)'s box has \(lo.count) bounds, the network has \(x.count) inputs")
        }
        for i in x.indices {
            guard x[i].isFinite else { return CheckFailure("witness coordinate \(i) is not finite (\(x[i]))") }
            guard lo[i] <= x[i] && x[i] <= hi[i] else {
                return CheckFailure("witness coordinate \(i) = \(x[i]) lies outside region \(r)'s box [\(lo[i]), \(hi[i])]")
            }
        }
        let bounds: [ValueBounds]
        switch intervalBounds(model, box: ValueBounds(lower: x, upper: x)) {
        case .failure(let f): return CheckFailure("evaluating the network at the witness: \(f.message)")
        case .success(let b): bounds = b
        }
        let output = bounds[model.output]
        for (k, constraint) in region.clauses[c].constraints.enumerated() {
            var coefficients = [Double](repeating: 0, count: model.outputSize)
            for t in constraint.terms {
                guard t.output >= 0 && t.output < model.outputSize else {
                    return CheckFailure("clause \(c) constraint \(k) names output \(t.output); the network has \(model.outputSize)")
                }
                coefficients[t.output] += t.coefficient
            }
            let upper = LinearFormBounds.upper(coefficients: coefficients, lower: output.lower, upper: output.upper)
            let threshold = PropertyRounding.innerThreshold(constraint)
            guard upper.isFinite, threshold.isFinite, upper <= threshold else {
                return CheckFailure("clause \(c) constraint \(k) is not certainly satisfied at the witness: the enclosure of "
                                    + "its left-hand side reaches \(formatted(upper)), above the threshold "
                                    + "\(formatted(threshold)) (by \(formatted(upper - threshold)))")
            }
        }
        return nil
    }

    /// Validates slope layers against the network and returns their layout.
    static func slopeLayout(_ layers: [SlopeLayer], model: CheckerModel, place: String) -> Result<SlopeLayout, CheckFailure> {
        var layout = SlopeLayout()
        for (k, layer) in layers.enumerated() {
            let value: ValueID
            switch model.reluValue(named: layer.relu) {
            case .failure(let f): return .failure(CheckFailure("\(place) slope layer \(k): \(f.message)"))
            case .success(let v): value = v
            }
            guard layout.position[value] == nil else {
                return .failure(CheckFailure("\(place) slope layer \(k): layer '\(layer.relu)' is listed twice"))
            }
            let size = model.sizes[value]
            var position = [Int](repeating: -1, count: size)
            var previous = -1
            for neuron in layer.neurons {
                let j = Int(neuron)
                guard j > previous else {
                    return .failure(CheckFailure("\(place) slope layer '\(layer.relu)': neuron indices are not strictly "
                                                 + "increasing at \(j)"))
                }
                guard j < size else {
                    return .failure(CheckFailure("\(place) slope layer '\(layer.relu)': neuron \(j) is out of range "
                                                 + "(the layer has \(size))"))
                }
                position[j] = layout.count
                layout.count += 1
                previous = j
            }
            layout.position[value] = position
        }
        return .success(layout)
    }

    /// Checks every claim: its recomputed bound (``boundClaimValues``) must reach its value.
    static func checkBoundClaims(_ claims: BoundClaims, model: CheckerModel, statistics: inout CheckStatistics,
                                 work: inout NodeBounds.Work) -> CheckFailure? {
        let values: [Double]
        switch boundClaimValues(claims, model: model, statistics: &statistics, work: &work) {
        case .failure(let f): return f
        case .success(let v): values = v
        }
        for (k, claim) in claims.claims.enumerated() {
            let recomputed = values[k]
            if claim.sense == .atLeast {
                guard recomputed >= claim.value else {
                    return CheckFailure("claim \(k) (at least \(formatted(claim.value))): recomputed lower bound "
                                        + "\(formatted(recomputed)) is below it (short by \(formatted(claim.value - recomputed)))")
                }
            } else {
                guard recomputed <= claim.value else {
                    return CheckFailure("claim \(k) (at most \(formatted(claim.value))): recomputed upper bound "
                                        + "\(formatted(recomputed)) is above it (by \(formatted(recomputed - claim.value)))")
                }
            }
        }
        return nil
    }

    /// Validates the claims' structure (boxes, overrides, counts, finiteness; not their
    /// values) and recomputes, soundly, the bound each claim's parameters justify: a lower
    /// bound of `c · y` for `atLeast`, an upper bound for `atMost`, over the claim's region.
    /// Claims on one region share its intermediate bounds, and claims reusing the base box's
    /// intermediates share those of the base box. The bounds go through ``NodeBounds`` in
    /// blocks of several subdomains, each exactly as it is computed alone; regions that share
    /// their base box's rows are computed together with one computation of the base box's
    /// rows (``NodeBounds/computeShared``).
    static func boundClaimValues(_ claims: BoundClaims, model: CheckerModel, statistics: inout CheckStatistics,
                                 work: inout NodeBounds.Work) -> Result<[Double], CheckFailure> {
        let layout: SlopeLayout
        switch slopeLayout(claims.slopeLayers, model: model, place: "the bound claims'") {
        case .failure(let f): return .failure(f)
        case .success(let l): layout = l
        }
        for (b, box) in claims.boxes.enumerated() {
            guard box.lower.count == model.inputSize, box.upper.count == model.inputSize else {
                return .failure(CheckFailure("box \(b) has \(box.lower.count) bounds, the network has \(model.inputSize) inputs"))
            }
            for i in 0..<model.inputSize {
                guard box.lower[i].isFinite, box.upper[i].isFinite, box.lower[i] <= box.upper[i] else {
                    return .failure(CheckFailure("box \(b): input \(i) has the interval [\(box.lower[i]), \(box.upper[i])]"))
                }
            }
        }
        // Distinct regions (claims on one region share one copy), each claim's region, and the
        // groups of claims that share intermediate bounds: those of one region (the base box's
        // for claims that reuse its intermediates), computed alone or sharing the base's rows.
        struct RegionKey: Hashable {
            var box: UInt32
            var overrides: [BoxOverride]
        }
        struct GroupKey: Hashable {
            var region: RegionKey
            var shared: Bool
        }
        var distinct = [ValueBounds](), regionIndex = [RegionKey: Int](), regionOf = [Int]()
        var groups = [GroupKey: [Int]]()
        var order = [GroupKey]()
        for (k, claim) in claims.claims.enumerated() {
            let here = "claim \(k)"
            let b = Int(claim.box)
            guard b < claims.boxes.count else {
                return .failure(CheckFailure("\(here): box \(b) does not exist (there are \(claims.boxes.count))"))
            }
            let base = claims.boxes[b]
            var seen = Set<Int>()
            for o in claim.overrides {
                let i = Int(o.index)
                guard i < model.inputSize else {
                    return .failure(CheckFailure("\(here): override of input \(i), which does not exist"))
                }
                guard seen.insert(i).inserted else { return .failure(CheckFailure("\(here): input \(i) is overridden twice")) }
                guard o.lower.isFinite, o.upper.isFinite, base.lower[i] <= o.lower, o.lower <= o.upper, o.upper <= base.upper[i] else {
                    return .failure(CheckFailure("\(here): override [\(o.lower), \(o.upper)] of input \(i) is not inside the "
                                                 + "base box's [\(base.lower[i]), \(base.upper[i])]"))
                }
            }
            guard claim.coefficients.count == model.outputSize else {
                return .failure(CheckFailure("\(here): \(claim.coefficients.count) coefficients, the network has "
                                             + "\(model.outputSize) outputs"))
            }
            guard claim.coefficients.allSatisfy(\.isFinite) else { return .failure(CheckFailure("\(here): a coefficient is not finite")) }
            guard claim.value.isFinite else { return .failure(CheckFailure("\(here): the value \(claim.value) is not finite")) }
            if let slopes = claim.slopes, slopes.count != layout.count {
                return .failure(CheckFailure("\(here): \(slopes.count) slopes, the claims list \(layout.count) slope neurons"))
            }
            let regionKey = RegionKey(box: claim.box, overrides: claim.overrides)
            if let index = regionIndex[regionKey] {
                regionOf.append(index)
            } else {
                var region = ValueBounds(lower: base.lower, upper: base.upper)
                for o in claim.overrides {
                    region.lower[Int(o.index)] = o.lower
                    region.upper[Int(o.index)] = o.upper
                }
                regionIndex[regionKey] = distinct.count
                regionOf.append(distinct.count)
                distinct.append(region)
            }
            let key = GroupKey(region: RegionKey(box: claim.box, overrides: claim.reuseBaseIntermediates ? [] : claim.overrides),
                               shared: claim.sharesBaseRows && !claim.overrides.isEmpty)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(k)
        }
        var values = [Double](repeating: -.infinity, count: claims.claims.count)
        /// The final rows of `block` (groups of claims) over their states, one pass.
        func finalRows(_ block: [[Int]], _ states: [BoundState]) -> CheckFailure? {
            var rows = [BackwardRow](), boxes = [ValueBounds](), slopeBytes = [[UInt8]](), owners = [Int]()
            var passStates = [BoundState](), boxIndex = [Int: Int]()
            for (g, members) in block.enumerated() {
                let state = states[g]
                if let reason = state.nonFinite {
                    return CheckFailure("claim \(members[0]): the bounds are unusable: \(reason)")
                }
                if state.empty != nil {
                    // Cannot happen for a non-empty box; an empty region satisfies any claim.
                    for k in members { values[k] = claims.claims[k].sense == .atLeast ? .infinity : -.infinity }
                    continue
                }
                let s = passStates.count
                passStates.append(state)
                for k in members {
                    let claim = claims.claims[k]
                    let sign: Double = claim.sense == .atLeast ? 1 : -1
                    var row = BackwardRow(start: .dense(claim.coefficients.enumerated().map { ($0.offset, sign * $0.element) }))
                    if let index = boxIndex[regionOf[k]] { row.box = index } else {
                        row.box = boxes.count
                        boxIndex[regionOf[k]] = boxes.count
                        boxes.append(distinct[regionOf[k]])
                    }
                    row.state = s
                    if let slopes = claim.slopes {
                        row.slopes = slopeBytes.count
                        slopeBytes.append(slopes)
                    }
                    rows.append(row)
                    owners.append(k)
                }
            }
            guard !rows.isEmpty else { return nil }
            var pass = BackwardPass(model: model, states: passStates, target: model.output, boxes: boxes)
            pass.layout = layout
            pass.slopeBytes = slopeBytes
            let results = pass.run(rows)
            statistics.refutations += rows.count
            for (result, k) in zip(results, owners) {
                if let failure = result.failure { return CheckFailure("claim \(k): \(failure)") }
                values[k] = claims.claims[k].sense == .atLeast ? result.lower : -result.lower
            }
            return nil
        }
        // Groups whose regions share their base box's rows, by base box; the groups on such a
        // base box itself, which take the base's state from the shared computation (it is the
        // one a computation of the base alone gives); the other groups.
        var sharing = [UInt32: [[Int]]](), sharingOrder = [UInt32](), plain = [[Int]]()
        for key in order where key.shared {
            if sharing[key.region.box] == nil { sharingOrder.append(key.region.box) }
            sharing[key.region.box, default: []].append(groups[key]!)
        }
        var onBase = [UInt32: [Int]]()
        for key in order where !key.shared {
            if key.region.overrides.isEmpty && sharing[key.region.box] != nil {
                onBase[key.region.box] = groups[key]!
            } else {
                plain.append(groups[key]!)
            }
        }
        // Blocks of groups: enough subdomains per pass to keep both cores busy on small networks.
        let blockSize = 32
        for blockStart in stride(from: 0, to: plain.count, by: blockSize) {
            let block = Array(plain[blockStart..<min(plain.count, blockStart + blockSize)])
            let boundsBoxes = block.map { members -> ValueBounds in
                let first = claims.claims[members[0]]
                return first.reuseBaseIntermediates || first.overrides.isEmpty
                    ? ValueBounds(lower: claims.boxes[Int(first.box)].lower, upper: claims.boxes[Int(first.box)].upper)
                    : distinct[regionOf[members[0]]]
            }
            let states = NodeBounds.compute(model, boxes: boundsBoxes, splits: Array(repeating: [], count: block.count), work: &work)
            if let failure = finalRows(block, states) { return .failure(failure) }
        }
        // Sharing regions: their base box's rows, re-concretised over blocks of regions.
        let regionsPerCall = 256
        for b in sharingOrder {
            let all = sharing[b]!
            let base = ValueBounds(lower: claims.boxes[Int(b)].lower, upper: claims.boxes[Int(b)].upper)
            for blockStart in stride(from: 0, to: all.count, by: regionsPerCall) {
                let block = Array(all[blockStart..<min(all.count, blockStart + regionsPerCall)])
                let shared = NodeBounds.computeShared(model, base: base, children: block.map { distinct[regionOf[$0[0]]] }, work: &work)
                if blockStart == 0, let members = onBase[b] {
                    if let failure = finalRows([members] + block, [shared.base] + shared.children) { return .failure(failure) }
                } else if let failure = finalRows(block, shared.children) { return .failure(failure) }
            }
        }
        return .success(values)
    }
}
