import Evident
import EvidentTestSupport
import Foundation

/// One tampered certificate: its bytes, and whether it must be rejected (see the reasons in
/// ``CertificateMutationTests``).
struct Mutation {
    var kind: String
    var bytes: [UInt8]
    var mustReject: Bool
    var note: String
    /// Random bit flips: whether rejection is required is decided after decoding, by what
    /// changed (``Mutations/classify(_:_:)``); a flip that does not decode is a rejection.
    var classifyByDiff = false
}

/// The mutation generators. Each returns nil where it does not apply (no such field, or no
/// change of that field would make the certificate wrong), and the caller draws again.
enum Mutations {
    typealias Generator = (Subject, inout SeededGenerator) -> Mutation?

    static let generators: [(weight: Double, name: String, make: Generator)] = [
        (1, "truncated", truncated),
        (0.5, "trailing bytes", trailing),
        (1, "header bit", headerBit),
        (0.5, "property flag", propertyFlag),
        (1.5, "digest bit", digestBit),
        (2, "refutation dropped", droppedRefutation),
        (2, "refutation moved", movedRefutation),
        (1, "constraint out of range", constraintOutOfRange),
        (2, "non-finite number", nonFinite),
        (1, "negative multiplier", negativeMultiplier),
        (1.5, "child index", childIndex),
        (0.5, "last node dropped", lastNodeDropped),
        (1.5, "split", brokenSplit),
        (1, "slope layer", brokenSlopeLayer),
        (1, "count", countMismatch),
        (0.5, "region count", regionCount),
        (1.5, "false tightening", falseTightening),
        (0.5, "sat witness", satWitness),
        (4, "random bit", randomBit),
        // sat certificates
        (3, "witness outside the box", witnessOutside),
        (1, "witness not finite", witnessNotFinite),
        (1, "witness size", witnessSize),
        (1, "witness index out of range", witnessIndex),
        (2, "witness moved to a safe point", witnessSafe),
        (2, "witness clause changed", witnessClause),
        (2, "unsat proof of a false property", unsatOfFalse),
    ]

    static func draw(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let total = generators.reduce(0) { $0 + $1.weight }
        var u = rng.uniform(0...total)
        for g in generators {
            u -= g.weight
            if u <= 0 { return g.make(s, &rng) }
        }
        return generators.last!.make(s, &rng)
    }

    // MARK: - Addressing

    struct Address: Hashable {
        var region: Int, tree: Int, node: Int
    }

    static func nodes(_ p: UnsatProof) -> [Address] {
        p.regions.indices.flatMap { r in p.regions[r].trees.indices.flatMap { t in
            p.regions[r].trees[t].nodes.indices.map { Address(region: r, tree: t, node: $0) } } }
    }

    static func node(_ p: UnsatProof, _ a: Address) -> ProofNode { p.regions[a.region].trees[a.tree].nodes[a.node] }

    static func withNode(_ p: UnsatProof, _ a: Address, _ change: (inout ProofNode) -> Void) -> UnsatProof {
        var q = p
        change(&q.regions[a.region].trees[a.tree].nodes[a.node])
        return q
    }

    static func bytes(_ s: Subject, _ proof: UnsatProof) -> [UInt8] {
        var c = s.original
        c.claim = .unsat(proof)
        return c.encoded()
    }

    static func pick<T>(_ items: [T], _ rng: inout SeededGenerator) -> T? { items.isEmpty ? nil : items[rng.int(0..<items.count)] }

    /// Offsets in the file of the model digest, the property flag, the property digest and the claim kind.
    static func layout(_ c: Certificate) -> (modelDigest: Range<Int>, propertyFlag: Int, propertyDigest: Range<Int>?, kind: Int) {
        var at = 12 + 4 + c.model.path.utf8.count
        let model = at..<(at + 32)
        at += 32
        let flag = at
        at += 1
        var property: Range<Int>? = nil
        if let p = c.property {
            at += 4 + p.path.utf8.count
            property = at..<(at + 32)
            at += 32
        }
        at += 4 + c.producer.utf8.count
        return (model, flag, property, at)
    }

    // MARK: - Bytes and bindings

    static func truncated(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let cut = rng.int(0..<s.bytes.count)
        return Mutation(kind: "truncated", bytes: Array(s.bytes[0..<cut]), mustReject: true, note: "cut to \(cut) bytes")
    }

    static func trailing(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let extra = (0..<rng.int(1..<9)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Mutation(kind: "trailing bytes", bytes: s.bytes + extra, mustReject: true, note: "\(extra.count) bytes appended")
    }

    static func flipBit(_ bytes: [UInt8], _ offset: Int, _ rng: inout SeededGenerator) -> [UInt8] {
        var b = bytes
        b[offset] ^= UInt8(1) << UInt8(rng.int(0..<8))
        return b
    }

    static func headerBit(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let kind = layout(s.original).kind
        let offset = rng.uniform(0...1) < 0.25 ? kind : rng.int(0..<12)
        return Mutation(kind: "header bit", bytes: flipBit(s.bytes, offset, &rng), mustReject: true,
                        note: offset == kind ? "claim kind changed" : "byte \(offset) of the magic or version changed")
    }

    static func propertyFlag(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard s.original.property != nil else { return nil }
        var b = s.bytes
        let flag = layout(s.original).propertyFlag
        b[flag] = rng.uniform(0...1) < 0.5 ? 0 : UInt8(rng.int(2..<256))
        return Mutation(kind: "property flag", bytes: b, mustReject: true, note: "property flag set to \(b[flag])")
    }

    static func digestBit(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let l = layout(s.original)
        let range = rng.uniform(0...1) < 0.5 || l.propertyDigest == nil ? l.modelDigest : l.propertyDigest!
        let offset = rng.int(range)
        return Mutation(kind: "digest bit", bytes: flipBit(s.bytes, offset, &rng), mustReject: true,
                        note: "\(range == l.modelDigest ? "model" : "property") digest byte \(offset - range.lowerBound) changed")
    }

    static func randomBit(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let offset = rng.int(0..<s.bytes.count)
        return Mutation(kind: "random bit", bytes: flipBit(s.bytes, offset, &rng), mustReject: true,
                        note: "bit flipped at byte \(offset)", classifyByDiff: true)
    }

    // MARK: - Refutations

    static func refutations(_ p: UnsatProof) -> [(Address, Int)] {
        nodes(p).flatMap { a in node(p, a).refutations.indices.map { (a, $0) } }
    }

    static func droppedRefutation(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard let (a, k) = pick(refutations(s.proof), &rng) else { return nil }
        let q = withNode(s.proof, a) { $0.refutations.remove(at: k) }
        guard !s.covers(q) else { return nil }  // another refutation (or a possibly empty node) still covers the clause
        return Mutation(kind: "refutation dropped", bytes: bytes(s, q), mustReject: true,
                        note: "refutation \(k) of node \(a.node) (tree \(a.tree), region \(a.region)) dropped; a clause is left unrefuted")
    }

    static func movedRefutation(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard let (a, k) = pick(refutations(s.proof), &rng) else { return nil }
        let clauses = s.property.regions[a.region].clauses.count
        let old = Int(node(s.proof, a).refutations[k].clause)
        let outside = rng.uniform(0...1) < 0.4
        let target = outside ? (rng.uniform(0...1) < 0.8 ? clauses + rng.int(0..<3) : Int(UInt32.max)) : rng.int(0..<clauses)
        guard target != old else { return nil }
        let q = withNode(s.proof, a) { $0.refutations[k].clause = UInt32(target) }
        if !outside && s.covers(q) { return nil }
        return Mutation(kind: "refutation moved", bytes: bytes(s, q), mustReject: true,
                        note: "refutation \(k) of node \(a.node) moved from clause \(old) to \(target)"
                            + (outside ? " (out of range)" : "; clause \(old) is left unrefuted"))
    }

    static func constraintOutOfRange(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard let (a, k) = pick(refutations(s.proof), &rng) else { return nil }
        let clause = Int(node(s.proof, a).refutations[k].clause)
        let count = s.property.regions[a.region].clauses[clause].constraints.count
        let q = withNode(s.proof, a) { $0.refutations[k].constraint = UInt32(count + rng.int(0..<4)) }
        return Mutation(kind: "constraint out of range", bytes: bytes(s, q), mustReject: true,
                        note: "refutation \(k) of node \(a.node) names a constraint clause \(clause) does not have")
    }

    // MARK: - Numbers

    /// Every number slot of the proof that must be finite: multipliers, LP duals, tightening
    /// values and duals, input split points; each as a closure writing a new value.
    static func numberSlots(_ p: UnsatProof) -> [(String, (inout UnsatProof, Double) -> Void)] {
        var slots = [(String, (inout UnsatProof, Double) -> Void)]()
        for a in nodes(p) {
            let n = node(p, a)
            let (r, t, i) = (a.region, a.tree, a.node)
            for (k, f) in n.refutations.enumerated() {
                for b in f.betas.indices {
                    slots.append(("multiplier \(b) of refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].betas[b] = $1 }))
                }
                for d in (f.lpDual ?? []).indices {
                    slots.append(("LP dual \(d) of refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].lpDual![d] = $1 }))
                }
            }
            for (k, tightening) in n.tightenings.enumerated() {
                slots.append(("value of tightening \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].tightenings[k].value = $1 }))
                for d in tightening.dual.indices where d % max(1, tightening.dual.count / 16) == 0 {
                    slots.append(("dual \(d) of tightening \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].tightenings[k].dual[d] = $1 }))
                }
            }
            if case let .input(dimension, _)? = n.branch?.split, let branch = n.branch {
                slots.append(("input split point of node \(i)", { q, v in
                    q.regions[r].trees[t].nodes[i].branch = Branch(split: .input(dimension: dimension, point: v), low: branch.low, high: branch.high)
                }))
            }
        }
        return slots
    }

    static func nonFinite(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard let (what, write) = pick(numberSlots(s.proof), &rng) else { return nil }
        let value = [Double.nan, .infinity, -.infinity][rng.int(0..<3)]
        var q = s.proof
        write(&q, value)
        return Mutation(kind: "non-finite number", bytes: bytes(s, q), mustReject: true, note: "\(what) set to \(value)")
    }

    static func negativeMultiplier(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let slots = numberSlots(s.proof).filter { $0.0.hasPrefix("multiplier") }
        guard let (what, write) = pick(slots, &rng) else { return nil }
        let value = -[Double.leastNonzeroMagnitude, 1e-300, 1e-9, 0.5, 3][rng.int(0..<5)]
        var q = s.proof
        write(&q, value)
        return Mutation(kind: "negative multiplier", bytes: bytes(s, q), mustReject: true, note: "\(what) set to \(value)")
    }

    // MARK: - Tree structure

    static func childIndex(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let branching = nodes(s.proof).filter { node(s.proof, $0).branch != nil }
        guard let a = pick(branching, &rng) else { return nil }
        let b = node(s.proof, a).branch!
        let n = s.proof.regions[a.region].trees[a.tree].nodes.count
        let low = rng.uniform(0...1) < 0.5
        let old = Int(low ? b.low : b.high)
        let value = rng.uniform(0...1) < 0.1 ? Int(UInt32.max) : rng.int(0..<(n + 3))
        guard value != old else { return nil }
        let q = withNode(s.proof, a) { node in
            if low { node.branch!.low = UInt32(value) } else { node.branch!.high = UInt32(value) }
        }
        return Mutation(kind: "child index", bytes: bytes(s, q), mustReject: true,
                        note: "node \(a.node)'s \(low ? "low" : "high") child \(old) changed to \(value)")
    }

    static func lastNodeDropped(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let trees = s.proof.regions.indices.flatMap { r in s.proof.regions[r].trees.indices.map { (r, $0) } }
            .filter { s.proof.regions[$0.0].trees[$0.1].nodes.count > 1 }
        guard let (r, t) = pick(trees, &rng) else { return nil }
        var q = s.proof
        q.regions[r].trees[t].nodes.removeLast()
        return Mutation(kind: "last node dropped", bytes: bytes(s, q), mustReject: true, note: "the last node of tree \(t) dropped")
    }

    static func regionCount(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard s.witness == nil else { return nil }
        var q = s.proof
        if rng.uniform(0...1) < 0.5 || q.regions.isEmpty { q.regions.append(q.regions.first ?? RegionProof(trees: [])) } else { q.regions.removeLast() }
        return Mutation(kind: "region count", bytes: bytes(s, q), mustReject: true,
                        note: "\(q.regions.count) region proofs for \(s.property.regions.count) regions")
    }

    // MARK: - Splits and slope layers

    static func brokenSplit(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let branching = nodes(s.proof).filter { node(s.proof, $0).branch != nil }
        guard let a = pick(branching, &rng) else { return nil }
        let b = node(s.proof, a).branch!
        let info = s.boxes[a.region][a.tree][a.node]
        var split = b.split, note = ""
        switch b.split {
        case let .input(dimension, point):
            let d = Int(dimension)
            if rng.uniform(0...1) < 0.3 {
                let bad = s.property.inputCount + rng.int(0..<3)
                split = .input(dimension: UInt32(bad), point: point)
                note = "input split of dimension \(bad) (the network has \(s.property.inputCount) inputs)"
            } else {
                guard !info.lower.isEmpty else { return nil }
                let (l, u) = (info.lower[d], info.upper[d])
                let width = max(u - l, 1e-12 * max(1, abs(l)))
                let outside = rng.uniform(0...1) < 0.5 ? u + width * rng.logUniform(1e-6, 2) : l - width * rng.logUniform(1e-6, 2)
                guard outside > u || outside < l else { return nil }
                split = .input(dimension: dimension, point: outside)
                note = "input split point moved to \(outside), outside [\(l), \(u)]"
            }
        case let .relu(layer, neuron):
            let u = rng.uniform(0...1)
            if u < 0.3, let size = s.relus[layer]?.size {
                let bad = size + rng.int(0..<3)
                split = .relu(layer: layer, neuron: UInt32(bad))
                note = "ReLU split of neuron \(bad) of '\(layer)' (\(size) neurons)"
            } else if u < 0.6, let above = pick(info.reluSplits, &rng) {
                split = .relu(layer: above.layer, neuron: UInt32(above.neuron))
                note = "neuron \(above.neuron) of '\(above.layer)' split again below its own split"
            } else {
                let name = rng.uniform(0...1) < 0.7 ? pick(s.otherNames, &rng) ?? "no such layer" : layer + "_"
                guard s.relus[name] == nil else { return nil }
                split = .relu(layer: name, neuron: neuron)
                note = "ReLU split renamed to '\(name)', not a ReLU output"
            }
        }
        let q = withNode(s.proof, a) { $0.branch!.split = split }
        return Mutation(kind: "split", bytes: bytes(s, q), mustReject: true, note: "node \(a.node): " + note)
    }

    static func brokenSlopeLayer(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        let layers = s.proof.regions.indices.flatMap { r in s.proof.regions[r].trees.indices.flatMap { t in
            s.proof.regions[r].trees[t].slopeLayers.indices.map { (r, t, $0) } } }
        guard let (r, t, l) = pick(layers, &rng) else { return nil }
        var q = s.proof
        var layer = q.regions[r].trees[t].slopeLayers[l]
        let u = rng.uniform(0...1)
        var note: String
        if u < 0.35, let size = s.relus[layer.relu]?.size {
            // The last (largest) index, so that the list stays increasing and the range is the only fault.
            let k = layer.neurons.count - 1
            layer.neurons[k] = UInt32(size + rng.int(0..<3))
            note = "slope neuron index \(layer.neurons[k]) of '\(layer.relu)' (\(size) neurons)"
        } else if u < 0.7 {
            guard layer.neurons.count >= 2 else { return nil }
            let k = rng.int(1..<layer.neurons.count)
            if rng.uniform(0...1) < 0.5 { layer.neurons[k] = layer.neurons[k - 1] } else { layer.neurons.swapAt(k, k - 1) }
            note = "slope neurons of '\(layer.relu)' not strictly increasing at \(k)"
        } else {
            let name = pick(s.otherNames, &rng) ?? "no such layer"
            guard s.relus[name] == nil else { return nil }
            note = "slope layer '\(layer.relu)' renamed to '\(name)'"
            layer.relu = name
        }
        q.regions[r].trees[t].slopeLayers[l] = layer
        return Mutation(kind: "slope layer", bytes: bytes(s, q), mustReject: true, note: note)
    }

    static func countMismatch(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        var options = [(String, (inout UnsatProof) -> Void)]()
        for a in nodes(s.proof) {
            let n = node(s.proof, a)
            let (r, t, i) = (a.region, a.tree, a.node)
            for (k, f) in n.refutations.enumerated() {
                if let slopes = f.slopes {
                    options.append(("a slope byte appended to refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].slopes!.append(128) }))
                    if !slopes.isEmpty {
                        options.append(("a slope byte removed from refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].slopes!.removeLast() }))
                    }
                }
                options.append(("a multiplier appended to refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].betas.append(0) }))
                if !f.betas.isEmpty {
                    options.append(("a multiplier removed from refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].betas.removeLast() }))
                }
                if let dual = f.lpDual {
                    options.append(("an LP dual entry appended to refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].lpDual!.append(0) }))
                    if !dual.isEmpty {
                        options.append(("an LP dual entry removed from refutation \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].refutations[k].lpDual!.removeLast() }))
                    }
                }
            }
            for (k, tightening) in n.tightenings.enumerated() {
                options.append(("a dual entry appended to tightening \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].tightenings[k].dual.append(0) }))
                if !tightening.dual.isEmpty { options.append(("a dual entry removed from tightening \(k) of node \(i)", { $0.regions[r].trees[t].nodes[i].tightenings[k].dual.removeLast() })) }
            }
        }
        guard let (what, change) = pick(options, &rng) else { return nil }
        var q = s.proof
        change(&q)
        return Mutation(kind: "count", bytes: bytes(s, q), mustReject: true, note: what)
    }

    // MARK: - False claims

    /// A tightening that a concrete input of the node's box violates, at a node without ReLU
    /// splits above it (its subdomain is its whole box).
    static func falseTightening(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard let rows = s.lpRows, let (name, relu) = pick(s.relus.sorted { $0.key < $1.key }, &rng) else { return nil }
        let candidates = nodes(s.proof).filter { a in
            let info = s.boxes[a.region][a.tree][a.node]
            return !info.lower.isEmpty && info.reluSplits.isEmpty
        }
        guard let a = pick(candidates, &rng) else { return nil }
        let info = s.boxes[a.region][a.tree][a.node]
        let x = rng.point(info.lower, info.upper)
        guard let values = try? s.evaluator.evaluateAll(x) else { return nil }
        let j = rng.int(0..<relu.size)
        let z = values[relu.pre][j]
        let side: BoundSide = rng.uniform(0...1) < 0.5 ? .lower : .upper
        let gap = 1e-6 * (1 + abs(z)) * rng.logUniform(1, 1e5)
        let value = side == .lower ? z + gap : z - gap
        // A well-formed dual: zeros, or (small networks, root) GLPK's dual of this very bound.
        var dual = [Double](repeating: 0, count: rows)
        var source = "zero dual"
        if s.solveDuals && a.node == 0 && rng.uniform(0...1) < 0.7 {
            let bounds = BoundPropagator(graph: s.network.graph).intermediateBounds(lower: info.lower, upper: info.upper, batch: 1)
            let graph = s.network.graph
            let columns = graph.values.indices.map { v -> (lower: [Double], upper: [Double]) in
                v == graph.input ? (info.lower, info.upper) : (bounds[v]!.lower, bounds[v]!.upper)
            }
            if let lp = try? NetworkLP(network: s.network, bounds: columns),
               let result = try? lp.solveBound(of: relu.pre, neuron: j, side: side == .lower ? .lower : .upper),
               result.duals.count == rows {
                dual = result.duals
                source = "GLPK's dual"
            }
        }
        let tightening = Tightening(layer: name, neuron: UInt32(j), side: side, value: value, dual: dual)
        let q = withNode(s.proof, a) { node in
            node.tightenings.insert(tightening, at: rng.int(0..<(node.tightenings.count + 1)))
        }
        return Mutation(kind: "false tightening", bytes: bytes(s, q), mustReject: true,
                        note: "node \(a.node) claims neuron \(j) of '\(name)' \(side == .lower ? "≥" : "≤") \(value) (\(source)); it is \(z) at \(x)")
    }

    /// The claim replaced by a witness at a random point of a region's box.
    static func satWitness(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard s.witness == nil else { return nil }
        let r = rng.int(0..<s.property.regions.count)
        let region = s.property.regions[r]
        var c = s.original
        let x = rng.uniform(0...1) < 0.5 ? rng.point(region.lower, region.upper) : rng.corner(region.lower, region.upper)
        c.claim = .sat(Witness(region: UInt32(r), clause: UInt32(rng.int(0..<region.clauses.count)), input: x))
        return Mutation(kind: "sat witness", bytes: c.encoded(), mustReject: true,
                        note: "the proof replaced by a witness of a proved property")
    }

    // MARK: - Witnesses

    static func withWitness(_ s: Subject, _ w: Witness) -> [UInt8] {
        var c = s.original
        c.claim = .sat(w)
        return c.encoded()
    }

    /// One coordinate moved outside the region's inner box (the witness must lie inside).
    static func witnessOutside(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness, Int(w.region) < s.property.regions.count else { return nil }
        let region = s.property.regions[Int(w.region)]
        let k = rng.int(0..<w.input.count)
        let width = max(region.innerUpper[k] - region.innerLower[k], 1e-300)
        let gap = width * rng.logUniform(1e-12, 1)
        let value = rng.uniform(0...1) < 0.5 ? region.innerUpper[k] + gap : region.innerLower[k] - gap
        guard value > region.innerUpper[k] || value < region.innerLower[k] else { return nil }
        w.input[k] = value
        return Mutation(kind: "witness outside the box", bytes: withWitness(s, w), mustReject: true,
                        note: "witness coordinate \(k) moved to \(value), outside [\(region.innerLower[k]), \(region.innerUpper[k])]")
    }

    static func witnessNotFinite(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness else { return nil }
        let k = rng.int(0..<w.input.count)
        w.input[k] = [Double.nan, .infinity, -.infinity][rng.int(0..<3)]
        return Mutation(kind: "witness not finite", bytes: withWitness(s, w), mustReject: true, note: "witness coordinate \(k) set to \(w.input[k])")
    }

    static func witnessSize(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness else { return nil }
        if rng.uniform(0...1) < 0.5 { w.input.append(w.input[0]) } else { w.input.removeLast() }
        return Mutation(kind: "witness size", bytes: withWitness(s, w), mustReject: true,
                        note: "a witness of \(w.input.count) numbers for \(s.property.inputCount) inputs")
    }

    static func witnessIndex(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness else { return nil }
        if rng.uniform(0...1) < 0.5 {
            w.region = UInt32(s.property.regions.count + rng.int(0..<3))
        } else {
            w.clause = UInt32(s.property.regions[Int(w.region)].clauses.count + rng.int(0..<3))
        }
        return Mutation(kind: "witness index out of range", bytes: withWitness(s, w), mustReject: true,
                        note: "witness names region \(w.region) clause \(w.clause)")
    }

    /// The witness replaced by a point of the box where the clause certainly fails.
    static func witnessSafe(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness, Int(w.region) < s.property.regions.count else { return nil }
        let region = s.property.regions[Int(w.region)]
        for _ in 0..<16 {
            let t = rng.logUniform(1e-4, 1)
            // Between the witness and a random point of the box (towards it by t), or anywhere.
            let target = rng.point(region.innerLower, region.innerUpper)
            let x = rng.uniform(0...1) < 0.5 ? target : zip(w.input, target).map { $0 + t * ($1 - $0) }
            if s.judgeWitness(region: Int(w.region), clause: Int(w.clause), input: x) == .safe && region.containsInner(x) {
                w.input = x
                return Mutation(kind: "witness moved to a safe point", bytes: withWitness(s, w), mustReject: true,
                                note: "witness moved to a point of the box where clause \(w.clause) fails")
            }
        }
        return nil
    }

    /// The witness's clause changed to one its point does not satisfy.
    static func witnessClause(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard var w = s.witness, Int(w.region) < s.property.regions.count else { return nil }
        let clauses = s.property.regions[Int(w.region)].clauses.count
        let c = rng.int(0..<clauses)
        guard c != Int(w.clause), s.judgeWitness(region: Int(w.region), clause: c, input: w.input) == .safe else { return nil }
        w.clause = UInt32(c)
        return Mutation(kind: "witness clause changed", bytes: withWitness(s, w), mustReject: true,
                        note: "witness moved to clause \(c), which fails at its point")
    }

    /// A proof that the property holds, where the witness shows it does not: one root node
    /// refuting every clause (default or random slopes), or an input bisection of it.
    static func unsatOfFalse(_ s: Subject, _ rng: inout SeededGenerator) -> Mutation? {
        guard s.witness != nil else { return nil }
        var regions = [RegionProof]()
        for region in s.property.regions {
            let refutations = region.clauses.indices.map { c in
                Refutation(clause: UInt32(c), constraint: UInt32(rng.int(0..<max(1, region.clauses[c].constraints.count))))
            }
            var nodes = [ProofNode(refutations: refutations)]
            if rng.uniform(0...1) < 0.5 {
                let d = rng.int(0..<region.lower.count)
                nodes = [ProofNode(branch: Branch(split: .input(dimension: UInt32(d), point: (region.lower[d] + region.upper[d]) / 2), low: 1, high: 2)),
                         ProofNode(refresh: true, refutations: refutations), ProofNode(refresh: true, refutations: refutations)]
            }
            regions.append(RegionProof(trees: [ProofTree(slopeLayers: [], nodes: nodes)]))
        }
        var c = s.original
        c.claim = .unsat(UnsatProof(regions: regions))
        return Mutation(kind: "unsat proof of a false property", bytes: c.encoded(), mustReject: true,
                        note: "the witness replaced by a proof (\(regions[0].trees[0].nodes.count) nodes)")
    }

    // MARK: - Classification of random flips

    /// Whether a decoded mutant must be rejected, by the first field in which it differs from
    /// the original (see ``CertificateMutationTests`` for the rules).
    static func classify(_ s: Subject, _ m: Certificate) -> (mustReject: Bool, field: String) {
        let o = s.original
        if m.model.sha256 != o.model.sha256 { return (true, "model digest") }
        if m.property?.sha256 != o.property?.sha256 { return (true, "property digest") }
        let pathChanged = m.producer != o.producer || m.model.path != o.model.path || m.property?.path != o.property?.path
        if let w = s.witness {
            guard case .sat(let v) = m.claim else { return (true, "claim kind (the property is false)") }
            guard v.input.count == w.input.count else { return (true, "structure (a count changed: the rest is read misaligned)") }
            if v.region != w.region || v.clause != w.clause || v.input != w.input {
                if Int(v.region) >= s.property.regions.count || Int(v.clause) >= s.property.regions[Int(v.region)].clauses.count {
                    return (true, "witness region or clause out of range")
                }
                if v.input.contains(where: { !$0.isFinite }) { return (true, "witness coordinate not finite") }
                if !s.property.regions[Int(v.region)].containsInner(v.input) { return (true, "witness outside the box") }
                switch s.judgeWitness(region: Int(v.region), clause: Int(v.clause), input: v.input) {
                case .safe: return (true, "witness moved to where its clause fails")
                case .counterexample, .ambiguous: return (false, "witness still a counterexample (or within rounding of one)")
                }
            }
            return (false, pathChanged ? "producer or path (ignored by the checker)" : "no change")
        }
        guard case .unsat(let p) = m.claim else { return (true, "claim kind") }
        let q = s.proof
        var harmless: String? = nil
        func maybe(_ what: String) { if harmless == nil { harmless = what } }
        if pathChanged { maybe("producer or path (ignored by the checker)") }
        let structure = (true, "structure (a count or flag changed: the rest is read misaligned)")
        guard p.regions.count == q.regions.count else { return structure }
        for r in p.regions.indices {
            guard p.regions[r].trees.count == q.regions[r].trees.count else { return structure }
            for t in p.regions[r].trees.indices {
                let (a, b) = (p.regions[r].trees[t], q.regions[r].trees[t])
                guard a.slopeLayers.count == b.slopeLayers.count, a.nodes.count == b.nodes.count else { return structure }
                for (x, y) in zip(a.slopeLayers, b.slopeLayers) {
                    if x.relu != y.relu {
                        if s.relus[x.relu] == nil { return (true, "slope layer name (not a ReLU output)") }
                        maybe("slope layer renamed to another ReLU layer")
                    }
                    guard x.neurons.count == y.neurons.count else { return structure }
                    if x.neurons != y.neurons {
                        let size = s.relus[x.relu]?.size ?? 0
                        if x.neurons.contains(where: { Int($0) >= size }) || zip(x.neurons, x.neurons.dropFirst()).contains(where: { $0 >= $1 }) {
                            return (true, "slope neuron index (out of range or out of order)")
                        }
                        maybe("slope neuron changed to another valid one")
                    }
                }
                for i in a.nodes.indices {
                    let (x, y) = (a.nodes[i], b.nodes[i])
                    let info = s.boxes[r][t][i]
                    if x.refresh != y.refresh { maybe("refresh flag") }
                    guard x.tightenings.count == y.tightenings.count, x.refutations.count == y.refutations.count,
                          (x.branch == nil) == (y.branch == nil) else { return structure }
                    for (u, v) in zip(x.tightenings, y.tightenings) {
                        if u.layer != v.layer {
                            if s.relus[u.layer] == nil { return (true, "tightening layer (not a ReLU output)") }
                            maybe("tightening layer changed to another ReLU layer")
                        }
                        if u.neuron != v.neuron {
                            if Int(u.neuron) >= s.relus[u.layer]?.size ?? 0 { return (true, "tightening neuron out of range") }
                            maybe("tightening neuron changed to another valid one")
                        }
                        if u.side != v.side { maybe("tightening side") }
                        if u.value != v.value {
                            if !u.value.isFinite { return (true, "tightening value not finite") }
                            maybe("tightening value (finite)")
                        }
                        guard u.dual.count == v.dual.count else { return structure }
                        if u.dual != v.dual {
                            if u.dual.contains(where: { !$0.isFinite }) { return (true, "tightening dual not finite") }
                            maybe("tightening dual entry (finite)")
                        }
                    }
                    for (u, v) in zip(x.refutations, y.refutations) {
                        let clauses = s.property.regions[r].clauses
                        if u.clause != v.clause {
                            if Int(u.clause) >= clauses.count { return (true, "refutation clause out of range") }
                            if !s.covers(p) { return (true, "refutation moved to another clause, leaving one unrefuted") }
                            maybe("refutation moved to another clause that stays refuted")
                        }
                        if u.constraint != v.constraint {
                            if Int(u.clause) < clauses.count && Int(u.constraint) >= clauses[Int(u.clause)].constraints.count {
                                return (true, "refutation constraint out of range")
                            }
                            maybe("refutation constraint changed to another valid one")
                        }
                        guard (u.slopes == nil) == (v.slopes == nil), u.slopes?.count == v.slopes?.count,
                              u.betas.count == v.betas.count, (u.lpDual == nil) == (v.lpDual == nil),
                              u.lpDual?.count == v.lpDual?.count else { return structure }
                        if u.slopes != v.slopes { maybe("slope byte") }
                        if u.betas != v.betas {
                            if u.betas.contains(where: { !($0.isFinite && $0 >= 0) }) { return (true, "multiplier negative or not finite") }
                            maybe("multiplier (finite, non-negative)")
                        }
                        if u.lpDual != v.lpDual {
                            if u.lpDual!.contains(where: { !$0.isFinite }) { return (true, "LP dual not finite") }
                            maybe("LP dual entry (finite)")
                        }
                    }
                    guard let u = x.branch, let v = y.branch else { continue }
                    if u.low != v.low || u.high != v.high { return (true, "child index") }
                    switch (u.split, v.split) {
                    case let (.input(d1, p1), .input(d2, p2)):
                        if d1 != d2 {
                            if Int(d1) >= s.property.inputCount { return (true, "input split dimension out of range") }
                            maybe("input split dimension changed to another valid one")
                        }
                        if p1 != p2 {
                            let d = Int(d1)
                            if !p1.isFinite || info.lower.isEmpty || d >= info.lower.count || p1 < info.lower[d] || p1 > info.upper[d] {
                                return (true, "input split point outside the node's interval")
                            }
                            maybe("input split point moved inside the node's interval")
                        }
                    case let (.relu(l1, n1), .relu(l2, n2)):
                        if l1 != l2 {
                            if s.relus[l1] == nil { return (true, "ReLU split layer (not a ReLU output)") }
                            maybe("ReLU split layer changed to another ReLU layer")
                        }
                        if n1 != n2 || l1 != l2 {
                            if Int(n1) >= s.relus[l1]?.size ?? 0 { return (true, "ReLU split neuron out of range") }
                            if info.reluSplits.contains(where: { $0.layer == l1 && $0.neuron == Int(n1) }) {
                                return (true, "ReLU split of a neuron already split above")
                            }
                            maybe("ReLU split neuron changed to another valid one")
                        }
                    default:
                        return structure
                    }
                }
            }
        }
        return (false, harmless ?? "no change (an equal number, e.g. −0 for 0)")
    }
}
